"""Value rules: pure judgements of one manifest variable's value. No I/O, and the value is never printed.

`evaluate(variable, value, ...)` returns `Finding`s: missing, malformed, tls, weak, placeholder,
loopback, test_key, reused, needs_verification, or a single ok. Messages and evidence describe a
value only by its length, an entropy class and (added by the caller) where it came from.
The helpers (`classify_host`, `key_material`, `entropy_class`, `placeholder_kind`, `find_reuse`) are
public so live checkers judge hosts and secrets the same way.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
import socket
import unicodedata
from collections import Counter
from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import parse_qsl, urlsplit

from filot_preflight.manifest import (
    EnumFormat,
    HostPortFormat,
    IntFormat,
    RegexFormat,
    SecretFormat,
    UrlFormat,
    Variable,
)
from filot_preflight.models import EvidenceValue, Status


class Rule(StrEnum):
    """The rule behind a finding; the result id is `secrets.<rule>`."""

    MISSING = "missing"
    OPTIONAL = "optional"
    MALFORMED = "malformed"
    TLS = "tls"
    WEAK = "weak"
    PLACEHOLDER = "placeholder"
    LOOPBACK = "loopback"
    TEST_KEY = "test_key"
    REUSED = "reused"
    NEEDS_VERIFICATION = "needs_verification"
    OK = "ok"


@dataclass(frozen=True)
class Finding:
    """One judgement about one variable: the rule, its status, and the concrete fix."""

    variable: str
    rule: Rule
    status: Status
    summary: str
    remediation: str = ""
    detail: str = ""
    evidence: dict[str, EvidenceValue] = field(default_factory=dict)


Issue = tuple[Rule, str]

DEFAULT_TEST_PREFIXES = ("sk_test_", "pk_test_", "rk_test_", "whsec_test_")
# A plaintext scheme whose TLS twin is what production wants: a TLS problem, not a typo.
_TLS_TWIN = {"redis": "rediss", "http": "https", "ws": "wss", "amqp": "amqps", "ftp": "ftps", "mqtt": "mqtts"}
_TLS_OK = ("require", "verify-ca", "verify-full")
_TLS_WEAK = ("disable", "allow", "prefer")

# --- hosts -----------------------------------------------------------------------------------------

HOST_CLASSES = {
    "loopback": "a loopback address",
    "unspecified": "an unspecified address (0.0.0.0 / ::)",
    "link-local": "a link-local address",
    "private": "a private-network address",
    "reserved": "a reserved, non-public address",
    "local-name": "a local-network name",
    "single-label": "a single-label name that only resolves inside a private network",
}
_LOOPBACK_NAMES = {"localhost", "ip6-localhost", "ip6-loopback", "localhost.localdomain"}
_LOCAL_SUFFIXES = (".local", ".internal", ".localdomain", ".lan", ".home.arpa", ".intranet")
_LEGACY_V4 = re.compile(r"(?:0x[0-9a-f]+|[0-9]+)(?:\.(?:0x[0-9a-f]+|[0-9]+)){0,3}")


def classify_host(host: str) -> str | None:
    """A key of HOST_CLASSES when `host` is not a public address, else None. Names are not resolved."""
    h = host.strip().lower().rstrip(".")
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    h = h.split("%", 1)[0]  # IPv6 zone id (fe80::1%eth0)
    if not h:
        return None
    if h in _LOOPBACK_NAMES or h.endswith(".localhost"):
        return "loopback"
    ip = _parse_ip(h)
    if ip is not None:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        for cls, hit in (
            ("loopback", ip.is_loopback),
            ("unspecified", ip.is_unspecified),
            ("link-local", ip.is_link_local),
            ("private", ip.is_private),
            ("reserved", not ip.is_global or ip.is_multicast or ip.is_reserved),
        ):
            if hit:
                return cls
        return None
    if h.endswith(_LOCAL_SUFFIXES):
        return "local-name"
    return "single-label" if "." not in h else None


def _parse_ip(h: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(h)
    except ValueError:
        pass
    # inet_aton's legacy forms (127.1, 0x7f.1, 2130706433) still reach loopback in most clients.
    if _LEGACY_V4.fullmatch(h):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(h))
        except (OSError, ValueError):
            return None
    return None


# --- entropy and key material -------------------------------------------------------------------

_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+={0,2}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


def _b64_bytes(v: str) -> int | None:
    if not _B64.fullmatch(v) or ("=" in v and len(v) % 4):
        return None
    body = v.rstrip("=")
    if len(body) % 4 == 1:
        return None
    alt = b"-_" if ("-" in body or "_" in body) else None
    try:
        return len(base64.b64decode(body + "=" * (-len(body) % 4), altchars=alt, validate=True))
    except (binascii.Error, ValueError):
        return None


def key_material(value: str, encoding: str = "any") -> tuple[str, int] | None:
    """(encoding, bytes of key material) of a secret; None when a declared encoding does not decode.

    With `any`, hex is tried first (a hex string is also valid base64 and would overstate its
    bytes), then base64, and anything else counts its UTF-8 bytes as text.
    """
    if encoding in ("hex", "any") and _HEX.fullmatch(value):
        return "hex", len(value) // 2
    if encoding == "hex":
        return None
    n = _b64_bytes(value)
    if n is not None:
        return "base64", n
    if encoding == "base64":
        return None
    return "text", len(value.encode("utf-8"))


def _pool(value: str) -> int:
    if re.fullmatch(r"[0-9a-fA-F]+", value):
        return 16
    classes = sum(bool(re.search(c, value)) for c in ("[a-z]", "[A-Z]", "[0-9]"))
    if classes >= 2 and _B64.fullmatch(value):
        return 64  # base64 output: a short key need not show every character class to be random
    pool = 0
    for pattern, size in ((r"[a-z]", 26), (r"[A-Z]", 26), (r"[0-9]", 10), (r"[+/_-]", 2), (r"[^A-Za-z0-9+/_-]", 32)):
        if re.search(pattern, value):
            pool += size
    if any(ord(c) > 127 for c in value):
        pool += 64  # some non-ASCII: a rough allowance, never decisive on its own
    return max(pool, 1)


# Random draws give about `expected_distinct` different characters; a value well below that is not
# random. 0.6 keeps false "medium" verdicts on real 128-bit keys below 1 in 100,000 (measured).
RANDOM_DISTINCT_RATIO = 0.6


def estimate_bits(value: str) -> float:
    """A conservative estimate of the random bits in `value`.

    When the number of distinct characters is what random draws from the character pool would
    give, the value is treated as random (length x log2(pool)); otherwise the Shannon entropy of its
    character distribution is used, and a repeating pattern only counts one period.
    """
    value = value.rstrip("=")  # base64 padding carries no randomness
    n = len(value)
    if n == 0:
        return 0.0
    pool = _pool(value)
    counts = Counter(value)
    expected_distinct = pool * (1 - math.exp(-n / pool))
    period = _period(value)
    if len(counts) >= RANDOM_DISTINCT_RATIO * expected_distinct and period is None:
        return n * math.log2(pool)
    shannon = -sum(c / n * math.log2(c / n) for c in counts.values())
    return min(n * shannon, (period or n) * math.log2(pool))


def entropy_class(value: str) -> str:
    """'low' (< 64 bits), 'medium' (< 128 bits) or 'high'."""
    bits = estimate_bits(value)
    return "low" if bits < 64 else "medium" if bits < 128 else "high"


def _period(v: str, max_period: int = 16) -> int | None:
    """Smallest p <= max_period with v made of one p-character unit repeated (at least twice)."""
    for p in range(1, min(max_period, len(v) // 2) + 1):
        if v[p:] == v[:-p]:
            return p
    return None


def _is_sequence(v: str) -> bool:
    """'abcdef', '123456789012', '987654': each character one step from the last (digits wrap)."""
    if not 5 <= len(v) <= 64:
        return False
    for step in (1, -1):
        if all(
            ord(b) - ord(a) == step or (a, b) == (("9", "0") if step == 1 else ("0", "9"))
            for a, b in zip(v, v[1:], strict=False)
        ):
            return True
    return False


# --- placeholders ---------------------------------------------------------------------------------

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


# --- format checks --------------------------------------------------------------------------------


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
            ok = re.fullmatch(fmt.pattern, v) is not None
        except re.error:
            return [(Rule.MALFORMED, "cannot be checked: the manifest's pattern is invalid")], None, {}
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


# --- remediation text -----------------------------------------------------------------------------


def where_stored(var: Variable) -> str:
    """'AWS Secrets Manager at <id> (JSON key <k>)', or the service environment for plain settings."""
    if var.aws_secret is None:
        return "the service's environment (ECS task definition)"
    key = f" (JSON key {var.aws_secret.key})" if var.aws_secret.key else ""
    return f"AWS Secrets Manager at {var.aws_secret.id}{key}"


def how_to_set(var: Variable) -> str:
    """The concrete fix for a value that must be (re)set: the manifest's recipe, and where it goes."""
    where = where_stored(var)
    verb = "store it in" if var.aws_secret else "set it in"
    if var.obtain:
        step = var.obtain.rstrip(". ")
        # "Generate: openssl rand -base64 48 and store it in ..." reads as one instruction;
        # a where-to-find-it recipe ("From the Neon console, ...") reads better as two sentences.
        text = f"{step} and {verb} {where}" if step.startswith("Generate:") else f"{step}. {verb.capitalize()} {where}"
    elif isinstance(var.format, SecretFormat):
        flag = "-hex" if var.format.encoding == "hex" else "-base64"
        text = f"Generate: openssl rand {flag} {var.format.min_bytes} and {verb} {where}"
    elif var.example and not var.secret:
        text = f"Set {var.name} to a value like {var.example} in {where}"
    else:
        text = f"Set {var.name} ({var.description.rstrip('. ')}) in {where}"
    if var.generate is not None:
        text += f" (or run: preflight secrets generate {var.name})"
    return text + "."


def _remediation(var: Variable, rule: Rule, reasons: Sequence[str], reused_with: Sequence[str]) -> str:
    fix = how_to_set(var)
    if rule is Rule.TLS:
        fmt = var.format
        if isinstance(fmt, UrlFormat) and fmt.tls_param and any(fmt.tls_param in r for r in reasons):
            return (f"Add {fmt.tls_param}=verify-full (or require) to the query string of {var.name} and update "
                    f"it in {where_stored(var)}.")
        return f"Use the TLS URL ({format_hint(var)}). {fix}"
    if rule is Rule.MALFORMED:
        return f"Expected {format_hint(var)}. {fix}"
    if rule is Rule.WEAK:
        return f"Replace it with a new random value. {fix}"
    if rule is Rule.LOOPBACK:
        return (f"Point {var.name} at the production endpoint (a public host). {fix} For a local rehearsal "
                "against loopback services, pass --allow-loopback or set PREFLIGHT_ALLOW_LOOPBACK=true.")
    if rule is Rule.TEST_KEY:
        return f"Use the live (production) key instead of a test-mode key. {fix}"
    if rule is Rule.REUSED:
        return (f"Give {var.name} its own value (it is the same as {', '.join(reused_with)}), so rotating or "
                f"leaking one does not affect the other. {fix}")
    return fix


_SUMMARY_STATUS = {
    Rule.MALFORMED: Status.FAIL, Rule.TLS: Status.FAIL, Rule.LOOPBACK: Status.FAIL,
    Rule.TEST_KEY: Status.FAIL, Rule.REUSED: Status.FAIL,
}


# --- the rules ------------------------------------------------------------------------------------


def evaluate(
    var: Variable,
    value: str | None,
    *,
    present: Collection[str] = (),
    allow_loopback: bool = False,
    offline: bool = False,
    reused_with: Sequence[str] = (),
    checkers: Collection[str] | None = None,
) -> list[Finding]:
    """Every finding for one variable's value (None = not set).

    `present` names the variables that are set (for required_if); `reused_with` names other secrets
    holding the same value (see `find_reuse`); `checkers` names the installed checkers (None: unknown),
    so a value whose `verified_by` checker is missing is still flagged as unverified.
    Returns exactly one finding when the value is absent, a placeholder, or passes everything
    (ok / needs_verification); otherwise one finding per failed rule.
    """
    if value is None or not value.strip():
        return [_absent(var, value is not None, present)]
    v = value.strip()
    ev: dict[str, EvidenceValue] = {"length": len(value)}
    if var.secret and not isinstance(var.format, UrlFormat | HostPortFormat):
        ev["entropy"] = entropy_class(v)
    kind = placeholder_kind(var, v)
    if kind is not None:
        return [Finding(var.name, Rule.PLACEHOLDER, Status.FAIL, f"{var.name} holds a placeholder: {kind}",
                        f"Replace the placeholder with the real value. {how_to_set(var)}", var.description, ev)]
    issues, host_class, extra = _check_format(var, v)
    ev.update(extra)
    if v != value:
        issues.insert(0, (Rule.MALFORMED, "has leading or trailing whitespace"))
    if host_class is not None:
        ev["host_class"] = host_class
        if allow_loopback:
            ev["loopback_allowed"] = True
        else:
            issues.append((Rule.LOOPBACK, f"points to {HOST_CLASSES[host_class]}, not a production endpoint"))
    if var.secret:
        prefixes = [*DEFAULT_TEST_PREFIXES, *(var.format.test_prefixes if isinstance(var.format, SecretFormat) else [])]
        hit = next((p for p in prefixes if v.startswith(p)), None)
        if hit is not None:
            issues.append((Rule.TEST_KEY, f"is a test-mode key (prefix {hit})"))
    if reused_with:
        ev["reused_with"] = list(reused_with)
        issues.append((Rule.REUSED, f"has the same value as {', '.join(reused_with)}"))
    if issues:
        return _merge(var, issues, ev, reused_with)
    if var.verified_by:
        ev["verified_by"] = var.verified_by
        finding = _needs_verification(var, ev, offline, checkers)
        if finding is not None:
            return [finding]
    allowed = " (loopback host allowed)" if ev.get("loopback_allowed") else ""
    return [Finding(var.name, Rule.OK, Status.PASS, f"{var.name} is set and valid{allowed}", "", var.description, ev)]


def _needs_verification(
    var: Variable, ev: dict[str, EvidenceValue], offline: bool, checkers: Collection[str] | None
) -> Finding | None:
    checker = var.verified_by or ""
    installed = checkers is None or checker in checkers
    if installed and not offline:
        return None  # the live checker runs in this very report
    if installed:
        why = f"the {checker} checker confirms it live but was not run (--offline)"
        fix = f"Run `preflight check --only {checker}` with network access to verify it."
    else:
        why = f"no installed checker is named {checker} (its verified_by), so nothing confirms it live"
        source = f" against its source ({var.obtain.rstrip('. ')})" if var.obtain else ""
        fix = (f"Confirm {var.name} by hand{source}, or set its verified_by in the manifest to an installed "
               "checker (`preflight checkers` lists them).")
    return Finding(var.name, Rule.NEEDS_VERIFICATION, Status.WARN, f"{var.name} passes the offline rules; {why}",
                   fix, var.description, ev)


def _absent(var: Variable, blank: bool, present: Collection[str]) -> Finding:
    how = "set but empty" if blank else "not set"
    ev: dict[str, EvidenceValue] = {"length": 0} if blank else {}
    if var.required_if:
        ev["required_if"] = var.required_if
    if var.is_required(set(present)):
        why = f" (required because {var.required_if} is set)" if var.required_if else ""
        return Finding(var.name, Rule.MISSING, Status.FAIL, f"{var.name} is {how}{why}", how_to_set(var),
                       var.description, ev)
    detail = f"Required only when {var.required_if} is set." if var.required_if else "Optional."
    if var.default is not None:
        detail += f" The default {var.default} applies."
    return Finding(var.name, Rule.OPTIONAL, Status.SKIP, f"{var.name}: optional, not set", "",
                   f"{detail} {var.description}", ev)


def _merge(
    var: Variable, issues: list[Issue], ev: dict[str, EvidenceValue], reused_with: Sequence[str]
) -> list[Finding]:
    """One finding per rule, its reasons joined; a weak-but-medium secret is a WARN, the rest FAIL."""
    by_rule: dict[Rule, list[str]] = {}
    for rule, reason in issues:
        by_rule.setdefault(rule, []).append(reason)
    out = []
    for rule, reasons in by_rule.items():
        status = _SUMMARY_STATUS.get(rule, Status.FAIL)
        if rule is Rule.WEAK and all("estimate: medium" in r for r in reasons):
            status = Status.WARN
        out.append(Finding(var.name, rule, status, f"{var.name} " + "; ".join(reasons),
                           _remediation(var, rule, reasons, reused_with), var.description, dict(ev)))
    return out


def find_reuse(items: Iterable[tuple[Hashable, str, str]]) -> dict[Hashable, list[str]]:
    """For (key, variable name, value) triples: key -> the other variable names sharing its value.

    The same name seen twice (one secret read by two services) is not reuse; blank values are ignored.
    """
    names_by_value: dict[str, set[str]] = {}
    entries = [(k, n, v.strip()) for k, n, v in items if v.strip()]
    for _, name, v in entries:
        names_by_value.setdefault(v, set()).add(name)
    return {
        k: sorted(names_by_value[v] - {name}) for k, name, v in entries if len(names_by_value[v]) > 1
    }
