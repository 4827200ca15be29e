"""Console output that fits the terminal: blocking failures first, grouped by subsystem, the verdict last.

No table: at 80 columns a table splits words and links; each result is a heading line (status, id,
target) with its summary, fix and `preflight explain <id>` on their own indented lines, wrapped at
word boundaries by Rich at the terminal's width. Passes (and not-applicable skips) fold into one
line per subsystem unless `show_pass`, so a failing run shows every FAIL within the first screen.
"""

from __future__ import annotations

import io
import os
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.text import Text

from filot_preflight.models import CheckResult, Report, Status
from filot_preflight.verdicts import subsystem_rank

_STYLE = {
    Status.PASS: "green",
    Status.WARN: "yellow",
    Status.FAIL: "bold red",
    Status.SKIP: "dim",
    Status.ERROR: "bold magenta",
    Status.WAIVED: "cyan",
}
_TRAILING = re.compile(r" +((?:\x1b\[[0-9;]*m)*)$", re.M)
_INDENT = 9  # the body lines start under the id, after "  STATUS "
# (heading, statuses shown in it, whether each result shows its fix)
_SECTIONS = (
    ("Blocking", (Status.ERROR, Status.FAIL), True),
    ("Warnings", (Status.WARN,), True),
    ("Waived", (Status.WAIVED,), False),
    ("Not checked", (Status.SKIP,), True),
)


def want_color(stream: Any) -> bool:
    """Colour when `stream` is a terminal, unless NO_COLOR is set; FORCE_COLOR forces it (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def terminal_width() -> int:
    """The terminal's width as Rich detects it (COLUMNS, then the terminal; 80 when there is none)."""
    return Console().width


def _in_order(results: Iterable[CheckResult]) -> list[CheckResult]:
    # causes before consequences: redis before the GPU worker that reads through it
    return sorted(results, key=lambda r: (subsystem_rank(r.subsystem), -r.status.severity, r.id, r.target))


def _result(con: Console, r: CheckResult, with_fix: bool) -> None:
    head = Text("  ")
    head.append(f"{r.status.value.upper():<6}", style=_STYLE[r.status])
    head.append(f" {r.id}", style="bold")
    if r.target:
        head.append(f"  {r.target}")
    con.print(head)
    body = Text(r.summary)
    if r.status is Status.WAIVED:
        was = r.evidence.get("waived_status")
        body.append(f"\nwaived{f' (was {was})' if was else ''}: {r.waiver}", style="cyan")
    if with_fix and r.remediation and r.status is not Status.SKIP:
        body.append(f"\nfix: {r.remediation}", style="italic")
    if r.docs and r.status is not Status.SKIP:
        body.append(f"\nmore: preflight explain {r.id}", style="dim")
    con.print(Padding(body, (0, 0, 0, _INDENT), expand=False))


def _folded(report: Report, show_pass: bool) -> list[Text]:
    lines = []
    passed = Counter(r.subsystem for r in report.results if r.status is Status.PASS)
    if passed and not show_pass:
        parts = ", ".join(f"{k} {n}" for k, n in sorted(passed.items(), key=lambda kv: subsystem_rank(kv[0])))
        lines.append(Text(f"passed: {parts}  (--show-pass lists them)", style="green"))
    na = [r for r in report.results if r.status is Status.SKIP and r.not_applicable]
    if na:
        ids = ", ".join(dict.fromkeys(r.id for r in na))
        lines.append(Text(f"not applicable here (no gap): {ids}", style="dim"))
    return lines


def render(
    report: Report, *, color: bool = False, width: int | None = None, show_pass: bool = False, **_: Any
) -> str:
    """The console report as text (ANSI colours when `color`), wrapped at `width` (default: the terminal's)."""
    buf = io.StringIO()
    con = Console(file=buf, force_terminal=color, no_color=not color, width=width or terminal_width(),
                  highlight=False, emoji=False, color_system="standard" if color else None)
    for title, statuses, with_fix in _SECTIONS:
        items = [r for r in report.results if r.status in statuses and not r.not_applicable]
        if not items:
            continue
        con.print(Text(f"{title} ({len(items)})", style="bold underline"))
        subsystem = None
        for r in _in_order(items):
            if r.subsystem != subsystem:
                subsystem = r.subsystem
                con.print(Text(f"{subsystem}:", style="bold"))
            _result(con, r, with_fix)
        con.print()
    if show_pass:
        shown = [r for r in report.results if r.status is Status.PASS or r.not_applicable]
        if shown:
            con.print(Text(f"Passed ({len(shown)})", style="bold underline"))
            for r in _in_order(shown):
                _result(con, r, False)
            con.print()
    for line in _folded(report, show_pass):
        con.print(line)
    style = "bold green" if report.ready else "bold red" if report.decision in ("not_ready", "deadline",
                                                                                 "interrupted") else "bold yellow"
    con.print(Text(report.verdict, style=style))
    # Rich pads wrapped lines to the width; trailing blanks only make copied text and logs ragged
    return _TRAILING.sub(r"\1", buf.getvalue())
