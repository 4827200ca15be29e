"""`preflight render`: show a saved run in another format, without running the checks again."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from filot_preflight import render as render_mod
from filot_preflight.commands.common import PartialOkOpt, write_output


def render(
    results: Annotated[Path, typer.Argument(help="A saved run: `preflight check --save results.json`.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help=f"Output format: {', '.join(render_mod.FORMATS)}.")
    ] = "console",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
    show_pass: Annotated[bool, typer.Option("--show-pass", help="Console: list passing checks too.")] = False,
    partial_ok: PartialOkOpt = False,
) -> None:
    """Render a saved JSON result as console, json, junit, github or markdown; exit code as the run's."""
    from filot_preflight.diff import load_saved
    from filot_preflight.models import exit_code

    renderer = render_mod.get(fmt)
    report = load_saved(results)
    if partial_ok:
        report = report.model_copy(update={"partial_ok": True})
    from filot_preflight.render.console import want_color

    color = fmt == "console" and output is None and want_color(sys.stdout)
    write_output(renderer(report, show_pass=show_pass, color=color), output)
    raise typer.Exit(exit_code(report))
