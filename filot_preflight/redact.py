"""One Redactor that every output path goes through: console, JSON, JUnit, markdown, logs, tracebacks.

It knows every secret value read in this run (and the shapes they leak in: URL-encoded, base64,
the password part of a URL) and also masks patterns that are secret whatever their value: URL
passwords, presigned-URL signatures and credentials, `password=` in key/value DSNs.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

import ahocorasick

MASK = "***"
MIN_SECRET_LEN = 8  # shorter values would mask ordinary words and digits everywhere (see plausible_secret)
LONG_VALUE = 1024
ANCHOR = MIN_SECRET_LEN  # every masked value is at least this long: its first ANCHOR characters find it
SHARED_ANCHOR = 8  # more values than this with the same first ANCHOR characters are looked up whole

_PATTERNS = [
    # scheme://user:password@host  -> keep the user, mask the password
    (re.compile(r"(?P<pre>[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)(?P<secret>[^\s@/]+)(?=@)"), r"\g<pre>***"),
    # presigned URLs and SigV4 headers
    (
        re.compile(
            r"(?i)(?P<pre>(?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|"
            r"AWSAccessKeyId|sig)=)(?P<secret>[^&\s\"'<>]+)"
        ),
        r"\g<pre>***",
    ),
    (re.compile(r"(?i)(?P<pre>Signature=)(?P<secret>[0-9a-f]{16,})"), r"\g<pre>***"),
    # key=value DSNs (libpq) and similar
    (
        # Not after '-', '/', '.' or ':': "filot/prod/jwt-secret: run ..." is a path in prose, and
        # "arn:aws:secretsmanager:...:secret:NAME" an ARN (its name is not a secret value), not a key.
        re.compile(
            r"(?i)(?P<pre>(?<![\w/.:-])(?:password|passwd|pwd|secret|token|api[_-]?key)[\"']?\s*[=:]\s*[\"']?)"
            r"(?P<secret>[^\s&;,'\"]+)"
        ),
        r"\g<pre>***",
    ),
    # Authorization headers
    (
        re.compile(
            r"(?i)(?P<pre>\b(?:authorization|x-api-key)\s*[:=]\s*(?:bearer\s+|basic\s+)?)(?P<secret>[^\s,;'\"]+)"
        ),
        r"\g<pre>***",
    ),
]


# A lower-case, Capitalised or UPPER-case run of 8-12 letters reads as a word ("postgres", "Password"):
# masking it wherever it appears would eat prose and fixes. Such a secret is weak anyway (secrets.weak).
_WORDLIKE = re.compile(r"[a-z]{8,12}|[A-Z][a-z]{7,11}|[A-Z]{8,12}")


def plausible_secret(value: str) -> bool:
    """Whether `value` can be masked wherever it appears: at least MIN_SECRET_LEN characters and not a word."""
    return len(value) >= MIN_SECRET_LEN and not _WORDLIKE.fullmatch(value)


def _variants(value: str) -> set[str]:
    """The forms in which a secret value tends to leak."""
    out = {value, quote(value, safe=""), quote_plus(value), unquote(value)}
    raw = value.encode()
    out.add(base64.b64encode(raw).decode())
    out.add(base64.urlsafe_b64encode(raw).decode())
    out.add(base64.b64encode(raw).decode().rstrip("="))
    # Hex dumps of a key (a driver's or plugin's error text, "key.hex()") are as readable as the key.
    out |= {raw.hex(), raw.hex().upper()}
    if "://" in value:  # the password inside a URL leaks on its own in driver errors
        try:
            parts = urlsplit(value)
            if parts.password and plausible_secret(unquote(parts.password)):
                out |= {parts.password, unquote(parts.password)}
                out |= _encoded(unquote(parts.password), unquote(parts.username or ""))
        except ValueError:
            pass
    out |= _escaped(value)
    return {v for v in out if len(v) >= MIN_SECRET_LEN}


def _encoded(password: str, user: str) -> set[str]:
    """base64 of a URL password alone and as HTTP Basic `user:password` (what an echoing server sends back)."""
    out = set()
    for raw in (password.encode(), f"{user}:{password}".encode()):
        b64 = base64.b64encode(raw).decode()
        out |= {b64, b64.rstrip("="), base64.urlsafe_b64encode(raw).decode()}
    return out | _escaped(password)


def _escaped(value: str) -> set[str]:
    """The JSON-escaped and repr() forms of a value holding `"`, `\\`, a control or non-ASCII character.

    json.dumps (ASCII or not) and repr write such a value differently from its raw text, so the raw
    form alone missed a password like `p"a\\s é` in a JSON report or an exception's repr.
    """
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value and "'" not in value:
        return set()
    forms = {json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1], repr(value)[1:-1]}
    forms.add(json.dumps(json.dumps(value))[3:-3])  # a JSON string inside a JSON string (a logged body)
    return forms - {value}


FRAGMENT_LEN = 16
_TOKENISH = re.compile(r"[A-Za-z0-9+/=_.~-]+")
_TOKEN_RUN = re.compile(r"[A-Za-z0-9+/=_.~-]{16,}")


def _fragments(value: str) -> set[str]:
    """Every 16-character piece of a token-shaped secret: a server that echoes part of a key leaks it too.

    Only for values that are one opaque token (no spaces, no URL, no JSON) and not huge: a piece of
    `postgresql://user...` or of a sentence would mask ordinary text.
    """
    if not (FRAGMENT_LEN < len(value) <= 256) or not _TOKENISH.fullmatch(value):
        return set()
    return {value[i : i + FRAGMENT_LEN] for i in range(len(value) - FRAGMENT_LEN + 1)}


def _anchors(values: list[str], n: int) -> Iterable[tuple[str, list[str]]]:
    """(key, the values starting with it): keys of `n` characters, longer (doubling) for a group of more than
    SHARED_ANCHOR values that start alike (20,000 `https://user:...` URLs), so a hit is checked against a few."""
    groups: dict[str, list[str]] = {}
    for v in values:
        groups.setdefault(v[:n], []).append(v)
    for key, group in groups.items():
        if len(group) <= SHARED_ANCHOR or all(len(v) <= n for v in group):
            yield key, group
        else:
            yield from _anchors(group, n * 2)


class Redactor:
    """Replaces known secret values and secret-shaped patterns with ***."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._long: list[str] = []
        # An ahocorasick.Automaton over the values up to LONG_VALUE characters (see _compile); each key's
        # payload is (its length, the values it may start, longest first).
        self._matcher: Any = None
        self._fragments: set[str] = set()
        self._stale = False
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Learn more secret values (e.g. a presigned URL minted during a probe)."""
        for s in secrets:
            if s and plausible_secret(s):
                self._values |= _variants(s)
                self._fragments |= _fragments(s)
                self._stale = True

    def _compile(self) -> None:
        # Built when next needed, not at each add(): a run adds values several times. One Aho-Corasick
        # automaton finds every value in one pass over the text, whatever their number: the regex
        # alternation it replaces took ~10 s to compile and ~5 ms per call with 20,000 secret values.
        # It holds only each value's first ANCHOR characters (a quarter of the nodes of whole values, so
        # a quarter of the build time); a hit is confirmed against the values that start with it.
        self._stale = False
        # Very long values (a pasted PEM bundle, a huge JSON secret) are replaced with str.replace,
        # longest first, as before.
        self._long = sorted((v for v in self._values if len(v) > LONG_VALUE), key=len, reverse=True)
        short = [v for v in self._values if len(v) <= LONG_VALUE]
        self._matcher = None
        if short:
            automaton = ahocorasick.Automaton()
            for key, values in _anchors(short, ANCHOR):
                automaton.add_word(key, (len(key), tuple(sorted(values, key=len, reverse=True))))
            automaton.make_automaton()
            self._matcher = automaton

    def __call__(self, text: str) -> str:
        return self.redact(text)

    def redact(self, text: str) -> str:
        """Mask every known value and secret-shaped pattern in `text`."""
        if not text:
            return text
        text = self.redact_values(text)
        for pattern, repl in _PATTERNS:
            text = pattern.sub(repl, text)
        return text

    def redact_values(self, text: str) -> str:
        """Mask only the known values (and their pieces), not the secret-shaped patterns: for the tool's own fix
        text, where "password: copy the current one" is prose, not a leak."""
        if not text:
            return text
        if self._stale:
            self._compile()
        for v in self._long:
            text = text.replace(v, MASK)
        if self._matcher is not None:
            text = self._mask_values(text)
        if self._fragments:
            # Pieces of a key are looked up per token-shaped run, not as thousands of regex alternatives
            # (that took 10 s per MB of report).
            text = _TOKEN_RUN.sub(self._mask_fragments, text)
        return text

    def _mask_values(self, text: str) -> str:
        """Mask the known values as the longest-first alternation did: scanning left to right, at the first
        position where a value starts, the longest value starting there; then on after it."""
        longest: dict[int, int] = {}  # start -> length of the longest value found starting there
        for end, (key_len, values) in self._matcher.iter(text):
            start = end - key_len + 1
            hit = next((v for v in values if text.startswith(v, start)), None)
            if hit is not None and len(hit) > longest.get(start, 0):
                longest[start] = len(hit)
        if not longest:
            return text
        out, pos = [], 0
        for start in sorted(longest):
            if start < pos:  # inside a value already masked
                continue
            out += [text[pos:start], MASK]
            pos = start + longest[start]
        out.append(text[pos:])
        return "".join(out)

    def _mask_fragments(self, m: re.Match[str]) -> str:
        run = m.group()
        hit = [False] * len(run)
        for i in range(len(run) - FRAGMENT_LEN + 1):
            if run[i : i + FRAGMENT_LEN] in self._fragments:
                hit[i : i + FRAGMENT_LEN] = [True] * FRAGMENT_LEN
        if not any(hit):
            return run
        out, i = [], 0
        while i < len(run):
            if hit[i]:
                while i < len(run) and hit[i]:
                    i += 1
                out.append(MASK)
            else:
                out.append(run[i])
                i += 1
        return "".join(out)

    def redact_obj(self, obj: Any) -> Any:
        """Redact every string inside nested dicts, lists and tuples."""
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, dict):
            return {self.redact_obj(k): self.redact_obj(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return type(obj)(self.redact_obj(v) for v in obj)
        return obj


class RedactingFilter(logging.Filter):
    """Logging filter: the formatted message and any exception text pass through the Redactor."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            import traceback

            record.exc_text = self.redactor.redact("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        return True


def secret_values(values: Iterable[Any], secret_names: set[str], known_names: set[str]) -> list[str]:
    """Plain values that must be masked: manifest secrets, plus undeclared names that look secret."""
    out = []
    for v in values:
        if v.name in secret_names or (v.name not in known_names and _looks_secret(v.name)):
            out.append(v.value.get_secret_value())
    return out


_SECRETISH = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|PRIVATE|_KEY$|_DSN$|DATABASE_URL|REDIS_URL)")


def _looks_secret(name: str) -> bool:
    return bool(_SECRETISH.search(name.upper()))


PROCESS_SECRET_MIN_LEN = 12


def process_env_secrets(environ: dict[str, str] | Any) -> list[str]:
    """Values of secret-looking names in the process environment, even when the manifest does not know them.

    A plugin (or a driver) may read any variable of the process and quote it in a crash message; only
    values long enough not to be a word or a flag (`true`, `1`) are taken.
    """
    return [v for k, v in environ.items() if _looks_secret(k) and len(v.strip()) >= PROCESS_SECRET_MIN_LEN]
