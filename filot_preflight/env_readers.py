"""How each consumer reads an env file: one reader per manifest service (`services[].reader`).

- `node-dotenv`: npm dotenv 16-18 (`node_dotenv.py`, a port of its `LINE` regex): a key assigned twice
  in one file keeps the last value; lines the regex does not match are skipped silently.
- `python-dotenv`: the python-dotenv library itself (its parser and its `${VAR}` interpolation, as
  `load_dotenv` does by default); a line it cannot parse is skipped with a warning; a bare `KEY` sets nothing.
- `docker-env`: Docker's `--env-file` / ECS `environmentFiles`: `KEY=VALUE` taken literally (no quotes,
  no escapes, no comments after a value), `#` lines are comments, a bare `KEY` takes the value from the
  environment; a name with a space makes Docker refuse the whole file.
- `ecs`: no file at all; the values come from the task definition and Secrets Manager.

`read(reader, raw, environ)` returns the assignments in file order plus the lines the reader ignores,
so the caller can judge duplicates and odd lines. Precedence across files is in sources.py.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from dotenv.parser import parse_stream
from dotenv.variables import parse_variables

from filot_preflight import node_dotenv

ReaderName = Literal["node-dotenv", "python-dotenv", "docker-env", "ecs"]
READERS: tuple[str, ...] = ("node-dotenv", "python-dotenv", "docker-env", "ecs")
_DOCKER_WS = " \t"
_MAX_TOKEN = 64 * 1024  # bufio.MaxScanTokenSize


class UnreadableFile(ValueError):
    """The reader refuses the whole file (Docker: a name with whitespace); `line` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Entry:
    """One assignment as the reader reads it. `cut_from`: the written length when the reader cut the value."""

    key: str
    value: str
    line: int
    cut_from: int | None = None


@dataclass
class Reading:
    """A file as one reader reads it: assignments in order (duplicates kept) and the lines it ignores."""

    entries: list[Entry] = field(default_factory=list)
    ignored: list[tuple[int, str]] = field(default_factory=list)  # (line, why); never the line's text


def read(reader: str, raw: bytes, environ: Mapping[str, str], override: bool = False) -> Reading:
    """Read `raw` (a file's bytes, already checked to be UTF-8 without NUL) the way `reader` does.

    `override` matters to python-dotenv only: its `${VAR}` interpolation then prefers the file's values.
    """
    if reader == "node-dotenv":
        return _node(raw.decode("utf-8"))
    if reader == "python-dotenv":
        return _python(raw, environ, override)
    if reader == "docker-env":
        return _docker(raw, environ)
    raise ValueError(f"reader {reader!r} reads no file")


def _node(text: str) -> Reading:
    entries = node_dotenv.parse(text)
    covered: set[int] = set()
    for e in entries:
        covered.update(range(e.span[0], e.span[1] + 1))
    ignored = []
    for n, line in enumerate(node_dotenv.normalise(text).split("\n"), 1):
        body = node_dotenv.js_trim(line)
        if n not in covered and body and not body.startswith("#"):
            ignored.append((n, "not a NAME=value line; dotenv skips it"))
    return Reading([Entry(e.key, e.value, e.line, e.cut_at_hash) for e in entries], ignored)


def _python(raw: bytes, environ: Mapping[str, str], override: bool) -> Reading:
    """python-dotenv's own parser over the text `open(path, encoding='utf-8')` gives (universal newlines)."""
    text = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8").read()
    out = Reading()
    resolved: dict[str, str | None] = {}
    for b in parse_stream(io.StringIO(text)):
        if b.error:
            out.ignored.append((b.original.line, "python-dotenv cannot parse it and skips it"))
            continue
        if b.key is None:
            continue
        if b.value is None:  # dotenv_values maps it to None, which also drops an earlier KEY= of the file
            earlier = [e for e in out.entries if e.key == b.key]
            out.entries = [e for e in out.entries if e.key != b.key]
            resolved[b.key] = None
            lost = f" and drops its value from line {earlier[-1].line}" if earlier else ""
            out.ignored.append((b.original.line, f"{b.key} has no '='; python-dotenv sets nothing{lost}"))
            continue
        value = _interpolate(b.value, resolved, environ, override)
        resolved[b.key] = value
        out.entries.append(Entry(b.key, value, b.original.line))
    return out


def _interpolate(value: str, earlier: Mapping[str, str | None], environ: Mapping[str, str], override: bool) -> str:
    # dotenv.main.resolve_variables: without override (load_dotenv's default) the environment beats
    # earlier lines of the file. It reads os.environ; here the environment the run was given.
    env: dict[str, str | None] = {**environ, **earlier} if override else {**earlier, **environ}
    return "".join(atom.resolve(env) for atom in parse_variables(value))


def _docker(raw: bytes, environ: Mapping[str, str]) -> Reading:
    """docker/cli pkg/kvfile `parseKeyValueFile` (what `--env-file` uses), line by line."""
    out = Reading()
    for n, line_bytes in enumerate(raw.split(b"\n"), 1):
        if len(line_bytes) > _MAX_TOKEN:
            raise UnreadableFile(n, "line longer than 64 KiB; docker refuses the file (bufio: token too long)")
        if line_bytes.endswith(b"\r"):  # bufio.ScanLines drops one trailing \r
            line_bytes = line_bytes[:-1]
        if n == 1:
            line_bytes = line_bytes.removeprefix(b"\xef\xbb\xbf")
        line = line_bytes.decode("utf-8").lstrip(_UNICODE_SPACE)
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if any(c in name for c in _DOCKER_WS):
            raise UnreadableFile(n, "variable name contains whitespace; docker refuses the file")
        if not name:
            raise UnreadableFile(n, "no variable name; docker refuses the file")
        if sep:
            out.entries.append(Entry(name, value, n))
        elif name in environ:
            out.entries.append(Entry(name, environ[name], n))
        else:
            out.ignored.append((n, f"{name} has no '=' and is not in the environment; docker sets nothing"))
    return out


# Go's unicode.IsSpace (the Unicode White_Space property), spelled out.
_UNICODE_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
