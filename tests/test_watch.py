"""`preflight watch`: valid Prometheus text (parsed by prometheus-client's own parser) over a sustained run,
/healthz, never overlapping runs, bounded memory, and a graceful end on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from filot_preflight.checkers.base import result
from filot_preflight.commands.common import make_request
from filot_preflight.models import Report, Status
from filot_preflight.redact import Redactor
from filot_preflight.sandbox.base import free_port
from filot_preflight.watch.loop import Watcher
from filot_preflight.watch.metrics import Snapshot, SnapshotCollector
from filot_preflight.watch.server import Server, app
from tests._cli import run as cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def json_manifest(tmp_path_factory) -> Path:
    """The FiLot manifest as JSON: the same content, parsed ~10x faster than YAML, so 100s of cycles stay quick."""
    p = tmp_path_factory.mktemp("watch") / "filot.json"
    p.write_text(json.dumps(yaml.safe_load((ROOT / "manifests" / "filot.yaml").read_text())))
    return p


def parse(text: str) -> dict[str, list]:
    """Metric family name -> samples, through prometheus-client's parser (raises on invalid text)."""
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback test server
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def request(manifest: Path, only: str = "env_drift"):
    return make_request(manifest=manifest, env_file=None, source=None, config=None, only=[only], offline=True)


def test_metrics_of_a_report():
    rep = Report(results=[
        result("gpu_worker.queue_depth", "gpu-worker", Status.PASS, "3 waiting", target="OCR_QUEUE_KEY (q)",
               evidence={"depth": 3}).with_updates(duration_ms=250.0),
        result("gpu_worker.oldest_job", "gpu-worker", Status.WARN, "old", target="OCR_QUEUE_KEY (q)",
               evidence={"oldest_job_age_s": 1200.5}),
        result("gpu_worker.dead_letter", "gpu-worker", Status.PASS, "0", target="OCR_DEAD_LETTER_KEY (d)",
               evidence={"depth": 0}),
        result("backend.tls_cert", "backend", Status.PASS, "ok", target="https://api", evidence={"days_left": 20.0}),
        result("ecs_taskdefs.image", "aws", Status.PASS, "ok", target="f/c"),
        result("ecs_taskdefs.image", "aws", Status.FAIL, "latest", target="f/c"),  # same id+target: worst kept
    ])
    reg = CollectorRegistry(auto_describe=False)
    reg.register(SnapshotCollector(lambda: Snapshot(rep, finished_at=1_800_000_000.0, duration_s=1.5, runs=7,
                                                    skipped_ticks=2)))
    m = parse(generate_latest(reg).decode())
    value = {(s.name, tuple(sorted(s.labels.items()))): s.value for samples in m.values() for s in samples}
    assert value[("preflight_runs_total", ())] == 7
    assert value[("preflight_skipped_ticks_total", ())] == 2
    assert value[("preflight_last_run_timestamp_seconds", ())] == 1_800_000_000.0
    assert value[("preflight_ready", ())] == 0  # one fail
    assert value[("preflight_queue_depth", (("kind", "queue"), ("queue", "OCR_QUEUE_KEY (q)")))] == 3
    assert value[("preflight_queue_depth", (("kind", "dead_letter"), ("queue", "OCR_DEAD_LETTER_KEY (d)")))] == 0
    assert value[("preflight_oldest_job_age_seconds", (("queue", "OCR_QUEUE_KEY (q)"),))] == 1200.5
    assert value[("preflight_certificate_days_left", (("id", "backend.tls_cert"), ("target", "https://api")))] == 20
    assert value[("preflight_checker_duration_seconds", (("checker", "gpu_worker"),))] == 0.25
    images = [s for s in m["preflight_result_status"] if s.labels["id"] == "ecs_taskdefs.image"]
    assert [s.labels["status"] for s in images] == ["fail"]


def test_sustained_watch_serves_valid_metrics_never_overlaps_and_memory_stays_bounded(json_manifest):
    runs: list[tuple[float, float]] = []
    memory: dict[int, int] = {}
    cycles = 350

    def on_run(started, finished, report):
        runs.append((started, finished))
        if len(runs) in (50, 200, cycles):
            memory[len(runs)] = tracemalloc.get_traced_memory()[0]

    w = Watcher(request(json_manifest), Redactor(), 0.001, max_runs=cycles, on_run=on_run)
    reg = CollectorRegistry(auto_describe=False)
    reg.register(SnapshotCollector(w.snapshot))
    server = Server("127.0.0.1", 0, app(reg, w.health))
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert get(base + "/healthz")[0] == 503  # no run yet
        tracemalloc.start()
        t = threading.Thread(target=w.run, daemon=True)
        t.start()
        scrapes = 0
        while t.is_alive():
            code, text = get(base + "/metrics")
            assert code == 200
            parse(text)  # valid exposition text at any moment of the run
            scrapes += 1
            time.sleep(0.05)
        t.join()
        # tracemalloc counts every thread's allocations, and another fixture's thread may allocate during one
        # window (seen once in the full suite: +3.9 MB); a leak of the loop grows in both windows of 150 runs.
        growth = min(memory[200] - memory[50], memory[cycles] - memory[200])
        tracemalloc.stop()
        code, text = get(base + "/metrics")
        m = parse(text)
        assert m["preflight_runs"][0].value == cycles and scrapes > 1
        assert get(base + "/healthz")[0] == 200
        assert get(base + "/nothing")[0] == 404
    finally:
        server.close()
    assert all(b[0] >= a[1] for a, b in zip(runs, runs[1:], strict=False)), "runs overlapped"
    assert growth < 1_000_000, f"memory grew {growth} bytes in each window of 150 runs: {memory}"


def test_a_run_longer_than_the_interval_skips_ticks_instead_of_piling_up(json_manifest):
    w = Watcher(request(json_manifest, "secrets"), Redactor(), 0.001, max_runs=3)
    w.run()
    assert w.snapshot().runs == 3 and w.snapshot().skipped_ticks >= 1


def test_bad_listen_is_bad_input(capsys):
    code, _, err = cli(capsys, "watch", "--offline", "--listen", "nowhere")
    assert code == 2 and "--listen nowhere: expected HOST:PORT" in err


def test_max_runs_exits_with_the_last_runs_code(capsys, json_manifest):
    code, _, err = cli(capsys, "watch", "--offline", "--only", "env_drift", "-m", str(json_manifest),
                       "--interval", "0.01", "--max-runs", "2", "--listen", "127.0.0.1:0")
    # --only env_drift narrows the run, so it is no release verdict: exit 1, the last run's own code
    assert code == 1 and "serving http://127.0.0.1:" in err


def test_sigterm_ends_the_watch_gracefully(json_manifest):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "filot_preflight", "watch", "--offline", "--only", "secrets",
                             "-m", str(json_manifest), "--interval", "0.2", "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if get(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("watch never became healthy: " + proc.stderr.read1().decode())  # type: ignore[attr-defined]
        parse(get(f"http://127.0.0.1:{port}/metrics")[1])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    with pytest.raises(OSError):
        get(f"http://127.0.0.1:{port}/healthz")


def test_every_cycle_counts_its_deadline_from_its_own_start(json_manifest, monkeypatch):
    """--deadline bounds each cycle: a watcher started long ago (the process's start) must not hand its
    later cycles what is left of the first one (it handed them the 0.1 s minimum)."""
    from filot_preflight import clock, core

    seen: list[float | None] = []
    real = core.run_report

    def recording(*args, **kwargs):
        seen.append(kwargs.get("deadline"))
        return real(*args, **kwargs)

    monkeypatch.setattr(core, "run_report", recording)
    clock.mark(time.monotonic() - 1000)  # the process started long ago; only its first run counts from there
    req = make_request(manifest=json_manifest, env_file=None, source=None, config=None, only=["env_drift"],
                       offline=True, deadline=30)
    w = Watcher(req, Redactor(), 0.001, max_runs=3)
    w.run()
    assert len(seen) == 3
    assert seen[0] == 0.1  # the first run: the process's command, which started 1000 s ago
    assert all(d is not None and d > 20 for d in seen[1:]), seen
