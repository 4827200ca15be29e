"""SARIF 2.1.0 for code-scanning UIs (GitHub code scanning, IDEs): one result per warn/fail/error.

A result about a place in code (evidence `path`/`file` and `line`) carries a physical location, so it
shows on that line; a grouped "+N more" result is expanded into one SARIF result per location it lists,
so every code finding is there. Other results (a Redis setting, a manifest variable) carry no location.
Levels: fail/error -> "error", warn -> "warning". Validated against the official OASIS schema in
tests/test_render_sarif.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from filot_preflight.models import CheckResult, Report, Status

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_LEVEL = {Status.FAIL: "error", Status.ERROR: "error", Status.WARN: "warning"}
_FILE_LINE = re.compile(r"^(?:[\w.-]+:)?([^\s:][^:]*\.[A-Za-z0-9]+|\.env[\w.]*|[\w./-]*env[\w.]*):(\d+)$")


def _uri(path: str) -> str:
    p = Path(path)
    return p.as_uri() if p.is_absolute() else p.as_posix()


def _location(path: str, line: int | None) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(path)}}
    if isinstance(line, int) and line > 0:
        physical["region"] = {"startLine": line}
    return {"physicalLocation": physical}


def _results(r: CheckResult) -> list[dict[str, Any]]:
    level = _LEVEL[r.status]
    text = r.summary + (f" Fix: {r.remediation}" if r.remediation else "")
    ev = r.evidence
    path = ev.get("path") or ev.get("file")
    base = {"ruleId": r.id, "level": level, "properties": {"target": r.target, "status": r.status.value}}
    if isinstance(path, str) and path:
        line = ev.get("line")
        return [{**base, "message": {"text": text}, "locations": [_location(path, line if isinstance(line, int)
                                                                            else None)]}]
    locs = ev.get("locations")
    if r.target.startswith("+") and isinstance(locs, list):  # a grouped result: one SARIF result per place
        out = []
        for loc in locs:
            m = _FILE_LINE.match(str(loc))
            where = {"locations": [_location(m.group(1), int(m.group(2)))]} if m else {}
            out.append({**base, "message": {"text": f"{r.id} at {loc}. Fix: {r.remediation}"}, **where})
        return out
    return [{**base, "message": {"text": text}}]


def as_dict(report: Report) -> dict[str, Any]:
    """The SARIF log as a dict."""
    flagged = [r for r in report.sorted_results() if r.status in _LEVEL]
    rules: dict[str, dict[str, Any]] = {}
    for r in flagged:
        rules.setdefault(r.id, {
            "id": r.id,
            "shortDescription": {"text": r.id},
            "help": {"text": r.remediation or r.summary},
            **({"helpUri": r.docs} if r.docs.startswith(("http://", "https://")) else {}),
            "properties": {"subsystem": r.subsystem, **({"docs": r.docs} if r.docs else {})},
        })
    results = [res for r in flagged for res in _results(r)]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "filot-preflight", "version": report.tool_version, "rules": list(rules.values()),
            }},
            "results": results,
            "properties": {"environment": report.environment, "ready": report.ready, "partial": report.partial},
        }],
    }


def render(report: Report, **_: Any) -> str:
    """SARIF 2.1.0 JSON."""
    return json.dumps(as_dict(report), indent=2, ensure_ascii=False) + "\n"
