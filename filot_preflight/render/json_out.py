"""JSON output: a documented, stable shape (`preflight schema results` prints its JSON Schema)."""

from __future__ import annotations

import json
from typing import Any

from filot_preflight.models import Report

SCHEMA_VERSION = 1


def as_dict(report: Report) -> dict[str, Any]:
    """The JSON document as a dict: ready, partial, summary, results, and run metadata."""
    data = report.model_dump(mode="json")
    return {"schema_version": SCHEMA_VERSION, **data}


def render(report: Report, **_: Any) -> str:
    """Pretty-printed JSON, results in the order they finished."""
    return json.dumps(as_dict(report), indent=2, ensure_ascii=False) + "\n"
