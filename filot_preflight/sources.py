"""Where values come from: the process environment, env files (optionally per service), AWS Secrets Manager.

Each service reads its values the way its `reader` (manifest `services[].reader`, see env_readers.py)
does, so every judgement sees the value that service's code would see:

- **node-dotenv** (npm dotenv, `config({path: [a, b]})`): the environment (process env and Secrets
  Manager, which ECS injects) beats every file; among files the FIRST one that sets a name wins.
  With `override: true` the order flips: files beat the environment and the LAST file wins.
- **python-dotenv** (`load_dotenv(a); load_dotenv(b)`): the same as node-dotenv (load_dotenv does not
  override an existing variable, so the first file wins), and `override: true` the same way.
- **docker-env** (`docker run --env-file`, ECS `environmentFiles`): the environment (task definition
  `environment`/`secrets`) beats files; among files the LAST one wins.
- **ecs**: no file; only the environment.

Within one file a name assigned twice keeps its last value for every reader. Secrets Manager beats the
process environment. A file labelled with a service (`gpu-worker=worker.env`) is read by that service
only, and its values beat the unlabelled (shared) files, which every file-reading service reads with
its own reader. Every value is a SecretStr from the moment it is read and remembers where it came from.
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

from filot_preflight import env_readers
from filot_preflight.errors import EnvFileError, UsageError
from filot_preflight.fileio import read_limited
from filot_preflight.manifest import Manifest
from filot_preflight.precedence import ServiceReader, rank, visible

MAX_ENV_FILE_BYTES = 5 * 1024 * 1024
SETTINGS_PREFIX = "PREFLIGHT_"


@dataclass(frozen=True)
class Value:
    """One value with its provenance. `origin` is e.g. 'prod.env:12', 'environment', 'aws:filot/prod/r2#key'.

    `reader` is the reader that parsed a file value (None: any reader sees it, e.g. a hand-built store);
    `file` is the index of its file in the order the files were given.
    """

    name: str
    value: SecretStr
    source: str
    origin: str
    service: str | None = None
    reader: str | None = None
    file: int = 0

    def __repr__(self) -> str:  # never the value, even in a debugger or traceback
        return f"Value({self.name!r}, source={self.source!r}, origin={self.origin!r}, service={self.service!r})"


@dataclass(frozen=True)
class FileReading:
    """One env file as one reader read it (for duplicates, odd lines and divergence findings)."""

    path: Path
    service: str | None  # the label, None for a shared file
    reader: str
    file: int
    reading: env_readers.Reading

    @property
    def name(self) -> str:
        """The file's name, as origins show it ('prod.env')."""
        return self.path.name


@dataclass
class ValueStore:
    """All values read; each service resolves them by its reader's precedence (see the module docstring)."""

    values: list[Value] = field(default_factory=list)
    readers: dict[str, ServiceReader] = field(default_factory=dict)
    readings: list[FileReading] = field(default_factory=list)
    # name -> [(position, value)], kept up to date with `values` (which only grows). A scan of every value
    # per lookup made a 20,000-line env file take 49 s (lookups x values).
    _index: dict[str, list[tuple[int, Value]]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _indexed: int = field(default=0, init=False, repr=False, compare=False)
    _indexed_list: int = field(default=0, init=False, repr=False, compare=False)  # id() of the list indexed

    def add(self, items: Iterable[Value]) -> None:
        """Append values (a later one wins over an earlier one of the same rank)."""
        self.values.extend(items)

    def reader_of(self, service: str) -> ServiceReader:
        """The service's reader (python-dotenv when the store knows no manifest)."""
        return self.readers.get(service, ServiceReader())

    def _lookup(self, name: str) -> list[tuple[int, Value]]:
        if self._indexed > len(self.values) or self._indexed_list != id(self.values):  # replaced: start over
            self._index, self._indexed, self._indexed_list = {}, 0, id(self.values)
        for pos in range(self._indexed, len(self.values)):
            v = self.values[pos]
            self._index.setdefault(v.name, []).append((pos, v))
        self._indexed = len(self.values)
        return self._index.get(name, [])

    def get(self, name: str, service: str = "backend") -> Value | None:
        """The value of `name` as `service` sees it, by its reader's precedence."""
        sr = self.reader_of(service)
        best: Value | None = None
        best_rank: tuple[int, ...] = ()
        for pos, v in self._lookup(name):
            if not visible(v, service, sr):
                continue
            r = rank(v, service, sr, pos)
            if best is None or r > best_rank:
                best, best_rank = v, r
        return best

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
        """PREFLIGHT_* settings found in the sources (tool options), optionally from one source kind only.

        A shared file is read once per reader; the tool's own settings come from the first reading.
        """
        tool_reader = next((r.reader for r in self.readings), None)
        return {
            v.name: v.value.get_secret_value()
            for v in self.values
            if v.name.startswith(SETTINGS_PREFIX)
            and (source is None or v.source == source)
            and (v.reader is None or v.reader == tool_reader)
        }


def parse_env_spec(spec: str) -> tuple[str | None, Path]:
    """Split `--env-file` values: 'prod.env' or 'gpu-worker=worker.env'."""
    label, sep, path = spec.partition("=")
    if sep and label and "/" not in label and not label.endswith((".env",)):
        return label, Path(path)
    return None, Path(spec)


def read_env_bytes(path: Path) -> bytes:
    """A file's bytes, refused (EnvFileError, one line) when too big, unreadable, not UTF-8 or binary."""
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
    return raw


def read_env_file(path: Path, service: str | None = None) -> list[Value]:
    """Parse a dotenv file strictly (templates, fixtures): any line python-dotenv cannot read is exit 2."""
    text = read_env_bytes(path).decode("utf-8-sig")
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


def read_as(
    path: Path, raw: bytes, reader: ServiceReader, environ: Mapping[str, str], service: str | None, file: int
) -> tuple[FileReading, list[Value]]:
    """`raw` read by `reader`: the reading (for findings) and its values; a file the reader refuses is exit 2."""
    try:
        reading = env_readers.read(reader.reader, raw, environ, reader.override)
    except env_readers.UnreadableFile as e:
        raise EnvFileError(f"{path}:{e.line}: {e} (reader {reader.reader})") from None
    values = [
        Value(e.key, SecretStr(e.value), "file", f"{path.name}:{e.line}", service, reader.reader, file)
        for e in reading.entries
    ]
    return FileReading(path, service, reader.reader, file, reading), values


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


def service_readers(manifest: Manifest) -> dict[str, ServiceReader]:
    """Each manifest service's reader."""
    return {s.name: ServiceReader(s.reader, s.override) for s in manifest.services}


def load_values(
    manifest: Manifest,
    env_files: Iterable[str] = (),
    *,
    use_process_env: bool = True,
    environ: Mapping[str, str] | None = None,
    extra_names: Iterable[str] = (),
) -> ValueStore:
    """Read the local sources, each file with the reader of every service that reads it. AWS is added later."""
    env = os.environ if environ is None else environ
    store = ValueStore(readers=service_readers(manifest))
    if use_process_env:
        store.add(read_process_env(manifest, env, extra_names))
    services = {s.name for s in manifest.services}
    # python-dotenv interpolates ${VAR} from the environment, which earlier load_dotenv calls extended
    seen_env: dict[str, dict[str, str]] = {}
    for index, spec in enumerate(env_files):
        label, path = parse_env_spec(spec)
        if label is not None and label not in services:
            raise UsageError(
                f"--env-file {spec}: unknown service {label!r}; manifest services: {', '.join(sorted(services))}"
            )
        if label is not None and store.reader_of(label).reader == "ecs":
            raise UsageError(f"--env-file {spec}: service {label!r} reads no env file (reader ecs in the manifest)")
        raw = read_env_bytes(path)
        readers = [store.reader_of(label)] if label else _file_readers(manifest, store)
        chosen: dict[str, ServiceReader] = {}
        for r in readers:  # one reading per reader (the first service's settings), in manifest order
            chosen.setdefault(r.reader, r)
        for reader in chosen.values():
            base = seen_env.setdefault(reader.reader, dict(env) if use_process_env else {})
            reading, values = read_as(path, raw, reader, base, label, index)
            store.readings.append(reading)
            store.add(values)
            for v in values if reader.reader == "python-dotenv" else ():  # load_dotenv's os.environ, for ${VAR}
                if reader.override:
                    base[v.name] = v.value.get_secret_value()
                else:
                    base.setdefault(v.name, v.value.get_secret_value())
    return store


def _file_readers(manifest: Manifest, store: ValueStore) -> list[ServiceReader]:
    """The readers that read a shared file (every service but those on `ecs`); python-dotenv if none does."""
    readers = [store.reader_of(s.name) for s in manifest.services]
    return [r for r in readers if r.reader != "ecs"] or [ServiceReader()]


def decode_json_secret(secret_id: str, text: str) -> dict[str, str] | None:
    """A Secrets Manager value that holds several keys as a JSON object, or None when it is not one."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: a value of deeply nested brackets
        return None
    if not isinstance(data, dict):
        return None
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
