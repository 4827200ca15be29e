"""Checklist items decided by results (pure). Templates call `item(text, *ids)` and `manual(text, why)`.

An item is ticked only when results decide it: at least one matching result ran, none of them
warns, fails or errors, and none was skipped (a waived result counts as passed and says so). Otherwise the box stays
open and says why: the finding and its fix, the skip reason, or that the subsystem was not checked
in this run. Patterns are result ids, with `*` wildcards (`ecs_taskdefs.*`), optionally narrowed to
targets after an `@` (`ecs_services.*@filot-backend`, `autoscaling.*@*/filot-backend`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from filot_preflight.documents.results import CheckerInfo, SubsystemView, sort_key
from filot_preflight.documents.variables import VariableView
from filot_preflight.models import CheckResult, Report, Status

_PROBLEM = {Status.WARN, Status.FAIL, Status.ERROR}
_BROKEN = ("crashed", "timeout", "unfinished")  # the runner's ids for a checker that did not finish


@dataclass(frozen=True)
class Decision:
    """Whether results tick an item, and the reason shown beside it."""

    done: bool
    reason: str

    @property
    def box(self) -> str:
        """The markdown checkbox."""
        return "[x]" if self.done else "[ ]"


def _matches(r: CheckResult, pattern: str) -> bool:
    ids, at, targets = pattern.partition("@")
    return fnmatchcase(r.id, ids) and (not at or fnmatchcase(r.target, targets))


class Checklist:
    """Decides checklist items from one report."""

    def __init__(
        self, report: Report, subsystems: Mapping[str, SubsystemView], checkers: Sequence[CheckerInfo] = ()
    ) -> None:
        self._results = sorted(report.results, key=sort_key)
        self._subsystems = subsystems
        self._checker_subsystem = {c.name: c.subsystem for c in checkers}
        self._checker_phase = {c.name: c.phase for c in checkers}
        self._run_phase = report.phase

    def matching(self, *patterns: str) -> list[CheckResult]:
        """Results whose id matches any pattern, worst first."""
        return [r for r in self._results if any(_matches(r, p) for p in patterns)]

    def decide(self, *patterns: str) -> Decision:
        """Tick when matching results ran and all passed; otherwise say why the box stays open."""
        found = self.matching(*patterns)
        ran = [r for r in found if r.status is not Status.SKIP]
        if not ran:
            if found:
                return Decision(False, f"skipped: {found[0].summary}")
            return Decision(False, self._why_absent(patterns))
        problems = [r for r in ran if r.status in _PROBLEM]
        if problems:
            worst = problems[0]
            fix = f" Fix: {worst.remediation}" if worst.remediation else ""
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            return Decision(False, f"{worst.status.value} `{worst.id}`: {worst.summary}{more}.{fix}")
        ids = ", ".join(dict.fromkeys(f"`{r.id}`" for r in ran))
        skipped = [r for r in found if r.status is Status.SKIP]
        if skipped:  # part of it was not checked: ticking it would claim more than the run showed
            more = f" (+{len(skipped) - 1} more)" if len(skipped) > 1 else ""
            return Decision(False, f"partly checked: skipped `{skipped[0].id}`: {skipped[0].summary}{more}; "
                                   f"passed: {ids}")
        waived = [r for r in ran if r.waiver]
        note = f" (waived: {waived[0].waiver})" if waived else ""
        return Decision(True, f"passed: {ids}{note}")

    def _why_absent(self, patterns: Sequence[str]) -> str:
        checkers = list(dict.fromkeys(p.partition(".")[0] for p in patterns))
        broken = [r for r in self._results if r.id in {f"{c}.{w}" for c in checkers for w in _BROKEN}]
        if broken:  # the checker crashed, timed out or was cut off: nothing it would have said is known
            return f"the `{broken[0].id.partition('.')[0]}` check did not finish: {broken[0].summary}"
        if self._run_phase == "predeploy" and checkers and all(
                self._checker_phase.get(c) == "postdeploy" for c in checkers):
            return ("post-deployment check, not part of this predeploy run: after the rollout run "
                    "`preflight check --phase postdeploy`")
        subs = []
        for p in patterns:
            checker = p.partition(".")[0]
            sid = self._checker_subsystem.get(checker) or checker.replace("_", "-")
            if sid in self._subsystems and sid not in subs:
                subs.append(sid)
        unchecked = [self._subsystems[s] for s in subs if not self._subsystems[s].checked]
        if unchecked:
            return f"not checked in this run: {unchecked[0].reason}"
        return f"no result decides this in this run (looked for {', '.join(f'`{p}`' for p in patterns)})"

    def item(self, text: str, *patterns: str) -> str:
        """A markdown checklist line: `- [x] text — reason`."""
        d = self.decide(*patterns)
        return f"- {d.box} {text} — {d.reason}"

    @staticmethod
    def manual(text: str, why: str) -> str:
        """An item no result can decide: always open, with the reason."""
        return f"- [ ] {text} — manual: {why}"

    @staticmethod
    def secret(v: VariableView) -> str:
        """A 'secret exists' item, ticked from the variable's status."""
        where = f" at `{v.aws_path}`" if v.aws_path else ""
        if v.status == "existing":
            note = f" ({'; '.join(v.reasons)})" if v.reasons else ""
            return f"- [x] `{v.name}` is set{where}{note}"
        if v.status == "not checked":
            return f"- [ ] `{v.name}`{where} — not checked in this run"
        reasons = "; ".join(v.reasons)
        todo = f" Get it: {v.how_to_get}." if v.status == "missing" else ""
        fix = f" Fix: {v.fixes[0]}" if v.fixes and v.status != "missing" else ""
        return f"- [ ] `{v.name}`{where} — {v.status}: {reasons}.{todo}{fix}"
