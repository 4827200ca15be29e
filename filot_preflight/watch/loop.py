"""The watch loop: one run at a time (never overlapping), start to start every `interval` seconds, until
stopped (SIGTERM/SIGINT set the stop event; a run in progress finishes, or ends as a partial report).

Each cycle is `core.execute`, exactly what `preflight check` does, so env files and secrets are re-read
(a rotated value is seen at the next cycle). Only the latest report is kept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from filot_preflight.core import RunRequest
from filot_preflight.errors import PreflightError
from filot_preflight.models import Report
from filot_preflight.redact import Redactor
from filot_preflight.watch.metrics import Snapshot

log = logging.getLogger("filot_preflight")


@dataclass
class Watcher:
    """Runs the request on an interval and keeps the latest snapshot for /metrics and /healthz."""

    request: RunRequest
    redactor: Redactor
    interval: float
    max_runs: int | None = None
    on_run: Callable[[float, float, Report | None], None] | None = None  # (started, finished, report): for tests

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot = Snapshot()
        self.started = time.time()
        self._stop = threading.Event()
        self._in_cycle = False

    def request_stop(self) -> None:
        """Stop soon: a signal handler's job. Outside the checks (reading inputs) the cycle is abandoned at
        once (KeyboardInterrupt, caught by `run`); during the checks the runner's own handler ends them."""
        self._stop.set()
        if self._in_cycle:
            raise KeyboardInterrupt

    def snapshot(self) -> Snapshot:
        """The latest snapshot (thread-safe: the HTTP thread reads it)."""
        with self._lock:
            return self._snapshot

    def health(self) -> tuple[bool, str]:
        """Healthy when a run finished recently (within 3 intervals plus the run's own time)."""
        s = self.snapshot()
        if s.finished_at == 0:
            return False, "no run finished yet"
        age = time.time() - s.finished_at
        limit = 3 * self.interval + s.duration_s + 5
        if age > limit:
            return False, f"last run finished {age:.0f} s ago (limit {limit:.0f} s)"
        if s.last_error:
            return False, f"the last cycle could not run: {s.last_error}"
        return True, f"last run {age:.0f} s ago, {s.runs} runs"

    def run(self, stop: threading.Event | None = None) -> Report | None:
        """Loop until `stop` is set (or `max_runs`); returns the last report. Bad input on the FIRST cycle
        raises (exit 2: a watcher that can never run must not look alive); later it is counted and logged."""
        stop = stop or self._stop
        if stop is not self._stop:  # an outside event stops us too
            self._stop = stop
        next_at = time.monotonic()
        last: Report | None = None
        while not stop.is_set():
            started, t0 = time.time(), time.monotonic()
            try:
                from filot_preflight import core

                self._in_cycle = True
                try:
                    _, report = core.execute(self.request, self.redactor)
                finally:
                    self._in_cycle = False
                error = ""
            except KeyboardInterrupt:  # request_stop while inputs were read: nothing half-done to keep
                break
            except PreflightError as e:
                if self.snapshot().runs == 0 and self.snapshot().failed_runs == 0:
                    raise
                report, error = None, self.redactor.redact(str(e))[:300]
                log.warning("watch: cycle skipped: %s", error)
            took = time.monotonic() - t0
            self._record(report, took, error)
            if self.on_run is not None:
                self.on_run(started, time.time(), report)
            if report is not None:
                last = report
                log.info("watch: run %d: %s in %.1f s", self.snapshot().runs,
                         "READY" if report.ready else "NOT READY", took)
                if report.interrupted:  # SIGTERM/SIGINT during the checks: the runner stopped them
                    break
            if self.max_runs is not None and self.snapshot().runs + self.snapshot().failed_runs >= self.max_runs:
                break
            next_at += self.interval
            now = time.monotonic()
            if now > next_at:  # the run overran: skip the missed ticks rather than run back to back
                missed = int((now - next_at) // self.interval) + 1
                next_at += missed * self.interval
                with self._lock:
                    self._snapshot = replace(self._snapshot, skipped_ticks=self._snapshot.skipped_ticks + missed)
            stop.wait(max(0.0, next_at - time.monotonic()))
        return last

    def _record(self, report: Report | None, took: float, error: str) -> None:
        with self._lock:
            s = self._snapshot
            if report is None:
                self._snapshot = replace(s, failed_runs=s.failed_runs + 1, last_error=error)
            else:
                self._snapshot = replace(s, report=report, finished_at=time.time(), duration_s=took,
                                         runs=s.runs + 1, last_error="")
