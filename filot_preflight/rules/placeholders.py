"""Placeholder detection: template markers, example/dummy words, repeated and sequential runs."""

from __future__ import annotations

import re
import unicodedata

from filot_preflight.manifest import RegexFormat, SecretFormat, Variable
from filot_preflight.rules.entropy import _is_sequence, _period

_B = r"(?<![0-9a-z])"  # token boundaries: placeholders sit between non-alphanumerics
_E = r"(?![0-9a-z])"
_STRONG_PLACEHOLDERS = [
    (re.compile(_B + r"(?:change[-_ ]?(?:me|it)|replace[-_ ]?me|fill[-_ ]?me[-_ ]?in)" + _E), "a replace-this marker"),
    (re.compile(_B + r"(?:todo|fixme|tbd)" + _E), "an unfinished-work marker"),
    (re.compile(_B + r"x{3,}" + _E), "an x-filler"),
    # <...> only as a whole value or URL component with word-like content: symbol-rich random
    # passwords contain '<' ... '>' often enough (8% of 44-character ones) to need the boundaries.
    (
        re.compile(r"(?:^|[\s:@/=?&])<[a-z][a-z0-9 _.-]{1,80}>(?=$|[\s:@/?&#])"),
        "an angle-bracket template",
    ),
    (
        re.compile(r"(?:^|[^0-9a-z])your[-_ ][^\n]{0,80}?[-_ ]here" + _E + r"|^your[-_]"),
        "template text (your ... here)",
    ),
    (
        re.compile(r"\$\{[a-z_][a-z0-9_]+(?::?-[^}]*)?\}|\{\{\s*[a-z_][a-z0-9_.]+\s*\}\}|^\$[a-z_][a-z0-9_]*$"),
        "an unexpanded shell/template reference",
    ),
]
_SECRET_PLACEHOLDERS = [
    (re.compile(_B + r"(?:example|sample|dummy|placeholder|redacted)" + _E), "an example/dummy marker"),
    (re.compile(r"\.\.\.|\u2026"), "an elided value (three dots)"),
]
_GENERIC_WORDS = {
    "password", "passwd", "secret", "test", "testing", "none", "null", "nil", "undefined", "default",
    "empty", "value", "key", "token", "admin", "pass", "foo", "bar", "foobar", "n/a", "na", "-", "?",
    "letmein", "qwerty", "abc123", "password1", "secret123", "mysecret", "supersecret", "apikey",
}


def _fold(v: str) -> str:
    return unicodedata.normalize("NFKC", v).casefold()


def placeholder_kind(var: Variable, value: str) -> str | None:
    """What kind of placeholder `value` is (a description, never the text), or None."""
    folded = _fold(value)
    for pattern, kind in _STRONG_PLACEHOLDERS:
        if pattern.search(folded):
            return kind
    stored = var.secret or var.aws_secret is not None  # deployment-specific, so an example is never right
    if stored and var.example and folded == _fold(var.example.strip()):
        return "the manifest's own example value"
    if var.secret:
        if folded in _GENERIC_WORDS:
            return "a generic word instead of a real value"
        for pattern, kind in _SECRET_PLACEHOLDERS:
            if pattern.search(folded):
                return kind
    if (var.secret or isinstance(var.format, RegexFormat | SecretFormat)) and len(folded) >= 4:
        if _period(folded, max_period=8) is not None:
            return "a repeated-character pattern"
        if _is_sequence(folded):
            return "a sequential run of characters"
    return None
