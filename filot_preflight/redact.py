"""One Redactor that every output path goes through: console, JSON, JUnit, markdown, logs, tracebacks.

It knows every secret value read in this run (and the shapes they leak in: URL-encoded, base64,
the password part of a URL) and also masks patterns that are secret whatever their value: URL
passwords, presigned-URL signatures and credentials, `password=` in key/value DSNs.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

MASK = "***"
MIN_SECRET_LEN = 4  # shorter values would mask ordinary words and digits everywhere
LONG_VALUE = 1024

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
            if parts.password:
                out |= {parts.password, unquote(parts.password)}
        except ValueError:
            pass
    return {v for v in out if len(v) >= MIN_SECRET_LEN}


class Redactor:
    """Replaces known secret values and secret-shaped patterns with ***."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._long: list[str] = []
        self._regex: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Learn more secret values (e.g. a presigned URL minted during a probe)."""
        for s in secrets:
            if s and len(s) >= MIN_SECRET_LEN:
                self._values |= _variants(s)
        # Longest first so a value that contains another is masked whole. Very long values (a
        # pasted PEM bundle, a huge JSON secret) are replaced with str.replace: one alternation of
        # megabyte literals makes compiling and matching the regex take seconds.
        ordered = sorted(self._values, key=len, reverse=True)
        self._long = [v for v in ordered if len(v) > LONG_VALUE]
        short = [v for v in ordered if len(v) <= LONG_VALUE]
        self._regex = re.compile("|".join(re.escape(v) for v in short)) if short else None

    def __call__(self, text: str) -> str:
        return self.redact(text)

    def redact(self, text: str) -> str:
        """Mask every known value and secret-shaped pattern in `text`."""
        if not text:
            return text
        for v in self._long:
            text = text.replace(v, MASK)
        if self._regex is not None:
            text = self._regex.sub(MASK, text)
        for pattern, repl in _PATTERNS:
            text = pattern.sub(repl, text)
        return text

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
