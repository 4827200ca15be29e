"""dotenv-safe: a service that loads it requires every variable its `.env.example` names.

`require('dotenv-safe').config()` (or `import 'dotenv-safe/config'`, `config({ example: 'x' })`) fails at
start-up unless each name in the example file is set, so each name there is a read of that service, at
the example file's line, with no fallback. The example path is the `example:` option when it is a
literal, else `.env.example`, relative to the tree's root (dotenv-safe resolves it from the working
directory, which is the service's root when it starts). The file is read with python-dotenv's parser.
"""

from __future__ import annotations

import io
import os
import re

from filot_preflight.audit.model import EnvRead, ParseError

_USES = re.compile(r"""(?:require\s*\(\s*|from\s+|import\s+)(['"])dotenv-safe(?:/config)?\1""")
_EXAMPLE = re.compile(r"""\bexample\s*:\s*(['"`])([^'"`\n$]{1,300})\1""")
DEFAULT_EXAMPLE = ".env.example"
MISSING = "dotenv-safe's example file is not in the tree:"


def detect(text: str) -> tuple[str, int] | None:
    """(example file, line of the import) when a JS/TS file loads dotenv-safe, else None."""
    m = _USES.search(text) if "dotenv-safe" in text else None
    if m is None:
        return None
    ex = _EXAMPLE.search(text, m.end())
    path = ex.group(2) if ex is not None else DEFAULT_EXAMPLE
    return os.path.normpath(path.removeprefix("./")), text.count("\n", 0, m.start()) + 1


def example_reads(root: str, example: str, user: str, line: int) -> tuple[list[EnvRead], ParseError | None]:
    """The names of the example file as reads. A missing file is a ParseError at the import (message starting
    with MISSING), a line that does not parse one at that line."""
    from dotenv.parser import parse_stream  # lazily: only a tree that uses dotenv-safe needs it

    path = os.path.join(root, example)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read(1024 * 1024)
    except OSError:
        return [], ParseError(user, line, f"{MISSING} {example}")
    reads: list[EnvRead] = []
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    for b in parse_stream(io.StringIO(text)):
        if b.error:
            return reads, ParseError(rel, b.original.line, "line does not parse as NAME=value")
        if b.key:
            s = b.original.string
            lead = s[: len(s) - len(s.lstrip())].count("\n")  # blank lines before the binding belong to it
            reads.append(EnvRead(b.key, rel, b.original.line + lead))
    return reads, None
