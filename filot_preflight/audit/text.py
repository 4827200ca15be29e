"""Line bookkeeping shared by the extractors: offsets to line numbers, comments, allow-comments."""

from __future__ import annotations

import re
from bisect import bisect_right

ALLOW = re.compile(r"preflight:\s*allow\b[ \t]*([^\n]*)")
_COMMENT_END = re.compile(r"\s*(?:\*/|-->|\"\"\"|''')\s*$")
# A triple-quoted string and its prefix; an f-string's body holds code, so it is skipped over, not recorded
# (recording its closing quotes as an opening hid the rest of the file).
_TRIPLE = re.compile(r"(?<![A-Za-z0-9_])([rRbBuUfF]{0,2})(\"\"\"|''')")


class Lines:
    """Maps offsets of one file's text to 1-based lines. Most files have few matches: the first lookups
    count newlines directly; an index of line starts is built only for files with many matches.
    """

    __slots__ = ("text", "_starts", "_lines", "_calls", "_docs")

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] | None = None
        self._lines: list[str] | None = None
        self._calls = 0
        self._docs: list[int] | None = None  # Python triple-quoted strings: [start, end, start, end, ...]

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
        """Whether offset `pos` sits in a comment (a comment-only line, or after `//` / `#` outside quotes)
        or, in Python, in a triple-quoted string (docstrings quote code without running it).
        """
        if lang == "py" and self._in_docstring(pos):
            return True
        line, col = self._line_at(pos)
        return is_comment_at(line, col, lang)

    def in_code(self, pos: int, lang: str) -> bool:
        """Whether offset `pos` is code: neither in a comment nor inside a plain string literal.

        A JS template literal and a Python f-string count as code (they interpolate expressions).
        """
        if self.in_comment(pos, lang):
            return False
        line, col = self._line_at(pos)
        return not is_string_at(line, col, lang)

    def _line_at(self, pos: int) -> tuple[str, int]:
        start = self.text.rfind("\n", 0, pos) + 1
        end = self.text.find("\n", pos)
        return self.text[start : end if end >= 0 else len(self.text)], pos - start

    def _in_docstring(self, pos: int) -> bool:
        if self._docs is None:
            self._docs = []
            text = self.text
            if '"""' in text or "'''" in text:
                i = 0
                while (m := _TRIPLE.search(text, i)) is not None:
                    end = text.find(m.group(2), m.end())
                    end = len(text) if end < 0 else end + 3
                    if "f" not in m.group(1).lower():
                        self._docs += (m.start(), end)
                    i = end
        # inside when an odd number of boundaries lie at or before pos
        return bisect_right(self._docs, pos) % 2 == 1

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


def is_string_at(line: str, col: int, lang: str) -> bool:
    """Whether column `col` of `line` is inside a plain ('...' / "...") string literal on that line."""
    quote = ""
    code_string = False
    i = 0
    while i < col:
        c = line[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "'\"" or (c == "`" and lang == "js"):
            quote = c
            code_string = c == "`" or (lang == "py" and i > 0 and line[i - 1] in "fF")
        i += 1
    return bool(quote) and not code_string


def _outside_quotes(s: str) -> bool:
    return s.count("'") % 2 == 0 and s.count('"') % 2 == 0 and s.count("`") % 2 == 0
