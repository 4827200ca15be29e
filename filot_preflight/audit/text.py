"""Line bookkeeping shared by the extractors: offsets to line numbers, comments, allow-comments."""

from __future__ import annotations

import re
from bisect import bisect_right

ALLOW = re.compile(r"preflight:\s*allow\b[ \t]*([^\n]*)")
_COMMENT_END = re.compile(r"\s*(?:\*/|-->|\"\"\"|''')\s*$")


class Lines:
    """Maps offsets of one file's text to 1-based lines. Most files have few matches: the first lookups
    count newlines directly; an index of line starts is built only for files with many matches.
    """

    __slots__ = ("text", "_starts", "_lines", "_calls")

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] | None = None
        self._lines: list[str] | None = None
        self._calls = 0

    def line_of(self, pos: int) -> int:
        """1-based line number of offset `pos`."""
        if self._starts is None:
            self._calls += 1
            if self._calls <= 16:
                return self.text.count("\n", 0, pos) + 1
            self._starts = [0, *(i + 1 for i, c in enumerate(self.text) if c == "\n")]
        return bisect_right(self._starts, pos)

    def line(self, n: int) -> str:
        """Text of line `n` (1-based), '' when out of range."""
        if self._lines is None:
            self._lines = self.text.split("\n")
        return self._lines[n - 1] if 0 < n <= len(self._lines) else ""

    def in_comment(self, pos: int, lang: str) -> bool:
        """Whether offset `pos` sits in a comment: a comment-only line, or after `//` / `#` outside quotes."""
        start = self.text.rfind("\n", 0, pos) + 1
        end = self.text.find("\n", pos)
        line = self.text[start : end if end >= 0 else len(self.text)]
        return is_comment_at(line, pos - start, lang)

    def allow_reason(self, n: int, lang: str) -> str | None:
        """The reason of a `preflight: allow <reason>` on line `n`, or on a comment-only line just above it."""
        for cand in (n, n - 1):
            text = self.line(cand)
            if "preflight" not in text:
                continue
            m = ALLOW.search(text)
            if m is None or (cand != n and not is_comment_line(text, lang)):
                continue
            reason = _COMMENT_END.sub("", m.group(1)).strip()
            return reason or None
        return None


def is_comment_line(line: str, lang: str) -> bool:
    """A line holding only a comment."""
    s = line.lstrip()
    if lang == "py" or lang == "env":
        return s.startswith("#")
    return s.startswith(("//", "/*", "*", "<!--"))


def is_comment_at(line: str, col: int, lang: str) -> bool:
    """Whether column `col` of `line` is inside a comment (approximate: counts quotes before the marker)."""
    if is_comment_line(line, lang):
        return True
    head = line[:col]
    marker = "#" if lang in ("py", "env") else "//"
    i = head.find(marker)
    while i >= 0:
        # `://` in a URL is not a comment; an even number of quotes before the marker means we are outside a string
        if not (marker == "//" and i > 0 and head[i - 1] == ":") and _outside_quotes(head[:i]):
            return True
        i = head.find(marker, i + 1)
    return False


def _outside_quotes(s: str) -> bool:
    return s.count("'") % 2 == 0 and s.count('"') % 2 == 0 and s.count("`") % 2 == 0
