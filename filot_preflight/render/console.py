"""Console output: a Rich table sorted by severity, the fix under each problem, and a one-line verdict."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from filot_preflight.models import Report, Status
from filot_preflight.render import verdict

_STYLE = {
    Status.PASS: "green",
    Status.WARN: "yellow",
    Status.FAIL: "bold red",
    Status.SKIP: "dim",
    Status.ERROR: "bold magenta",
}


def render(report: Report, *, color: bool = False, width: int = 120, show_pass: bool = False, **_: Any) -> str:
    """The console report as text (with ANSI colours when `color`).

    Passing checks are folded into one line per subsystem unless `show_pass`: a reader needs the
    problems and their fixes, not a hundred green rows.
    """
    buf = io.StringIO()
    con = Console(file=buf, force_terminal=color, no_color=not color, width=width, highlight=False)
    table = Table(show_header=True, header_style="bold", expand=False, pad_edge=False, box=None)
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("target", overflow="fold")
    table.add_column("result", overflow="fold")
    for r in report.sorted_results():
        if r.status is Status.PASS and not show_pass:
            continue
        label = "waived" if r.waiver else r.status.value
        text = Text(r.summary)
        if r.waiver:
            text.append(f"\nwaived: {r.waiver}", style="cyan")
        if r.remediation and r.status in (Status.FAIL, Status.ERROR, Status.WARN):
            text.append(f"\nfix: {r.remediation}", style="italic")
            if r.docs:
                text.append(f" (see {r.docs})", style="dim")
        table.add_row(Text(label, style=_STYLE[r.status]), r.id, r.target, text)
    if table.row_count:
        con.print(table)
        con.print()
    passed = Counter(r.subsystem for r in report.results if r.status is Status.PASS)
    if passed and not show_pass:
        line = ", ".join(f"{k} {n}" for k, n in sorted(passed.items()))
        con.print(Text(f"passed: {line}  (--show-pass lists them)", style="green"))
    style = "bold green" if report.ready else "bold red"
    con.print(Text(verdict(report), style=style))
    return buf.getvalue()
