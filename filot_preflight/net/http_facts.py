"""What an HTTP probe found and how its failures read: plain data and text, no I/O (judges import this)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from filot_preflight.net import fixes
from filot_preflight.net.fixes import Endpoint

READ_TIMEOUT = "read_timeout"  # connected, request sent, no response: the "accepts and never answers" case
CA_FILE = "ca_file"  # the --ca-file could not be loaded


@dataclass(frozen=True)
class HttpOutcome:
    """What one bounded HTTP request found. `answered` is False when no HTTP response came back."""

    answered: bool
    status: int | None = None
    elapsed_ms: float = 0.0
    body_bytes: int = 0
    is_json: bool = False
    unhealthy_keys: tuple[str, ...] = ()  # top-level JSON keys reporting a failed component
    location: str = ""  # redirect target without query
    error_kind: str | None = None
    error: str = ""  # already redacted


def safe_url(url: str) -> str:
    """scheme://host[:port]/path of `url`: no credentials, query or fragment (they may hold secrets)."""
    try:
        p = urlsplit(url)
        host = p.hostname or ""
        port = f":{p.port}" if p.port else ""
    except ValueError:
        return "(malformed URL)"
    host = f"[{host}]" if ":" in host else host
    return f"{p.scheme}://{host}{port}{p.path}"


def join_url(base: str, path: str) -> str:
    """`base` + `path` with exactly one slash between (keeps a base path like /v2)."""
    return f"{base.rstrip('/')}/{path.lstrip('/')}"


def url_problem(url: str | None) -> str | None:
    """None for a usable https URL, else 'missing', 'malformed' or 'not_https'."""
    if not url:
        return "missing"
    try:
        p = urlsplit(url)
        ok = p.scheme in ("http", "https") and bool(p.hostname)
        _ = p.port  # raises on a bad port
    except ValueError:
        ok = False
    if not ok:
        return "malformed"
    return None if p.scheme == "https" else "not_https"


# Per error kind: what happened. `{what}` names the endpoint, `{t}` the timeout. The fix of each kind comes
# from the shared table (net.fixes), so an HTTP endpoint gets the same advice as Redis or Postgres.
_FAILURES: dict[str, str] = {
    "dns": "{what}: the host name does not resolve",
    "refused": "{what}: connection refused",
    "connect_timeout": "{what}: no answer within {t}s while connecting (TCP or TLS handshake)",
    "handshake_timeout": "{what}: TCP connected but the TLS handshake got no answer within {t}s",
    READ_TIMEOUT: "{what}: connected, but no HTTP response within {t}s",
    "timeout": "{what}: no complete answer within {t}s",
    "unreachable": "{what}: network or host unreachable",
    "reset": "{what}: the connection was closed without an HTTP answer",
    "not_tls": "{what}: the port does not speak TLS",
    "unknown_ca": "{what}: certificate is not signed by a trusted CA",
    "hostname_mismatch": "{what}: certificate is not valid for this host name",
    "cert_expired": "{what}: TLS certificate has expired",
    "cert_not_yet_valid": "{what}: TLS certificate is not valid yet",
    "cert_invalid": "{what}: TLS certificate verification failed",
    "tls_error": "{what}: TLS handshake failed",
    CA_FILE: "{what}: the --ca-file could not be loaded",
}
# httpx reports a TLS handshake that never answers as a connect timeout too; a TLS port hangs up on plain http.
_NOTES = {"unreachable": "A port that does not speak TLS times out the same way: check that it is an https port.",
          "reset": "An http:// URL on an https port ends the same way: use https:// in {var}."}


def endpoint(var: str, url: str, service: str) -> Endpoint:
    """The endpoint of an http(s) URL (already stripped by `safe_url`) for the shared fix table."""
    try:
        p = urlsplit(url)
        host, port = p.hostname or "", p.port or (443 if p.scheme == "https" else 80 if p.scheme == "http" else None)
    except ValueError:
        host, port = "", None
    return Endpoint(var, service, host=host, port=port if host else None, default_port="https: 443",
                    tls_switch=f"use https:// in {var}", notes={k: v.format(var=var) for k, v in _NOTES.items()})


def failure_text(kind: str | None, what: str, var: str, timeout: float, *, url: str = "",
                 service: str = "the service") -> tuple[str, str]:
    """(summary, remediation) for a request that got no HTTP answer; every error kind has its own fix."""
    summary = _FAILURES.get(kind or "", "{what}: request failed")
    return summary.format(what=what, t=f"{timeout:g}"), fixes.fix(kind, endpoint(var, url, service))
