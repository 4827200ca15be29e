"""Project defaults from `preflight.toml` (top level) or `[tool.preflight]` in pyproject.toml.

Order, highest first: CLI flag > PREFLIGHT_* in the process environment > PREFLIGHT_* in env files
> this file > built-in default. Example:

    manifest = "manifests/filot.yaml"
    env_files = ["prod.env", "gpu-worker=worker.env"]
    sources = ["env", "aws"]
    source_dirs = { backend = "../filot-backend", gpu-worker = "../filot-gpu-worker" }
    task_defs = ["deploy/backend.taskdef.json"]
    timeout = 10
    deadline = 60
    ca_file = "certs/private-ca.pem"
    strict = true

    [[waivers]]   # see waivers.py
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filot_preflight import waivers as waivers_mod
from filot_preflight.errors import PreflightError
from filot_preflight.fileio import read_limited
from filot_preflight.settings import seconds
from filot_preflight.waivers import MAX_CONFIG_BYTES

_KEYS: dict[str, type | tuple[type, ...]] = {
    "manifest": str,
    "env_files": list,
    "sources": list,
    "source_dirs": dict,
    "task_defs": list,
    "timeout": (int, float),
    "deadline": (int, float),
    "ca_file": str,
    "strict": bool,
    "insecure": bool,
    "allow_loopback": bool,
    "allow_plaintext_auth": bool,
    "waivers": list,
}


_PATH_KEYS = {"manifest", "ca_file", "env_files", "source_dirs", "task_defs"}


def _labelled(base: Path, spec: str) -> str:
    from filot_preflight.sources import parse_env_spec

    label, path = parse_env_spec(spec)
    full = str(base / path)
    return f"{label}={full}" if label else full


class ConfigError(PreflightError):
    """preflight.toml / [tool.preflight] is malformed; the message names the file and key."""


@dataclass
class Config:
    """Defaults read from the config file, with the file they came from (paths are relative to it)."""

    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)
    waivers: list[waivers_mod.Waiver] = field(default_factory=list)

    def get(self, key: str, default: Any = None) -> Any:
        """A setting, with relative paths resolved against the config file's folder."""
        v = self.values.get(key, default)
        if self.path is None or key not in _PATH_KEYS:
            return v
        base = self.path.parent
        if isinstance(v, str):
            return str(base / v)
        if key == "env_files" and isinstance(v, list):  # 'SERVICE=PATH' keeps its label
            return [_labelled(base, str(x)) for x in v]
        if isinstance(v, list):
            return [str(base / str(x)) for x in v]
        if isinstance(v, dict):  # source_dirs: a service's value may list several trees
            return {k: [str(base / str(y)) for y in x] if isinstance(x, list) else str(base / str(x))
                    for k, x in v.items()}
        return v

    def as_settings(self) -> dict[str, Any]:
        """The PREFLIGHT_* view used by core.resolve_options (lowest layer)."""
        names = {"timeout": "PREFLIGHT_TIMEOUT", "ca_file": "PREFLIGHT_CA_FILE", "insecure": "PREFLIGHT_INSECURE",
                 "allow_loopback": "PREFLIGHT_ALLOW_LOOPBACK", "allow_plaintext_auth": "PREFLIGHT_ALLOW_PLAINTEXT_AUTH"}
        out: dict[str, Any] = {}
        for key, setting in names.items():
            if key in self.values:
                v = self.get(key)
                out[setting] = Path(v) if key == "ca_file" else v
        return out


def load(path: Path | None = None) -> Config:
    """Read the config file given, or the one found in the current folder; none found = empty Config."""
    p = path if path is not None else waivers_mod.find_config()
    if p is None:
        return Config()
    try:
        data = tomllib.loads(read_limited(p, MAX_CONFIG_BYTES, "config", ConfigError).decode("utf-8"))
    except OSError as e:
        raise ConfigError(f"{p}: cannot read config: {e.strerror or e.__class__.__name__}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as e:  # Recursion: arrays nested deep
        raise ConfigError(f"{p}: invalid TOML: {e}") from None
    prefix = ""
    if p.name == waivers_mod.PYPROJECT:
        data = data.get("tool", {}).get("preflight", {})
        prefix = "tool.preflight."
    for key, value in data.items():
        if key not in _KEYS:
            raise ConfigError(f"{p}: {prefix}{key}: unknown setting; known: {', '.join(sorted(_KEYS))}")
        expected = _KEYS[key]
        # bool is an int in Python; `timeout = true` must not pass as a number
        numeric_bool = isinstance(value, bool) and expected is not bool
        if not isinstance(value, expected) or numeric_bool:
            raise ConfigError(f"{p}: {prefix}{key}: wrong type {type(value).__name__}")
        if key in ("timeout", "deadline"):  # TOML has nan and inf; 1e308 overflows the loop's timers
            seconds(f"{p}: {prefix}{key}", value)
    return Config(p, {k: v for k, v in data.items() if k != "waivers"}, waivers_mod.load(p))
