"""Per-format checks of a value (URL, host:port, secret, int, enum, regex) and `format_hint`."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import regex

from filot_preflight.manifest import (
    EnumFormat,
    HostPortFormat,
    IntFormat,
    RegexFormat,
    SecretFormat,
    UrlFormat,
    Variable,
)
from filot_preflight.models import EvidenceValue
from filot_preflight.rules.entropy import entropy_class, key_material
from filot_preflight.rules.findings import Issue, Rule
from filot_preflight.rules.hosts import classify_host

# A plaintext scheme whose TLS twin is what production wants: a TLS problem, not a typo.
PATTERN_TIMEOUT_S = 1.0  # per value; a sane pattern takes microseconds
_TLS_TWIN = {"redis": "rediss", "http": "https", "ws": "wss", "amqp": "amqps", "ftp": "ftps", "mqtt": "mqtts"}
_TLS_OK = ("require", "verify-ca", "verify-full")
_TLS_WEAK = ("disable", "allow", "prefer")


def check_url(fmt: UrlFormat, v: str) -> tuple[list[Issue], str | None]:
    """Scheme, TLS parameter and host of a URL; returns issues and the host's class (None = public)."""
    if "://" not in v:
        return [(Rule.MALFORMED, "is not a URL (expected scheme://host/...)")], None
    try:
        parts = urlsplit(v)
        host = parts.hostname or ""
        _ = parts.port  # raises on a non-numeric or out-of-range port
    except ValueError:
        return [(Rule.MALFORMED, "is not a parseable URL (bad host or port)")], None
    issues: list[Issue] = []
    scheme, allowed = parts.scheme.lower(), [s.lower() for s in fmt.schemes]
    shown = scheme if re.fullmatch(r"[a-z][a-z0-9+.-]{0,24}", scheme) else "an unknown scheme"
    wanted = " or ".join(f"{s}://" for s in allowed)
    if scheme not in allowed:
        if _TLS_TWIN.get(scheme) in allowed:
            issues.append((Rule.TLS, f"uses {shown}:// without TLS; production requires {_TLS_TWIN[scheme]}://"))
        elif "+" in scheme:
            issues.append((Rule.MALFORMED, f"uses the driver-qualified scheme {shown}://, which the app's "
                           f"client does not accept; expected {wanted}"))
        else:
            issues.append((Rule.MALFORMED, f"uses scheme {shown}://; expected {wanted}"))
    if not host:
        issues.append((Rule.MALFORMED, "has no host"))
    if fmt.tls_param:
        issues += _check_tls_param(fmt.tls_param, parts.query)
    return issues, classify_host(host) if host and fmt.public else None


def _check_tls_param(param: str, query: str) -> list[Issue]:
    modes = [val for key, val in parse_qsl(query, keep_blank_values=True) if key == param]
    if not modes:
        return [(Rule.TLS, f"does not ask for TLS: {param} is absent, so the client may fall back to plaintext")]
    if len(set(modes)) > 1:
        return [(Rule.MALFORMED, f"gives {param} more than once with different values")]
    if modes[0] in _TLS_WEAK:
        return [(Rule.TLS, f"has {param}={modes[0]}, which does not require TLS")]
    if modes[0] not in _TLS_OK:
        return [(Rule.MALFORMED, f"has an invalid {param} value (valid: {', '.join(_TLS_WEAK + _TLS_OK)})")]
    return []


_HOSTPORT = re.compile(
    r"\[(?P<v6>[0-9A-Fa-f:.%a-z]+)\]:(?P<p6>[0-9]{1,5})|(?P<host>[A-Za-z0-9._-]+):(?P<port>[0-9]{1,5})"
)


def check_hostport(fmt: HostPortFormat, v: str) -> tuple[list[Issue], str | None]:
    """host:port (Temporal style, no scheme); returns issues and the host's class."""
    if "://" in v:
        return [(Rule.MALFORMED, "is a URL; expected host:port without a scheme")], None
    m = _HOSTPORT.fullmatch(v)
    if not m:
        return [(Rule.MALFORMED, "is not host:port")], None
    host, port = (m["v6"], m["p6"]) if m["v6"] else (m["host"], m["port"])
    if not 1 <= int(port) <= 65535:
        return [(Rule.MALFORMED, "has a port outside 1-65535")], None
    return [], classify_host(host) if fmt.public else None


def check_secret(fmt: SecretFormat, v: str) -> tuple[list[Issue], dict[str, EvidenceValue]]:
    """Decoded length against min_bytes, and the entropy class."""
    ev: dict[str, EvidenceValue] = {"min_bytes": fmt.min_bytes}
    km = key_material(v, fmt.encoding)
    if km is None:
        return [(Rule.MALFORMED, f"is not valid {fmt.encoding}")], ev
    enc, nbytes = km
    ev.update(decoded_bytes=nbytes, encoding=enc)
    if nbytes < fmt.min_bytes:
        unit = "bytes" if enc == "text" else f"bytes once {enc}-decoded"
        return [(Rule.WEAK, f"is too short: {nbytes} {unit}; at least {fmt.min_bytes} random bytes are required")], ev
    cls = entropy_class(v)
    if cls == "low":
        return [(Rule.WEAK, "has too little entropy (estimate: low)")], ev
    if cls == "medium":
        return [(Rule.WEAK, "has less entropy than a random key of this length (estimate: medium)")], ev
    return [], ev


def _check_format(var: Variable, v: str) -> tuple[list[Issue], str | None, dict[str, EvidenceValue]]:
    fmt = var.format
    if isinstance(fmt, UrlFormat):
        return (*check_url(fmt, v), {})
    if isinstance(fmt, HostPortFormat):
        return (*check_hostport(fmt, v), {})
    if isinstance(fmt, SecretFormat):
        issues, ev = check_secret(fmt, v)
        return issues, None, ev
    if isinstance(fmt, IntFormat):
        # [0-9], not \d (Unicode digits) or int() (accepts 1_000): the consumer is Node's parseInt.
        if not re.fullmatch(r"[+-]?[0-9]{1,18}", v):
            return [(Rule.MALFORMED, "is not an integer")], None, {}
        if (fmt.min is not None and int(v) < fmt.min) or (fmt.max is not None and int(v) > fmt.max):
            return [(Rule.MALFORMED, f"is out of bounds ({format_hint(var)})")], None, {}
    if isinstance(fmt, EnumFormat) and v not in fmt.values:
        case = " (values are case-sensitive)" if v.casefold() in {x.casefold() for x in fmt.values} else ""
        return [(Rule.MALFORMED, f"is not one of the allowed values{case}")], None, {}
    if isinstance(fmt, RegexFormat):
        try:
            # `regex` with a timeout: a catastrophic pattern (e.g. `(a+)+$`) on a long value hung the run.
            ok = regex.fullmatch(fmt.pattern, v, timeout=PATTERN_TIMEOUT_S) is not None
        except regex.error:
            return [(Rule.MALFORMED, "cannot be checked: the manifest's pattern is invalid")], None, {}
        except TimeoutError:
            return [(Rule.MALFORMED, f"cannot be checked: the manifest's pattern took over {PATTERN_TIMEOUT_S:g}s "
                     "on this value (simplify the pattern)")], None, {}
        if not ok:
            return [(Rule.MALFORMED, f"does not have the expected format ({format_hint(var)})")], None, {}
    return [], None, {}


def format_hint(var: Variable) -> str:
    """What a valid value looks like, in words."""
    fmt = var.format
    if isinstance(fmt, UrlFormat):
        tls = f" with {fmt.tls_param}=verify-full (or require)" if fmt.tls_param else ""
        public = " on a public host" if fmt.public else ""
        return "a " + " or ".join(f"{s}://" for s in fmt.schemes) + f" URL{tls}{public}"
    if isinstance(fmt, HostPortFormat):
        return "host:port without a scheme" + (" on a public host" if fmt.public else "")
    if isinstance(fmt, SecretFormat):
        enc = "" if fmt.encoding == "any" else f", {fmt.encoding}-encoded"
        return f"at least {fmt.min_bytes} random bytes{enc}"
    if isinstance(fmt, IntFormat):
        lo, hi = fmt.min, fmt.max
        if lo is not None and hi is not None:
            return f"an integer from {lo} to {hi}"
        return f"an integer >= {lo}" if lo is not None else f"an integer <= {hi}" if hi is not None else "an integer"
    if isinstance(fmt, EnumFormat):
        return "one of: " + ", ".join(fmt.values)
    if isinstance(fmt, RegexFormat):
        return fmt.hint or f"matching {fmt.pattern}"
    return "a non-empty value"
