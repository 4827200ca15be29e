"""Results and the report: the one shape every checker produces and every renderer consumes."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field

from filot_preflight import __version__, verdicts


class Status(StrEnum):
    """Outcome of one check."""

    PASS = "pass"  # noqa: S105 - a status, not a password
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"
    WAIVED = "waived"  # a FAIL or WARN a waiver accepts for now (the original status stays in the evidence)

    @property
    def severity(self) -> int:
        """Higher is worse; used to sort output so the worst comes first."""
        return _SEVERITY[self]


_SEVERITY = {Status.PASS: 0, Status.SKIP: 1, Status.WAIVED: 2, Status.WARN: 3, Status.FAIL: 4, Status.ERROR: 5}

EvidenceValue = str | int | float | bool | None | list[str]


class CheckResult(BaseModel):
    """One finding. `evidence` holds facts (lengths, versions, latencies), never a secret value."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Stable dotted id, e.g. 'redis.tls'; documented in docs/checks/")
    subsystem: str
    status: Status
    target: str = Field(default="", description="What the result is about: a variable, key, file or URL host")
    summary: str
    detail: str = ""
    remediation: str = ""
    evidence: dict[str, EvidenceValue] = Field(default_factory=dict)
    duration_ms: float = 0.0
    waiver: str | None = Field(default=None, description="Reason, when a waiver accepted a failure (status waived)")
    docs: str = Field(default="", description="Where this result id is explained, with its fix")
    not_applicable: bool = Field(
        default=False,
        description="A skip because the check does not apply here (not a Neon host, nothing named to check): "
        "not a gap, so it never makes its subsystem partial",
    )

    def with_updates(self, **changes: Any) -> CheckResult:
        """Copy with some fields changed (results are frozen)."""
        return self.model_copy(update=changes)


class Report(BaseModel):
    """All results of one run, plus what a reader needs to trust them."""

    tool_version: str = __version__
    manifest_name: str = ""
    manifest_version: str = ""
    environment: str = "production"
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    partial: bool = False
    interrupted: bool = False
    strict: bool = False
    offline: bool | None = Field(default=None, description="Whether the run was --offline (None: not recorded)")
    only: list[str] = Field(default_factory=list, description="--only checker names of the run")
    skip: list[str] = Field(default_factory=list, description="--skip checker names of the run")
    checkers_run: list[str] | None = Field(default=None, description="Checkers this run ran (None: not recorded)")
    checkers_not_run: list[str] | None = Field(
        default=None, description="Installed checkers that --only/--skip/--offline left out (None: not recorded)"
    )
    partial_ok: bool = Field(default=False, description="--partial-ok: a narrowed run that found nothing exits 0")
    phase: str = Field(default="predeploy", description="--phase of the run: predeploy, postdeploy or all")
    results: list[CheckResult] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def summary(self) -> dict[str, int]:
        """Counts per status, every status present (zero included) so the shape is stable."""
        counts = {s.value: 0 for s in Status}
        for r in self.results:
            counts[r.status.value] += 1
        return counts

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ready(self) -> bool:
        """True only for a release READY: a complete run where nothing failed, errored or (if strict) warned."""
        return self.decision == "ready"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def scope(self) -> dict[str, Any]:
        """What this run covered: complete, or narrowed (by which flags, which checkers were left out)."""
        return verdicts.scope(self)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def subsystems(self) -> dict[str, str]:
        """Each subsystem's status (ready, warn, fail, error, partial, skipped, not applicable), from its results."""
        return verdicts.subsystem_statuses(self.results)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def decision(self) -> str:
        """ready, not_ready, ready_selected, incomplete, no_checks, deadline or interrupted (see verdicts.py)."""
        return verdicts.decide(self)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def verdict(self) -> str:
        """The one line a person reads first; every output prints this same line."""
        return verdicts.headline(self)

    def sorted_results(self) -> list[CheckResult]:
        """Worst first, then causes before consequences (verdicts.SUBSYSTEM_ORDER), then by id, for a person."""
        return sorted(
            self.results, key=lambda r: (-r.status.severity, verdicts.subsystem_rank(r.subsystem), r.id, r.target)
        )


EXIT_READY = 0
EXIT_NOT_READY = 1
EXIT_INVALID_INPUT = 2
EXIT_INTERRUPTED = 130


def exit_code(report: Report) -> int:
    """The process exit code, computed once from the report; renderers never decide it."""
    if report.interrupted:
        return EXIT_INTERRUPTED
    bad = {Status.FAIL, Status.ERROR} | ({Status.WARN} if report.strict else set())
    if report.partial or any(r.status in bad for r in report.results):
        return EXIT_NOT_READY
    decision = report.decision
    if decision == "ready" or (decision in ("ready_selected", "incomplete") and report.partial_ok):
        return EXIT_READY
    return EXIT_NOT_READY


DOCS_DIR = "docs/checks"


def anchor(heading: str) -> str:
    """GitHub's anchor of a markdown heading (lower case, punctuation dropped)."""
    return "".join(ch for ch in heading.lower().replace(" ", "-") if ch.isalnum() or ch in "-_")


def docs_link(page: str, heading: str) -> str:
    """Where a result id is explained: `docs/checks/<page>.md#<anchor of its ## heading>`."""
    return f"{DOCS_DIR}/{page}.md#{anchor(heading)}"
