"""Output formats. Each renderer is a pure function of the Report; none decides the exit code."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydantic models are costly to import; `preflight --version` must stay cheap
    from filot_preflight.models import Report

Renderer = Callable[..., str]

FORMATS = ("console", "json", "junit", "github", "markdown", "sarif")


def get(name: str) -> Renderer:
    """The renderer for `name` (imported lazily: JUnit needs xml, console needs rich)."""
    if name == "console":
        from filot_preflight.render.console import render
    elif name == "json":
        from filot_preflight.render.json_out import render
    elif name == "junit":
        from filot_preflight.render.junit import render
    elif name == "github":
        from filot_preflight.render.github import render
    elif name == "markdown":
        from filot_preflight.render.markdown import render
    elif name == "sarif":
        from filot_preflight.render.sarif import render
    else:  # bad input from --format: one line, exit 2
        from filot_preflight.errors import UsageError

        raise UsageError(f"--format {name}: unknown format; choose from {', '.join(FORMATS)}")
    return render


def verdict(report: Report) -> str:
    """The one-line answer a person reads first (decided once, in the Report: see verdicts.py)."""
    return report.verdict
