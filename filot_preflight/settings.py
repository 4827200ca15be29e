"""Tool settings (not the system's variables), highest first.

flag > PREFLIGHT_* in the process env > PREFLIGHT_* in env files > config file > default.

Typer already reads PREFLIGHT_* from the process environment for each flag; this module adds the
lower layers so that `preflight check --env-file .sandbox/sandbox.env` needs no other flag.
"""

from __future__ import annotations

import math
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


MAX_SECONDS = 86400.0  # a day: beyond that a timeout or deadline is a typo (1e308 overflowed the loop's timers)


def as_float(name: str, raw: str) -> float:
    """Parse a positive number of seconds."""
    try:
        f = float(raw)
    except ValueError:
        raise UsageError(f"{name}: expected a number of seconds, got {raw!r}") from None
    return seconds(name, f)


def seconds(name: str, value: object) -> float:
    """`value` if it is a finite number of seconds in (0, MAX_SECONDS], else a UsageError naming `name`.

    nan passes every `<=` test (so `min=0.1` let it through) and inf or 1e308 overflow the event loop's
    timers: each is refused here, wherever the setting came from (flag, env, env file, config).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{name}: expected a number of seconds, got {value!r}")
    if math.isnan(value) or value <= 0 or value > MAX_SECONDS:
        raise UsageError(f"{name}: must be a number of seconds greater than 0 and at most {MAX_SECONDS:g}, "
                         f"got {value!r}")
    return float(value)


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
                return seconds(name, raw) if kind == "float" else raw
            if kind == "bool":
                return as_bool(name, raw)
            if kind == "float":
                return as_float(name, raw)
            if kind == "path":
                return Path(raw)
            return raw
    return default
