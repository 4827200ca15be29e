"""The run's verdict, computed once: each subsystem's status, the run's scope, the decision and its headline.

Every output (console, JSON, markdown, documents) prints what this module decides, so no two can
disagree. The rules:

- A subsystem is `ready` when everything that applies passed; a skip that does not apply (a Neon-only
  rule on another host; no migration named) is `not applicable` and is no gap; any other skip leaves
  it `partial` (some passed) or `skipped` (nothing ran).
- A release READY needs a complete run: not narrowed by --only/--skip/--offline, no deadline or
  interrupt, no subsystem partial or skipped, nothing failed or errored (or warned, with --strict).
- A narrowed run that found nothing wrong says exactly what it decided ("READY for the selected
  checks: redis; not a release verdict") and is not a READY for production.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from filot_preflight.models import CheckResult, Report

_SEVERITY = {"pass": 0, "waived": 0, "skip": 1, "warn": 2, "fail": 3, "error": 4}  # a waived result counts as passed
# Subsystem statuses that mean "not fully checked": the run cannot vouch for the subsystem.
INCOMPLETE = ("partial", "skipped")
# Causes before consequences: a finding about Redis comes before the GPU worker's that reads through it,
# the values (secrets, aws) before the systems they open. Subsystems not listed (plugins) come after.
SUBSYSTEM_ORDER = ("policy", "source", "plugin", "waivers", "secrets", "aws", "postgres", "redis", "gpu-worker",
                   "r2", "temporal", "buli2", "backend", "code")
DECISIONS = ("ready", "not_ready", "ready_selected", "incomplete", "no_checks", "deadline", "interrupted")


def subsystem_rank(subsystem: str) -> tuple[int, str]:
    """Sort key of a subsystem: SUBSYSTEM_ORDER first, any other after, alphabetically."""
    try:
        return (SUBSYSTEM_ORDER.index(subsystem), "")
    except ValueError:
        return (len(SUBSYSTEM_ORDER), subsystem)


def is_gap(r: CheckResult) -> bool:
    """A skip that leaves something unchecked (a skip that does not apply is no gap)."""
    return r.status == "skip" and not r.not_applicable


def subsystem_status(results: Sequence[CheckResult]) -> str:
    """ready / warn / fail / error / partial / skipped / not applicable / not checked, for one subsystem."""
    if not results:
        return "not checked"
    counted = [r for r in results if not (r.status == "skip" and r.not_applicable)]
    if not counted:
        return "not applicable"
    worst = max(counted, key=lambda r: _SEVERITY[r.status]).status
    if worst == "skip":
        return "partial" if any(r.status in ("pass", "waived") for r in counted) else "skipped"
    return "ready" if worst in ("pass", "waived") else str(worst)


def subsystem_statuses(results: Iterable[CheckResult]) -> dict[str, str]:
    """The status of every subsystem the results mention, sorted by subsystem id."""
    by_sub: dict[str, list[CheckResult]] = {}
    for r in results:
        by_sub.setdefault(r.subsystem, []).append(r)
    return {sid: subsystem_status(rs) for sid, rs in sorted(by_sub.items())}


def narrowed_by(report: Report) -> list[str]:
    """The flags that narrowed the run, as a person would type them."""
    out = [f"--only {' '.join(report.only)}"] if report.only else []
    out += [f"--skip {' '.join(report.skip)}"] if report.skip else []
    out += ["--offline"] if report.offline else []
    return out


def is_narrowed(report: Report) -> bool:
    """Whether some installed checker did not run because of --only/--skip/--offline."""
    if report.checkers_not_run is not None:
        return bool(report.checkers_not_run)
    return bool(narrowed_by(report))  # a report saved before the checkers were recorded


def incomplete_subsystems(report: Report) -> list[str]:
    """Subsystems that produced results but were not fully checked (a real skip)."""
    return [sid for sid, st in report.subsystems.items() if st in INCOMPLETE]


def scope(report: Report) -> dict[str, Any]:
    """What the run covered, for the JSON and the documents."""
    return {
        "complete": not is_narrowed(report) and not report.partial and not report.interrupted,
        "narrowed_by": narrowed_by(report),
        "offline": report.offline,
        "only": list(report.only),
        "skip": list(report.skip),
        "checkers_run": report.checkers_run,
        "checkers_not_run": report.checkers_not_run,
        "incomplete_subsystems": incomplete_subsystems(report),
    }


def decide(report: Report) -> str:
    """One of DECISIONS; exit_code() and every headline follow from it."""
    if report.interrupted:
        return "interrupted"
    if report.partial:
        return "deadline"
    bad = {"fail", "error"} | ({"warn"} if report.strict else set())
    if any(r.status in bad for r in report.results):
        return "not_ready"
    ran = report.checkers_run if report.checkers_run is not None else [r.id for r in report.results]
    if not ran:
        return "no_checks"
    if is_narrowed(report):
        return "ready_selected"
    if incomplete_subsystems(report):
        return "incomplete"
    return "ready"


def counts(report: Report) -> str:
    """'160 pass, 1 warn, 2 skip (2 not applicable)': the non-zero counts, in status order."""
    parts = []
    for status, n in report.summary.items():
        if not n:
            continue
        text = f"{n} {status}"
        if status == "skip":
            na = sum(1 for r in report.results if r.status == "skip" and r.not_applicable)
            text += f" ({na} not applicable)" if na else ""
        parts.append(text)
    return ", ".join(parts)


def _selected(report: Report) -> str:
    if report.checkers_run is not None:
        return ", ".join(report.checkers_run) or "none"
    return ", ".join(sorted({r.subsystem for r in report.results})) or "none"


def headline(report: Report) -> str:
    """The verdict line: what was decided, for what, with the counts."""
    env, n, d = report.environment, counts(report) or "no results", report.decision
    flags = " ".join(narrowed_by(report))
    if d == "interrupted":
        return f"INTERRUPTED: partial report for {env}: {n}"
    if d == "deadline":
        return f"NOT READY: partial report (deadline reached) for {env}: {n}"
    if d == "not_ready":
        s = report.summary
        note = " (--strict: warnings count)" if report.strict and not (s["fail"] or s["error"]) else ""
        if is_narrowed(report):
            note += f" (only the selected checks ran: {_selected(report)})"
        return f"NOT READY for {env}{note}: {n}"
    if d == "no_checks":
        return f"NO VERDICT for {env}: no checks ran{f' ({flags})' if flags else ''}; not a release verdict"
    if d == "ready_selected":
        why = f" ({flags})" if flags else ""
        return f"READY for the selected checks: {_selected(report)}; not a release verdict{why}: {n}"
    if d == "incomplete":
        parts = ", ".join(f"{sid} ({report.subsystems[sid]})" for sid in incomplete_subsystems(report))
        return f"NOT FULLY CHECKED for {env}: nothing failed, but not fully checked: {parts}; " \
               f"not a release verdict: {n}"
    return f"READY for {env}: {n}"
