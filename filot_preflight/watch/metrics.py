"""The latest run as Prometheus metrics: built from one snapshot at each scrape, so series of results that
disappeared go away with them and memory does not grow with the number of runs.

Metrics: per-result status, per-checker duration, OCR queue depth and oldest job age, certificate days
left, last run time and duration, readiness, and counters of runs, failed runs and skipped ticks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from filot_preflight.models import CheckResult, Report, exit_code

NS = "preflight"
_QUEUE_IDS = {"gpu_worker.queue_depth": "queue", "gpu_worker.dead_letter": "dead_letter"}


@dataclass(frozen=True)
class Snapshot:
    """What the watcher knows after its last cycle."""

    report: Report | None = None
    finished_at: float = 0.0  # epoch seconds of the last finished run (0: none yet)
    duration_s: float = 0.0
    runs: int = 0
    failed_runs: int = 0  # cycles that could not run at all (e.g. an env file became invalid)
    skipped_ticks: int = 0  # ticks missed because a run took longer than the interval
    last_error: str = ""


class SnapshotCollector(Collector):
    """A prometheus-client collector reading the current snapshot at each scrape."""

    def __init__(self, current: Callable[[], Snapshot], redact: Callable[[str], str] = str) -> None:
        self._current = current
        self._redact = redact

    def collect(self) -> Iterator[Metric]:
        """Every metric family of the current snapshot."""
        yield from families(self._current(), self._redact)


def families(s: Snapshot, redact: Callable[[str], str] = str) -> list[Metric]:
    """The metric families of one snapshot (pure)."""
    runs = CounterMetricFamily(f"{NS}_runs", "Runs of the checks since the watcher started")
    runs.add_metric([], s.runs)
    failed = CounterMetricFamily(f"{NS}_run_errors", "Cycles that could not run (bad input); see the log")
    failed.add_metric([], s.failed_runs)
    skipped = CounterMetricFamily(f"{NS}_skipped_ticks", "Ticks skipped because the previous run was still going")
    skipped.add_metric([], s.skipped_ticks)
    last = GaugeMetricFamily(f"{NS}_last_run_timestamp_seconds", "When the last run finished (unix time)")
    last.add_metric([], s.finished_at)
    took = GaugeMetricFamily(f"{NS}_last_run_duration_seconds", "How long the last run took")
    took.add_metric([], s.duration_s)
    out: list[Metric] = [runs, failed, skipped, last, took]
    if s.report is not None:
        out += _report_families(s.report, redact)
    return out


def _report_families(report: Report, redact: Callable[[str], str]) -> list[Metric]:
    ready = GaugeMetricFamily(f"{NS}_ready", "1 when the last run said READY (exit code 0)")
    ready.add_metric([], 1.0 if exit_code(report) == 0 else 0.0)
    counts = GaugeMetricFamily(f"{NS}_results", "Results of the last run per status", labels=["status"])
    for name, n in report.summary.items():
        counts.add_metric([name], n)
    status = GaugeMetricFamily(f"{NS}_result_status", "1 per result of the last run, its status as a label",
                               labels=["id", "target", "subsystem", "status"])
    for r in _unique(report.results):
        status.add_metric([r.id, redact(r.target), r.subsystem, r.status.value], 1.0)
    durations = GaugeMetricFamily(f"{NS}_checker_duration_seconds", "How long each checker took in the last run",
                                  labels=["checker"])
    per_checker: dict[str, float] = {}
    for r in report.results:
        name = r.id.partition(".")[0]
        per_checker[name] = max(per_checker.get(name, 0.0), r.duration_ms / 1000)
    for name, secs in sorted(per_checker.items()):
        durations.add_metric([name], secs)
    depth = GaugeMetricFamily(f"{NS}_queue_depth", "Jobs waiting in the OCR queue (and dead letters)",
                              labels=["queue", "kind"])
    oldest = GaugeMetricFamily(f"{NS}_oldest_job_age_seconds", "Age of the oldest waiting OCR job (0: empty)",
                               labels=["queue"])
    certs = GaugeMetricFamily(f"{NS}_certificate_days_left", "Days until a certificate the checks saw expires",
                              labels=["id", "target"])
    for r in report.results:
        ev = r.evidence
        if r.id in _QUEUE_IDS and _number(ev.get("depth")) is not None:
            depth.add_metric([redact(r.target), _QUEUE_IDS[r.id]], _number(ev.get("depth")) or 0.0)
        if r.id == "gpu_worker.oldest_job" and "oldest_job_age_s" in ev:
            oldest.add_metric([redact(r.target)], _number(ev.get("oldest_job_age_s")) or 0.0)
        days = _number(ev.get("days_left"))
        if days is not None:
            certs.add_metric([r.id, redact(r.target)], days)
    return [ready, counts, status, durations, depth, oldest, certs]


def _unique(results: list[CheckResult]) -> list[CheckResult]:
    """One result per (id, target): the worst. Duplicate series would make a scrape invalid."""
    best: dict[tuple[str, str], CheckResult] = {}
    for r in results:
        key = (r.id, r.target)
        if key not in best or r.status.severity > best[key].status.severity:
            best[key] = r
    return list(best.values())


def _number(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
