"""Results as the documents show them: one view per result, one verdict per subsystem (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from filot_preflight.documents.catalog import ICONS, LABELS, SUBSYSTEMS, subsystem_info
from filot_preflight.models import CheckResult, Report, Status
from filot_preflight.verdicts import INCOMPLETE, subsystem_rank, subsystem_status


@dataclass(frozen=True)
class CheckerInfo:
    """What the documents need to know about an installed checker (from the registry)."""

    name: str
    subsystem: str
    description: str
    network: bool = True
    needs: tuple[str, ...] = ()
    phase: str = "predeploy"  # Checker.phase: predeploy | postdeploy | any


@dataclass(frozen=True)
class RunInfo:
    """How the run was selected, when known (None: a saved report that does not say)."""

    offline: bool | None = None
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()

    @classmethod
    def from_report(cls, report: Report) -> RunInfo:
        """The selection a report recorded (reports saved before it was recorded say offline=None)."""
        return cls(offline=report.offline, only=tuple(report.only), skip=tuple(report.skip))


@dataclass(frozen=True)
class ResultView:
    """One result, ready to print: a waived result shows as 'waived' and keeps what it was."""

    id: str
    checker: str
    rule: str
    subsystem: str
    target: str
    status: str
    icon: str
    summary: str
    detail: str
    remediation: str
    evidence: tuple[tuple[str, str], ...]
    waiver: str | None
    waived_status: str | None
    raw_status: str

    @property
    def problem(self) -> bool:
        """Something a person must act on (warn, fail, error)."""
        return self.status in ("warn", "fail", "error")


def _ev(v: object) -> str:
    if isinstance(v, list):
        return ", ".join(str(x) for x in v) or "(none)"
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def view_result(r: CheckResult) -> ResultView:
    """The printable view of a result. Evidence keys are sorted so output is stable."""
    waived = r.waiver is not None and r.status in (Status.PASS, Status.WAIVED)  # PASS: saved by an older version
    status = "waived" if waived else "n/a" if r.status is Status.SKIP and r.not_applicable else r.status.value
    evidence = tuple((k, _ev(v)) for k, v in sorted(r.evidence.items()) if k not in ("waived_status",))
    checker, _, rule = r.id.partition(".")
    return ResultView(
        id=r.id, checker=checker, rule=rule, subsystem=r.subsystem, target=r.target, status=status,
        icon=ICONS.get(status, "•"), summary=r.summary, detail=r.detail, remediation=r.remediation,
        evidence=evidence, waiver=r.waiver, waived_status=str(r.evidence.get("waived_status") or "") or None,
        raw_status=r.status.value,
    )


def sort_key(r: CheckResult) -> tuple[int, tuple[int, str], str, str]:
    """Worst first, then causes before consequences (redis before gpu-worker), id and target: every document's order."""
    return (-r.status.severity, subsystem_rank(r.subsystem), r.id, r.target)


@dataclass(frozen=True)
class SubsystemView:
    """A subsystem's verdict with its results; 'not checked' when the run produced none (and why)."""

    id: str
    title: str
    status: str
    icon: str
    label: str
    note: str
    reason: str
    impact: str
    risk: str
    document: str = ""
    results: tuple[ResultView, ...] = ()
    checkers: tuple[CheckerInfo, ...] = field(default_factory=tuple)

    @property
    def problems(self) -> list[ResultView]:
        """Results to act on, worst first."""
        return [r for r in self.results if r.problem]

    @property
    def skipped(self) -> list[ResultView]:
        """Results that were skipped, each with its reason."""
        return [r for r in self.results if r.status == "skip"]

    @property
    def not_applicable(self) -> list[ResultView]:
        """Skips that do not apply here (no gap), each with its reason."""
        return [r for r in self.results if r.status == "n/a"]

    @property
    def passed(self) -> list[ResultView]:
        """Results that passed (waived included)."""
        return [r for r in self.results if r.status in ("pass", "waived")]

    @property
    def checked(self) -> bool:
        """Whether any check of this subsystem ran in this run."""
        return self.status != "not checked"

    @property
    def complete(self) -> bool:
        """Checked with nothing skipped: only then can it be called ready."""
        return self.status not in ("not checked", *INCOMPLETE)

    def count(self, status: str) -> int:
        """How many results have this display status."""
        return sum(1 for r in self.results if r.status == status)


def verdict(results: Sequence[CheckResult]) -> str:
    """A subsystem's status, as the Report computes it (verdicts.subsystem_status): one rule for every output."""
    return subsystem_status(results)


def not_checked_reason(sid: str, report: Report, checkers: Sequence[CheckerInfo], run: RunInfo) -> str:
    """Why a subsystem has no results in this run, as precisely as the run lets us say."""
    mine = [c for c in checkers if c.subsystem == sid]
    names = ", ".join(c.name for c in mine)
    if checkers and not mine:
        return "no checker for this subsystem is installed"
    if run.only and not any(c.name in run.only for c in mine):
        return f"not selected in this run (--only {' '.join(run.only)})"
    if mine and all(c.name in run.skip for c in mine):
        return f"skipped with --skip {names}"
    if run.offline and mine and all(c.network for c in mine):
        return f"the run was --offline and these checks need network access ({names})"
    if run.offline is None:
        net = {c.name for c in checkers if c.network}
        ran = {r.id.partition(".")[0] for r in report.results}
        if ran and net and not ran & net:
            return f"no live check produced results: the run was probably --offline ({names or sid} needs network)"
    if report.partial:
        return "the run was partial (deadline or interrupt) before this subsystem reported"
    return "no results for this subsystem in this run"


def _note(status: str, rs: list[ResultView], reason: str) -> str:
    if status == "not checked":
        return f"not checked in this run: {reason}"
    problems = [r for r in rs if r.problem]
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return problems[0].summary + more
    if status == "skipped":
        return rs[0].summary
    if status == "partial":
        skips = [r for r in rs if r.status == "skip"]
        more = f" (+{len(skips) - 1} more)" if len(skips) > 1 else ""
        return f"partly checked: skipped {skips[0].summary}{more}"
    if status == "not applicable":
        return f"does not apply here: {rs[0].summary}"
    passed = sum(1 for r in rs if r.status in ("pass", "waived"))
    waived = sum(1 for r in rs if r.status == "waived")
    skipped = sum(1 for r in rs if r.status == "skip")
    na = sum(1 for r in rs if r.status == "n/a")
    extra = "".join([f", {waived} waived" if waived else "", f", {skipped} skipped" if skipped else "",
                     f", {na} not applicable" if na else ""])
    return f"{passed} check{'s' if passed != 1 else ''} passed{extra}"


def subsystem_views(
    report: Report, checkers: Sequence[CheckerInfo] = (), run: RunInfo | None = None
) -> list[SubsystemView]:
    """Every known subsystem (checked or not), then any other subsystem the report mentions."""
    run = run or RunInfo()
    ids = [s.id for s in SUBSYSTEMS]
    ids += sorted({r.subsystem for r in report.results} - set(ids))
    out = []
    for sid in ids:
        raw = sorted((r for r in report.results if r.subsystem == sid), key=sort_key)
        views = [view_result(r) for r in raw]
        status = report.subsystems.get(sid, "not checked")
        reason = not_checked_reason(sid, report, checkers, run) if not raw else ""
        info = subsystem_info(sid)
        out.append(SubsystemView(
            id=sid, title=info.title, status=status, icon=ICONS[status], label=LABELS[status],
            note=_note(status, views, reason), reason=reason, impact=info.impact, risk=info.risk,
            document=info.document,
            results=tuple(views), checkers=tuple(c for c in checkers if c.subsystem == sid),
        ))
    return out
