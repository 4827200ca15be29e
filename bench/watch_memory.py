"""`preflight watch` over 1,000 cycles: memory stays bounded and /metrics stays valid Prometheus text.

    .venv/bin/python bench/watch_memory.py [--cycles 1000]

Runs the watch loop in-process (offline, `--only env_drift`, interval 1 ms, the manifest as JSON so YAML
parsing does not dominate) with its HTTP server; scrapes /metrics through the run and parses each scrape
with prometheus-client's parser. Goals: Python heap growth between cycle 100 and the last < 1 MB; RSS growth
over the same span < 10 MB; every scrape parses.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import threading
import time
import tracemalloc
import urllib.request
from pathlib import Path

import yaml
from _util import ROOT, Goals
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from filot_preflight.commands.common import make_request
from filot_preflight.redact import Redactor
from filot_preflight.watch.loop import Watcher
from filot_preflight.watch.metrics import SnapshotCollector
from filot_preflight.watch.server import Server, app


def rss_kb() -> int:
    """Current resident set size (Linux /proc), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=1000)
    args = ap.parse_args()
    goals = Goals()
    manifest = Path(tempfile.mkdtemp()) / "filot.json"
    manifest.write_text(json.dumps(yaml.safe_load((ROOT / "manifests" / "filot.yaml").read_text())))
    req = make_request(manifest=manifest, env_file=None, source=None, config=None, only=["env_drift"], offline=True)
    marks: dict[str, tuple[int, int]] = {}
    first = min(100, args.cycles // 2)

    def on_run(_s: float, _f: float, _r: object) -> None:
        n = w.snapshot().runs
        if n in (first, args.cycles):
            marks[str(n)] = (tracemalloc.get_traced_memory()[0], rss_kb())

    w = Watcher(req, Redactor(), 0.001, max_runs=args.cycles, on_run=on_run)
    reg = CollectorRegistry(auto_describe=False)
    reg.register(SnapshotCollector(w.snapshot))
    server = Server("127.0.0.1", 0, app(reg, w.health))
    tracemalloc.start()
    t0 = time.monotonic()
    loop = threading.Thread(target=w.run, daemon=True)
    loop.start()
    scrapes = bad = 0
    while loop.is_alive():
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as resp:  # noqa: S310
            try:
                list(text_string_to_metric_families(resp.read().decode()))
            except ValueError:
                bad += 1
        scrapes += 1
        time.sleep(0.2)
    took = time.monotonic() - t0
    server.close()
    (heap0, rss0), (heap1, rss1) = marks[str(first)], marks[str(args.cycles)]
    print(f"{args.cycles} cycles in {took:.1f} s ({took / args.cycles * 1000:.0f} ms each), {scrapes} scrapes")
    goals.check(f"heap growth from cycle {first} to {args.cycles} < 1 MB", f"{(heap1 - heap0) / 1e6:+.3f} MB",
                heap1 - heap0 < 1_000_000)
    goals.check(f"RSS growth from cycle {first} to {args.cycles} < 10 MB", f"{(rss1 - rss0) / 1024:+.1f} MB",
                rss1 - rss0 < 10 * 1024)
    goals.check("every /metrics scrape parses", f"{bad} of {scrapes} invalid", bad == 0)
    goals.exit()


if __name__ == "__main__":
    main()
