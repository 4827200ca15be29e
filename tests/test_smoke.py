"""`preflight smoke` against the sandbox stack: the real BullMQ worker, the S3 server with signature checks.

One synthetic OCR job goes the real way (presigned PUT to the bucket, BullMQ `Queue.add`, the worker's
result), then everything it created is gone; a run without a worker fails with the fix and still cleans up;
a run killed mid-way leaves its document and job, and the next run removes them once their expiry passed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from filot_preflight import manifest as manifest_mod
from filot_preflight.sandbox import workers
from filot_preflight.sandbox.stack import Stack

ROOT = Path(__file__).resolve().parents[1]
SMOKE_KEYS = "_preflight/preflight-smoke-"


def _env() -> dict[str, str]:
    names = {v.name for v in manifest_mod.load().variables}
    return {k: v for k, v in os.environ.items() if k not in names and not k.startswith(("AWS_", "PREFLIGHT_"))}


def smoke(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "filot_preflight", "smoke", "--env-file", str(stack.env_file), *args]
    return subprocess.run(argv, capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=120)


class Leftovers:
    """What a smoke run may leave: documents under the smoke marker, BullMQ keys of smoke jobs."""

    def __init__(self, stack: Stack) -> None:
        import boto3

        env = stack.env()
        self.bucket = env["CF_R2_BUCKET"]
        self.s3 = boto3.client("s3", endpoint_url=env["CF_R2_ENDPOINT"], region_name="auto",
                               aws_access_key_id=env["CF_R2_ACCESS_KEY_ID"],
                               aws_secret_access_key=env["CF_R2_SECRET_ACCESS_KEY"], verify=str(stack.ca_file))
        self.redis = redis.Redis.from_url(env["REDIS_URL"], ssl_ca_certs=env["REDIS_TLS_CA_FILE"])
        self.base = f"{manifest_mod.load().checks.queue.prefix}:{env['OCR_QUEUE_KEY']}"
        self.secrets = [env["CF_R2_SECRET_ACCESS_KEY"], env["REDIS_URL"].split("@")[0].rsplit(":", 1)[1]]

    def documents(self) -> list[str]:
        resp = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=SMOKE_KEYS)
        return [o["Key"] for o in resp.get("Contents", [])]

    def jobs(self) -> list[str]:
        keys = [k.decode() for k in self.redis.scan_iter(match=f"{self.base}:preflight-smoke-*", count=1000)]
        state_sets = ("wait", "active", "completed", "failed", "prioritized", "delayed")
        members = [m.decode() for s in state_sets for m in self._members(f"{self.base}:{s}")]
        return sorted(keys) + sorted(m for m in members if m.startswith("preflight-smoke-"))

    def _members(self, key: str) -> list[bytes]:
        kind = self.redis.type(key).decode()
        return list(self.redis.lrange(key, 0, -1)) if kind == "list" else \
            [m for m, _ in self.redis.zrange(key, 0, -1, withscores=True)] if kind == "zset" else []


@pytest.fixture(scope="module")
def left(sandbox_stack: Stack) -> Iterator[Leftovers]:
    lo = Leftovers(sandbox_stack)
    yield lo
    lo.redis.close()


@pytest.fixture
def no_worker(sandbox_stack: Stack) -> Iterator[None]:
    """The GPU worker stops taking jobs (BullMQ's local pause) for the test."""
    worker = sandbox_stack.handles["gpu-worker"]
    workers.pause_gpu_worker(worker)
    try:
        yield
    finally:
        workers.resume_gpu_worker(worker)


def steps(proc: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in json.loads(proc.stdout)["steps"]}


def test_one_job_end_to_end_and_nothing_left(sandbox_stack: Stack, left: Leftovers) -> None:
    proc = smoke(sandbox_stack, "--allow-loopback", "--format", "json", "--wait", "60")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = steps(proc)
    assert list(got) == ["inputs", "sweep", "upload", "enqueue", "result", "cleanup"]
    assert {s["status"] for s in got.values()} == {"pass"}
    assert got["result"]["evidence"]["state"] == "completed" and '"pages": 1' in got["result"]["summary"]
    assert all(s["seconds"] is not None for n, s in got.items() if n != "inputs")  # each step's latency
    assert left.documents() == [] and left.jobs() == []
    for secret in left.secrets:
        assert secret not in proc.stdout + proc.stderr


def test_without_a_worker_the_result_fails_with_the_fix_and_cleanup_still_runs(
    sandbox_stack: Stack, left: Leftovers, no_worker: None
) -> None:
    proc = smoke(sandbox_stack, "--allow-loopback", "--format", "json", "--wait", "1")
    assert proc.returncode == 1
    got = steps(proc)
    result = got["result"]
    assert result["status"] == "fail" and result["evidence"]["state"] == "waiting"
    assert "gpu_worker" in result["remediation"]
    assert got["cleanup"]["status"] == "pass"
    assert left.documents() == [] and left.jobs() == []


def test_a_killed_run_is_swept_by_the_next_once_expired(
    sandbox_stack: Stack, left: Leftovers, no_worker: None
) -> None:
    argv = [sys.executable, "-m", "filot_preflight", "smoke", "--env-file", str(sandbox_stack.env_file),
            "--allow-loopback", "--wait", "2", "--timeout", "2"]  # expires in 2 + 8 x 2 + 5 s (room for load)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=ROOT)
    assert proc.stdout is not None
    try:
        for line in proc.stdout:  # the console prints each step as it ends
            if line.startswith("PASS  enqueue"):
                break
        else:
            pytest.fail(f"the run never enqueued: {proc.stderr.read() if proc.stderr else ''}")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    expiry = int(re.search(r"preflight-smoke-(\d+)-", line).group(1))  # type: ignore[union-attr]
    assert len(left.documents()) == 1 and left.jobs(), "the killed run left nothing to clean up"
    early = smoke(sandbox_stack, "--allow-loopback", "--format", "json", "--wait", "0.5")
    assert steps(early)["sweep"]["evidence"]["jobs_removed"] == 0  # not expired: maybe still running
    assert len(left.documents()) == 1
    time.sleep(max(0.0, expiry - time.time() + 1))
    late = smoke(sandbox_stack, "--allow-loopback", "--format", "json", "--wait", "0.5")
    sweep = steps(late)["sweep"]
    assert (sweep["evidence"]["documents_removed"], sweep["evidence"]["jobs_removed"]) == (1, 1)
    assert left.documents() == [] and left.jobs() == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_still_cleans_up_and_exits_130(
    sandbox_stack: Stack, left: Leftovers, no_worker: None, sig: signal.Signals
) -> None:
    argv = [sys.executable, "-m", "filot_preflight", "smoke", "--env-file", str(sandbox_stack.env_file), "--wait", "30"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=ROOT)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:  # waiting for the worker's result now (the worker is paused)
        seen.append(line)
        if line.startswith("PASS  enqueue"):
            break
    proc.send_signal(sig)
    rest, err = proc.communicate(timeout=60)
    out = "".join(seen) + rest
    assert proc.returncode == 130, out + err
    assert "PASS  cleanup" in out and "interrupted (cleaned up)" in out
    assert left.documents() == [] and left.jobs() == []


def test_loopback_endpoints_are_refused_without_the_flag(sandbox_stack: Stack, left: Leftovers) -> None:
    proc = smoke(sandbox_stack, "--no-allow-loopback", "--format", "json")  # sandbox.env allows it
    assert proc.returncode == 1
    got = steps(proc)
    assert got["inputs"]["status"] == "fail" and "loopback" in got["inputs"]["summary"]
    assert {got[n]["status"] for n in ("sweep", "upload", "enqueue", "result", "cleanup")} == {"skip"}
    assert left.documents() == [] and left.jobs() == []


def test_bad_flags_are_one_line_and_exit_2(sandbox_stack: Stack) -> None:
    proc = smoke(sandbox_stack, "--format", "xml")
    assert proc.returncode == 2
    assert "--format xml" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
