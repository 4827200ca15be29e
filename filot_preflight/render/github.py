"""GitHub Actions: workflow-command annotations on stdout, plus the markdown report as the step summary."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from filot_preflight.models import Report, Status
from filot_preflight.render import markdown

_LEVEL = {Status.FAIL: "error", Status.ERROR: "error", Status.WARN: "warning"}


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def _where(evidence: dict[str, Any]) -> str:
    """`file=...,line=...,` for a result about a place in code, so the annotation shows on that line of a PR."""
    path, line = evidence.get("path") or evidence.get("file"), evidence.get("line")
    if not isinstance(path, str) or not path:
        return ""
    where = f"file={_escape_prop(path)},"
    return where + (f"line={line}," if isinstance(line, int) and line > 0 else "")


def render(report: Report, **_: Any) -> str:
    """Annotations for warn/fail/error results; the summary file is appended when GITHUB_STEP_SUMMARY is set."""
    lines = []
    for r in report.sorted_results():
        level = _LEVEL.get(r.status)
        if level is None:
            continue
        title = f"{r.id} {r.target}".strip()
        msg = r.summary + (f" — Fix: {r.remediation}" if r.remediation else "")
        msg += f" (more: preflight explain {r.id})" if r.docs else ""
        lines.append(f"::{level} {_where(r.evidence)}title={_escape_prop(title)}::{_escape_data(msg)}")
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        with Path(summary_path).open("a", encoding="utf-8") as f:
            f.write(markdown.render(report))
    return "\n".join(lines) + ("\n" if lines else "")
