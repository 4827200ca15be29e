"""Where values come from: the process environment, dotenv files (optionally per service), AWS Secrets Manager.

Precedence, lowest to highest (a later source overrides an earlier one for the same service):
  1. the process environment (only variables the manifest declares, plus PREFLIGHT_* settings)
  2. env files, in the order given on the command line
  3. AWS Secrets Manager (`--source aws`)
A file labelled with a service (`gpu-worker=worker.env`) holds values for that service only; an
unlabelled file applies to every service, and a service-labelled value wins over an unlabelled one.
Every value is a SecretStr from the moment it is read and remembers where it came from.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv.parser import parse_stream
from pydantic import SecretStr

from filot_preflight.errors import EnvFileError, UsageError
from filot_preflight.fileio import read_limited
from filot_preflight.manifest import Manifest

MAX_ENV_FILE_BYTES = 5 * 1024 * 1024
SETTINGS_PREFIX = "PREFLIGHT_"


@dataclass(frozen=True)
class Value:
    """One value with its provenance. `origin` is e.g. 'prod.env:12', 'environment', 'aws:filot/prod/r2#key'."""

    name: str
    value: SecretStr
    source: str
    origin: str
    service: str | None = None

    def __repr__(self) -> str:  # never the value, even in a debugger or traceback
        return f"Value({self.name!r}, source={self.source!r}, origin={self.origin!r}, service={self.service!r})"


@dataclass
class ValueStore:
    """All values read, in precedence order (later wins). Lookups are per service."""

    values: list[Value] = field(default_factory=list)
    # (name, service) -> the last value, kept up to date with `values` (which only grows). A scan of
    # every value per lookup made a 20,000-line env file take 49 s (lookups x values).
    _index: dict[tuple[str, str | None], Value] = field(default_factory=dict, init=False, repr=False, compare=False)
    _indexed: int = field(default=0, init=False, repr=False, compare=False)

    def add(self, items: Iterable[Value]) -> None:
        """Append values; they override earlier ones with the same name and service."""
        self.values.extend(items)

    def _lookup(self) -> dict[tuple[str, str | None], Value]:
        if self._indexed > len(self.values):  # the list was replaced or shortened: start over
            self._index, self._indexed = {}, 0
        for v in self.values[self._indexed :]:
            self._index[(v.name, v.service)] = v
        self._indexed = len(self.values)
        return self._index

    def get(self, name: str, service: str = "backend") -> Value | None:
        """The value of `name` as `service` sees it (its own labelled value first, then a shared one)."""
        index = self._lookup()
        return index.get((name, service)) or index.get((name, None))

    def view(self, service: str = "backend") -> dict[str, Value]:
        """Every name visible to `service`, resolved by precedence."""
        return {n: v for n in self.names() if (v := self.get(n, service)) is not None}

    def names(self) -> list[str]:
        """Distinct names, first-seen order."""
        return list(dict.fromkeys(v.name for v in self.values))

    def services(self) -> set[str]:
        """Services that have a labelled source (e.g. {'gpu-worker'})."""
        return {v.service for v in self.values if v.service is not None}

    def settings(self, source: str | None = None) -> dict[str, str]:
        """PREFLIGHT_* settings found in the sources (tool options), optionally from one source kind only."""
        return {
            v.name: v.value.get_secret_value()
            for v in self.values
            if v.name.startswith(SETTINGS_PREFIX) and (source is None or v.source == source)
        }


def parse_env_spec(spec: str) -> tuple[str | None, Path]:
    """Split `--env-file` values: 'prod.env' or 'gpu-worker=worker.env'."""
    label, sep, path = spec.partition("=")
    if sep and label and "/" not in label and not label.endswith((".env",)):
        return label, Path(path)
    return None, Path(spec)


def read_env_file(path: Path, service: str | None = None) -> list[Value]:
    """Parse a dotenv file (export prefixes, quotes, multi-line values, BOM, CRLF)."""
    try:
        raw = read_limited(path, MAX_ENV_FILE_BYTES, "env file", EnvFileError)
    except OSError as e:
        raise EnvFileError(f"{path}: cannot read env file: {e.strerror or e.__class__.__name__}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise EnvFileError(f"{path}:{line}: not valid UTF-8 (byte {e.start})") from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise EnvFileError(f"{path}:{line}: contains a NUL byte; is this a binary file?")
    out: list[Value] = []
    for b in parse_stream(io.StringIO(text.replace("\r\n", "\n"))):
        if b.error or (b.key is not None and b.value is None):
            raise EnvFileError(f"{path}:{b.original.line}: malformed line; expected NAME=value")
        if b.key is None or b.value is None:
            continue
        if not b.key.isidentifier():
            raise EnvFileError(f"{path}:{b.original.line}: invalid variable name")
        out.append(
            Value(b.key, SecretStr(b.value), "file", f"{path.name}:{b.original.line}", service)
        )
    return out


def read_process_env(
    manifest: Manifest, environ: Mapping[str, str] | None = None, extra: Iterable[str] = ()
) -> list[Value]:
    """Manifest variables, names a checker declares it needs, and PREFLIGHT_* settings from the process env.

    Not the whole environment: a shell is full of unrelated values that must not be judged or echoed.
    """
    env = os.environ if environ is None else environ
    wanted = {v.name for v in manifest.variables} | set(extra)
    return [
        Value(k, SecretStr(val), "env", "environment")
        for k, val in env.items()
        if k in wanted or k.startswith(SETTINGS_PREFIX)
    ]


def load_values(
    manifest: Manifest,
    env_files: Iterable[str] = (),
    *,
    use_process_env: bool = True,
    environ: Mapping[str, str] | None = None,
    extra_names: Iterable[str] = (),
) -> ValueStore:
    """Read the local sources in precedence order. AWS is added separately (it is a network probe)."""
    store = ValueStore()
    if use_process_env:
        store.add(read_process_env(manifest, environ, extra_names))
    services = {s.name for s in manifest.services}
    for spec in env_files:
        label, path = parse_env_spec(spec)
        if label is not None and label not in services:
            raise UsageError(
                f"--env-file {spec}: unknown service {label!r}; manifest services: {', '.join(sorted(services))}"
            )
        store.add(read_env_file(path, label))
    return store


def decode_json_secret(secret_id: str, text: str) -> dict[str, str] | None:
    """A Secrets Manager value that holds several keys as a JSON object, or None when it is not one."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: a value of deeply nested brackets
        return None
    if not isinstance(data, dict):
        return None
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
