"""Bounded HTTP probing shared by the backend and buli2 checkers: one request is one fact.

A failed connection is an `error_kind` (the `_tls.ErrorKind` names plus `read_timeout` and `ca_file`),
never an exception; every kind has its own summary and fix (`failure_text`). httpx is imported lazily.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from filot_preflight.checkers import _tls
from filot_preflight.checkers.base import Options

if TYPE_CHECKING:
    import httpx

    from filot_preflight.redact import Redactor

MAX_BODY = 256 * 1024  # enough for any health document; a bigger body is not a health answer
READ_TIMEOUT = "read_timeout"  # connected, request sent, no response: the "accepts and never answers" case
CA_FILE = "ca_file"  # the --ca-file could not be loaded
# A step's whole-time bound, as a multiple of --timeout: httpx's per-phase timeouts (connect, read, ...)
# fire first; this catches a server that trickles bytes. Below the runner's 1.5 budget, since the steps
# of a checker run concurrently.
BOUND = 1.3


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


def http_client(options: Options) -> httpx.AsyncClient:
    """An AsyncClient: TLS verified (system store + --ca-file), explicit timeouts, no redirects, no env config.

    trust_env=False: a ~/.netrc or SSL_CERT_FILE must not silently change what is being verified.
    Raises OSError/ssl.SSLError when --ca-file cannot be loaded (callers record kind `ca_file`).
    """
    import httpx

    ca = [options.ca_file] if options.ca_file else []
    context = _tls.client_context(ca, insecure=options.insecure)
    return httpx.AsyncClient(
        verify=context,
        timeout=httpx.Timeout(options.timeout),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": "filot-preflight"},
    )


async def http_call(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    timeout: float,
    redactor: Redactor,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> HttpOutcome:
    """One request, bounded as a whole (a server that trickles bytes cannot hold it past the bound)."""
    t0 = time.perf_counter()

    def ms() -> float:
        return round((time.perf_counter() - t0) * 1000, 1)

    try:
        status, body, location = await asyncio.wait_for(
            _fetch(client, method, url, headers or {}, content), timeout=timeout * BOUND
        )
    except TimeoutError:
        return HttpOutcome(False, elapsed_ms=ms(), error_kind=_tls.ErrorKind.TIMEOUT, error="overall time limit")
    except Exception as e:  # noqa: BLE001 - every failure becomes a fact
        return HttpOutcome(False, elapsed_ms=ms(), error_kind=classify_http(e), error=redactor.redact(str(e))[:300])
    parsed = _parse_json(body)
    return HttpOutcome(
        True,
        status=status,
        elapsed_ms=ms(),
        body_bytes=len(body),
        is_json=parsed is not None,
        unhealthy_keys=_unhealthy(parsed),
        location=safe_url(location) if location else "",
    )


async def _fetch(
    client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], content: bytes | None
) -> tuple[int, bytes, str]:
    async with client.stream(method, url, headers=headers, content=content) as resp:
        body = b""
        async for chunk in resp.aiter_bytes():
            body += chunk
            if len(body) >= MAX_BODY:
                break
        return resp.status_code, body, resp.headers.get("location", "")


def classify_http(exc: BaseException) -> str:
    """ErrorKind of an httpx failure; httpx's own timeout classes tell the stage apart."""
    import httpx

    if isinstance(exc, httpx.ConnectTimeout):
        return _tls.ErrorKind.CONNECT_TIMEOUT
    if isinstance(exc, httpx.ReadTimeout):
        return READ_TIMEOUT
    if isinstance(exc, httpx.TimeoutException):
        return _tls.ErrorKind.TIMEOUT
    kind = _tls.classify(exc)
    if kind == _tls.ErrorKind.OTHER and isinstance(exc, httpx.RemoteProtocolError):
        return _tls.ErrorKind.RESET  # e.g. the server closed without an HTTP response
    return kind


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return None


_BAD = {"down", "error", "fail", "failed", "failing", "unhealthy", "not_ready", "unavailable"}


def _unhealthy(doc: Any) -> tuple[str, ...]:
    """Names (never values) of components a health document reports as failed."""
    if not isinstance(doc, dict):
        return ()
    items: dict[Any, Any] = doc["checks"] if isinstance(doc.get("checks"), dict) else doc
    bad = []
    for k, v in items.items():
        state = v.get("status") if isinstance(v, dict) else v
        if state is False or (isinstance(state, str) and state.lower() in _BAD):
            bad.append(str(k))
    return tuple(sorted(bad))[:20]


# Per error kind: (what happened, the fix). `{what}` names the endpoint, `{var}` the variable, `{t}` the timeout.
_FAILURES: dict[str, tuple[str, str]] = {
    "dns": ("{what}: the host name does not resolve",
        "Check the host in {var} for typos and that its DNS record exists."),
    "refused": ("{what}: connection refused",
        "Nothing listens there: check the port in {var} and that the service runs."),
    "connect_timeout": ("{what}: no answer within {t}s while connecting (TCP or TLS handshake)",
        "Check host and port in {var}, firewalls / security groups, and that the port speaks TLS."),
    "handshake_timeout": ("{what}: TCP connected but the TLS handshake got no answer within {t}s",
        "The port accepts connections but does not speak TLS to us: check the port in {var} and the TLS listener."),
    READ_TIMEOUT: ("{what}: connected, but no HTTP response within {t}s",
        "The server accepts connections and never answers: check that the app is not hung, and the proxy's upstream."),
    "timeout": ("{what}: no complete answer within {t}s",
        "Check that the service is up and not overloaded; retry with a larger --timeout."),
    "unreachable": ("{what}: network or host unreachable",
        "Check routing / VPC egress from where preflight runs to {var}."),
    "reset": ("{what}: the connection was closed without an HTTP answer",
        "Check that {var} points at an HTTP(S) service and the load balancer's listener."),
    "not_tls": ("{what}: the port does not speak TLS",
        "Use the https port in {var}, or terminate TLS in front of the service."),
    "unknown_ca": ("{what}: certificate is not signed by a trusted CA",
        "Serve a certificate from a public CA with its full chain (intermediates); for a private CA pass --ca-file."),
    "hostname_mismatch": ("{what}: certificate is not valid for this host name",
        "Use the host name the certificate was issued for in {var}, or reissue it with this name in subjectAltName."),
    "cert_expired": ("{what}: TLS certificate has expired", "Renew the server certificate (and automate renewal)."),
    "cert_not_yet_valid": ("{what}: TLS certificate is not valid yet",
        "Check the server's certificate dates and the clocks."),
    "cert_invalid": ("{what}: TLS certificate verification failed",
        "Serve a valid certificate for this host with its full chain."),
    "tls_error": ("{what}: TLS handshake failed", "Check the server's TLS configuration (protocol versions, ciphers)."),
    CA_FILE: ("{what}: the --ca-file could not be loaded",
        "Pass a readable PEM CA bundle to --ca-file (PREFLIGHT_CA_FILE)."),
}


def failure_text(kind: str | None, what: str, var: str, timeout: float) -> tuple[str, str]:
    """(summary, remediation) for a request that got no HTTP answer; every error kind has its own fix."""
    fallback = ("{what}: request failed", "Check {var} and that the service is reachable.")
    summary, fix = _FAILURES.get(kind or "", fallback)
    return summary.format(what=what, var=var, t=f"{timeout:g}"), fix.format(var=var)
