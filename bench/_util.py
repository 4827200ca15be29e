"""Shared helpers of the bench scripts: run `preflight` in a child process, time it, report goals.

Every bench script prints one `goal: ... measured: ... OK|MISSED` line per goal and exits 1 when
any goal was missed, so `make bench` stops on it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PREFLIGHT = str(BIN / "preflight") if (BIN / "preflight").exists() else None
sys.path.insert(0, str(ROOT))


def preflight_argv(*args: str) -> list[str]:
    """argv for the installed `preflight` console script (or `python -m filot_preflight`)."""
    return [PREFLIGHT, *args] if PREFLIGHT else [sys.executable, "-m", "filot_preflight", *args]


@dataclass
class Run:
    """One finished child process."""

    argv: list[str]
    code: int
    stdout: str
    stderr: str
    seconds: float
    maxrss_mb: float  # peak resident memory of this child (ru_maxrss), MB
    cpu_s: float = 0.0  # CPU time of this child (user + system, ru_utime + ru_stime), s
    began: datetime = field(default_factory=lambda: datetime.now(UTC))  # wall clock just before the start
    ended: datetime = field(default_factory=lambda: datetime.now(UTC))  # wall clock just after the exit

    def json(self) -> dict[str, Any]:
        """stdout parsed as JSON (a `--format json` report); {} (and stderr shown) when it is not one."""
        try:
            data = json.loads(self.stdout)
        except ValueError:
            print(f"not a JSON report (exit {self.code}): {self.stderr.strip()[-800:]}")
            return {}
        return data if isinstance(data, dict) else {}

    def phases(self, report: dict[str, Any]) -> str:
        """Where the wall time went: start-up (to started_at), the run, exit (after finished_at)."""
        start, end = report.get("started_at"), report.get("finished_at")
        if not start or not end:
            return "phases unknown"
        s, e = datetime.fromisoformat(start), datetime.fromisoformat(end)
        return (f"start-up {(s - self.began).total_seconds():.2f} s + run {(e - s).total_seconds():.2f} s "
                f"+ exit {(self.ended - e).total_seconds():.2f} s")


def run(argv: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 120.0,
        cwd: Path | None = None) -> Run:
    """Run `argv` to the end; wall time around the whole process, peak memory of exactly this child."""
    began, t0 = datetime.now(UTC), time.perf_counter()
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, cwd=cwd)
    out: dict[str, str] = {}

    def drain(name: str, stream: Any) -> None:
        out[name] = stream.read()

    readers = [threading.Thread(target=drain, args=(n, s), daemon=True)
               for n, s in (("out", proc.stdout), ("err", proc.stderr))]
    for t in readers:
        t.start()
    killer = threading.Timer(timeout, proc.kill)  # a hung child must not hang the bench
    killer.start()
    # wait4 (not Popen.wait) to get the rusage of this one child: its own ru_maxrss, in KB on Linux.
    _, status, usage = os.wait4(proc.pid, 0)
    seconds, ended = time.perf_counter() - t0, datetime.now(UTC)
    killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in readers:
        t.join()
    return Run(list(argv), proc.returncode, out.get("out", ""), out.get("err", ""), seconds,
               usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime, began, ended)


def median_wall(argv: Sequence[str], runs: int = 15, env: dict[str, str] | None = None) -> float:
    """Median wall time of `runs` runs of `argv` (after one warm-up run that fills the OS caches)."""
    run(argv, env=env)
    return statistics.median(run(argv, env=env).seconds for _ in range(runs))


class Goals:
    """Collects goal verdicts; `exit()` ends the script with 1 when any was missed."""

    def __init__(self) -> None:
        self.missed: list[str] = []

    def check(self, goal: str, measured: str, ok: bool) -> bool:
        """Print one verdict line."""
        print(f"goal: {goal}  measured: {measured}  {'OK' if ok else 'MISSED'}", flush=True)
        if not ok:
            self.missed.append(goal)
        return ok

    def exit(self) -> None:
        """Exit 0 when every goal was met, else 1 (naming what was missed)."""
        if self.missed:
            print(f"MISSED {len(self.missed)} goal(s): " + "; ".join(self.missed), flush=True)
            sys.exit(1)
        sys.exit(0)


def checker_times(report: dict[str, Any]) -> dict[str, float]:
    """Each checker's time in ms: the largest duration_ms among its results (ids are `<checker>.<rule>`).

    The runner stamps every result of a checker with the checker's own duration unless the checker
    set a finer one, so the max is the checker's wall time.
    """
    out: dict[str, float] = {}
    for r in report.get("results", []):
        name = r["id"].split(".", 1)[0]
        out[name] = max(out.get(name, 0.0), float(r.get("duration_ms") or 0.0))
    return out


def run_seconds(report: dict[str, Any]) -> float:
    """finished_at - started_at of a JSON report, in seconds."""
    start, end = report.get("started_at"), report.get("finished_at")
    if not start or not end:
        return float("nan")
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
