"""ECS task-definition files as input (`--task-def`): read, bounded and validated; bad input is exit 2.

Shared by the ecs_taskdefs and ecs_services checkers and by core (which validates the files before any probe).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from filot_preflight.errors import PreflightError
from filot_preflight.fileio import read_limited

MAX_FILE_BYTES = 2 * 1024 * 1024


class TaskDefFileError(PreflightError):
    """A --task-def file is unreadable, not JSON, or not a task definition. Names the file and line."""


def load_files(paths: tuple[Path, ...] | list[Path]) -> list[tuple[str, dict[str, Any]]]:
    """Read task-definition JSON files (register input, describe output, or a list); raise on bad input."""
    out: list[tuple[str, dict[str, Any]]] = []
    for p in paths:
        try:
            text = read_limited(p, MAX_FILE_BYTES, "task definition file", TaskDefFileError).decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise TaskDefFileError(f"{p}: cannot read task definition: {e.__class__.__name__}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise TaskDefFileError(f"{p}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
        except (ValueError, RecursionError) as e:  # deep nesting, an int of > 4300 digits
            raise TaskDefFileError(f"{p}: invalid JSON: {' '.join(str(e).split())[:200]}") from None
        items = data if isinstance(data, list) else [data]
        for i, item in enumerate(items):
            td = item.get("taskDefinition", item) if isinstance(item, dict) else None
            if not isinstance(td, dict) or not isinstance(td.get("containerDefinitions"), list):
                where = f"[{i}]" if isinstance(data, list) else ""
                raise TaskDefFileError(f"{p}{where}: not an ECS task definition (no containerDefinitions list)")
            out.append((str(p), td))
    return out
