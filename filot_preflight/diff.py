"""Compare two saved runs (`preflight check --format json`): what regressed, what got fixed, what is new.

Results are matched on (id, target); a bad result whose (id, target) is gone is then paired by
subsystem and target, so a failure that became a pass under another id (redis.auth -> redis.ping
on REDIS_URL, once the password is right) is "Fixed". Checks of a checker that did not run in the
old run at all (offline -> live) are counted per checker, not listed one by one. "Bad" means
FAIL or ERROR (and WARN with `strict`); a waived result is not bad. A result that is bad now and
was not bad before (or did not exist) is newly failing, which is a regression: `preflight diff`
then exits 1.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from filot_preflight.errors import PreflightError
from filot_preflight.fileio import read_limited
from filot_preflight.models import CheckResult, Report, Status

MAX_RESULTS_BYTES = 32 * 1024 * 1024  # a full FiLot run saves ~100 KB; 300,000 results are ~150 MB

Key = tuple[str, str]


@dataclass(frozen=True)
class Change:
    """One (id, target) whose presence or status differs between the runs."""

    id: str
    target: str
    subsystem: str
    old: str | None
    new: str | None
    summary: str
    remediation: str = ""

    @property
    def label(self) -> str:
        """`id [target]`, as people read it."""
        return f"{self.id} [{self.target}]" if self.target else self.id


@dataclass
class ReportDiff:
    """The changes between an old and a new run, grouped by what they mean for a release."""

    newly_failing: list[Change] = field(default_factory=list)
    fixed: list[Change] = field(default_factory=list)
    new_checks: list[Change] = field(default_factory=list)
    removed_checks: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    old_ready: bool = False
    new_ready: bool = False
    newly_checked: dict[str, int] = field(default_factory=dict)  # checker -> results, when it did not run before

    @property
    def regressed(self) -> bool:
        """Something that was fine (or absent) is now failing."""
        return bool(self.newly_failing)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able shape, stable for CI."""
        groups = ("newly_failing", "fixed", "new_checks", "removed_checks", "changed")
        out: dict[str, Any] = {"regressed": self.regressed, "old_ready": self.old_ready, "new_ready": self.new_ready,
                               "newly_checked": dict(self.newly_checked)}
        out.update({g: [asdict(c) for c in getattr(self, g)] for g in groups})
        return out


def load_saved(path: Path) -> Report:
    """A Report from a `--format json` file; a bad file is a PreflightError (exit 2) naming it."""
    try:
        # Capped: 300,000 saved results took over a minute and 1.6 GB to load; a real run has hundreds.
        data = json.loads(read_limited(path, MAX_RESULTS_BYTES, "results file", PreflightError).decode("utf-8"))
    except OSError as e:
        raise PreflightError(f"{path}: cannot read: {e.strerror or e.__class__.__name__}") from None
    except UnicodeDecodeError:
        raise PreflightError(f"{path}: not valid UTF-8") from None
    except json.JSONDecodeError as e:
        raise PreflightError(f"{path}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
    except (ValueError, RecursionError) as e:  # deep nesting, an int of > 4300 digits
        raise PreflightError(f"{path}: invalid JSON: {' '.join(str(e).split())[:200]}") from None
    if not isinstance(data, dict) or "results" not in data:
        raise PreflightError(f"{path}: not a preflight JSON report (no 'results'); save one with --format json")
    try:
        return Report.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        raise PreflightError(f"{path}: {loc}: {err['msg']}") from None


def _bad(status: Status, strict: bool) -> bool:
    return status in {Status.FAIL, Status.ERROR} or (strict and status is Status.WARN)


def _index(report: Report) -> dict[Key, CheckResult]:
    # The same (id, target) twice in one run: keep the worst, so nothing bad is hidden.
    out: dict[Key, CheckResult] = {}
    for r in report.results:
        k = (r.id, r.target)
        if k not in out or r.status.severity > out[k].status.severity:
            out[k] = r
    return out


def _change(r: CheckResult, old: Status | None, new: Status | None) -> Change:
    return Change(
        r.id, r.target, r.subsystem, old.value if old else None, new.value if new else None,
        r.summary, r.remediation if new is not None else "",
    )


def diff(old: Report, new: Report, *, strict: bool = False) -> ReportDiff:
    """Compare `old` and `new` run results (pure)."""
    a, b = _index(old), _index(new)
    out = ReportDiff(old_ready=old.ready, new_ready=new.ready)
    gone, added = a.keys() - b.keys(), b.keys() - a.keys()
    paired = _pair_fixes(a, b, gone, added, strict, out)
    old_checkers = {k[0].partition(".")[0] for k in a}
    for k in sorted(added):
        r = b[k]
        if _bad(r.status, strict):
            out.newly_failing.append(_change(r, None, r.status))
        if k in paired:
            continue
        checker = r.id.partition(".")[0]
        if checker not in old_checkers and not _bad(r.status, strict):
            out.newly_checked[checker] = out.newly_checked.get(checker, 0) + 1
        else:
            out.new_checks.append(_change(r, None, r.status))
    for k in sorted(gone - paired):
        out.removed_checks.append(_change(a[k], a[k].status, None))
    for k in sorted(a.keys() & b.keys()):
        was, now = a[k].status, b[k].status
        if was == now:
            continue
        c = _change(b[k], was, now)
        if _bad(now, strict) and not _bad(was, strict):
            out.newly_failing.append(c)
        elif _bad(was, strict) and not _bad(now, strict):
            out.fixed.append(c)
        else:
            out.changed.append(c)
    out.newly_failing.sort(key=lambda c: (c.id, c.target))
    return out


def _pair_fixes(
    a: dict[Key, CheckResult], b: dict[Key, CheckResult], gone: set[Key], added: set[Key], strict: bool,
    out: ReportDiff,
) -> set[Key]:
    """Old bad results whose id is gone, fixed when the new run says only good things about (subsystem, target).

    Returns the keys (old and new) used, so they are not listed again as removed or new checks.
    """
    used: set[Key] = set()
    for k in sorted(gone):
        was = a[k]
        if not _bad(was.status, strict) or not was.target:
            continue
        now = [b[n] for n in sorted(b) if b[n].subsystem == was.subsystem and b[n].target == was.target]
        if not now or any(_bad(r.status, strict) for r in now):
            continue
        best = next((r for r in now if r.status is Status.PASS), now[0])
        out.fixed.append(Change(was.id, was.target, was.subsystem, was.status.value, best.status.value,
                                f"now {best.id}: {best.summary}"))
        used.add(k)
        used.update((r.id, r.target) for r in now if (r.id, r.target) in added)
    return used


def format_text(d: ReportDiff, old_label: str = "old", new_label: str = "new") -> str:
    """Plain text for a terminal or a CI log: regressions first, each with its fix."""
    verdict = "REGRESSION" if d.regressed else "no regression"
    ready = f"ready: {_yn(d.old_ready)} -> {_yn(d.new_ready)}"
    lines = [f"preflight diff {old_label} -> {new_label}: {verdict} ({ready})"]
    for title, items in (
        ("Newly failing", d.newly_failing),
        ("Fixed", d.fixed),
        ("New checks", d.new_checks),
        ("Removed checks", d.removed_checks),
        ("Other status changes", d.changed),
    ):
        lines.append(f"\n{title} ({len(items)}):")
        if not items:
            lines.append("  (none)")
        for c in items:
            lines.append(f"  {c.label}: {c.old or '-'} -> {c.new or '-'}  {c.summary}")
            if title == "Newly failing" and c.remediation:
                lines.append(f"      fix: {c.remediation}")
    if d.newly_checked:
        lines.append(f"\nChecked for the first time ({sum(d.newly_checked.values())}, none failing):")
        lines += [f"  {name}: {n} check(s)" for name, n in sorted(d.newly_checked.items())]
    return "\n".join(lines) + "\n"


def format_markdown(d: ReportDiff, old_label: str = "old", new_label: str = "new") -> str:
    """Markdown, e.g. for a pull-request comment or a CI step summary."""
    out = [f"## preflight diff: `{old_label}` → `{new_label}`", ""]
    out.append(f"**{'Regression' if d.regressed else 'No regression'}** — ready: "
               f"{_yn(d.old_ready)} → {_yn(d.new_ready)}")
    for title, items in (("Newly failing", d.newly_failing), ("Fixed", d.fixed), ("New checks", d.new_checks),
                         ("Removed checks", d.removed_checks), ("Other status changes", d.changed)):
        out += ["", f"### {title} ({len(items)})", ""]
        if not items:
            out.append("_none_")
            continue
        out += ["| check | target | old | new | summary |", "|---|---|---|---|---|"]
        out += [f"| `{c.id}` | {_cell(c.target)} | {c.old or '–'} | {c.new or '–'} | {_cell(c.summary)} |"
                for c in items]
    if d.newly_checked:
        out += ["", f"### Checked for the first time ({sum(d.newly_checked.values())}, none failing)", ""]
        out += [f"- `{name}`: {n} check(s)" for name, n in sorted(d.newly_checked.items())]
    return "\n".join(out) + "\n"


def _yn(b: bool) -> str:
    return "yes" if b else "no"


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")
