"""Tool settings (not the system's variables), highest first.

flag > PREFLIGHT_* in the process env > PREFLIGHT_* in env files > config file > default.

Typer already reads PREFLIGHT_* from the process environment for each flag; this module adds the
lower layers so that `preflight check --env-file .sandbox/sandbox.env` needs no other flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from filot_preflight.errors import UsageError

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def as_bool(name: str, raw: str) -> bool:
    """Parse a boolean setting; anything else is bad input naming the setting."""
    v = raw.strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise UsageError(f"{name}: expected true/false, got {raw!r}")


def as_float(name: str, raw: str) -> float:
    """Parse a positive number of seconds."""
    try:
        f = float(raw)
    except ValueError:
        raise UsageError(f"{name}: expected a number of seconds, got {raw!r}") from None
    if f <= 0:
        raise UsageError(f"{name}: must be greater than 0, got {raw!r}")
    return f


def pick(
    flag: Any, name: str, layers: list[Mapping[str, Any]], default: Any, kind: str = "str"
) -> Any:
    """First non-None of: the flag, then `name` in each layer (highest first), then the default."""
    if flag is not None:
        return flag
    for layer in layers:
        if name in layer and layer[name] is not None:
            raw = layer[name]
            if not isinstance(raw, str):
                return raw
            if kind == "bool":
                return as_bool(name, raw)
            if kind == "float":
                return as_float(name, raw)
            if kind == "path":
                return Path(raw)
            return raw
    return default
