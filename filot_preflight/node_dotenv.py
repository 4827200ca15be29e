"""npm `dotenv`'s parser (lib/main.js, `parse`), reproduced in Python for the Node backend's reading of env files.

dotenv 16.x-18.x parse with one regular expression, `LINE`, then per match: trim, strip one pair of
surrounding quotes (`'`, `"` or a backtick), and inside double quotes expand `\\n` and `\\r` only. The
pattern below is that expression with JavaScript's character classes spelled out, because Python's
differ: JS `\\s` includes U+FEFF (so a BOM is skipped) and not U+001C-U+001F or U+0085; JS `\\w` is
ASCII; JS `.`, `^` and `$` treat U+2028/U+2029 as line ends. tests/test_reader_conformance.py runs
the real npm package over a corpus and asserts this module gives the same result for every key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# JavaScript's WhiteSpace + LineTerminator (ECMA-262 `\s`), and its line terminators.
_JS_WS = (
    "\t\n\v\f\r \u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_S = f"[{_JS_WS}]"
_EOL = "\n\r\u2028\u2029"
_BOL = rf"(?:\A|(?<=[{_EOL}]))"  # JS `^` with the m flag
_END = rf"(?=[{_EOL}]|\Z)"  # JS `$` with the m flag
_DOT = f"[^{_EOL}]"

# lib/main.js:
# /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/mg  # noqa: E501
LINE = (
    rf"{_BOL}{_S}*(?:export{_S}+)?([A-Za-z0-9_.-]+)(?:{_S}*={_S}*?|:{_S}+?)()"
    rf"({_S}*'(?:\\'|[^'])*'|{_S}*\"(?:\\\"|[^\"])*\"|{_S}*`(?:\\`|[^`])*`|[^#\r\n]+)?"
    rf"{_S}*(?:#{_DOT}*)?{_END}"
)
# value.replace(/^(['"`])([\s\S]*)\1$/mg, '$2')
_QUOTED = rf"{_BOL}(['\"`])([\s\S]*)\1{_END}"


@dataclass(frozen=True)
class NodeEntry:
    """One assignment as dotenv reads it. `line` is 1-based; `span` = the lines the match covers."""

    key: str
    value: str
    line: int
    span: tuple[int, int]
    quote: str  # the first character of the trimmed value: a quote when the value was quoted
    cut_at_hash: int | None = None  # length as written when an unquoted value was cut at a `#`


def js_trim(s: str) -> str:
    return s.strip(_JS_WS)


def normalise(text: str) -> str:
    """dotenv's `lines.replace(/\\r\\n?/mg, '\\n')`."""
    return re.sub(r"\r\n?", "\n", text)


def parse(text: str) -> list[NodeEntry]:
    """Every match of `LINE` in `text` (already decoded as Node's `readFileSync(path, 'utf8')` does), in order.

    A key assigned twice appears twice; `dotenv.parse` keeps the last (`obj[key] = value`).
    """
    lines = normalise(text)
    out: list[NodeEntry] = []
    pos, line = 0, 1  # line numbers counted on from the previous match: counting from 0 each time was quadratic
    for m in re.finditer(LINE, lines):  # re's cache compiles it once, on first use, not at import
        raw = m.group(3) or ""
        value = js_trim(raw)
        quote = value[:1]
        value = re.sub(_QUOTED, r"\2", value)
        if quote == '"':
            value = value.replace("\\n", "\n").replace("\\r", "\r")
        line += lines.count("\n", pos, m.start(1))
        pos = m.start(1)
        first = line
        last = first + lines.count("\n", pos, max(pos, m.end() - 1))
        out.append(NodeEntry(m.group(1), value, first, (first, last), quote, _cut(lines, m, quote)))
    return out


def _cut(lines: str, m: re.Match[str], quote: str) -> int | None:
    """The written length when an unquoted value stops at a `#` that has no space before it (`Ab3#x`)."""
    if quote in ("'", '"', "`"):
        return None
    start = m.start(2)
    end = m.end(3) if m.group(3) is not None else start
    if end >= len(lines) or lines[end] != "#" or (end > start and lines[end - 1] in _JS_WS):
        return None
    eol = lines.find("\n", end)
    rest = lines[start: eol if eol != -1 else len(lines)]
    return len(js_trim(rest))
