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

from filot_preflight.checkers import _fixes as fixes
from filot_preflight.checkers import _tls
from filot_preflight.checkers._fixes import Endpoint
from filot_preflight.checkers.base import GRACE, Options

if TYPE_CHECKING:
    import httpx

    from filot_preflight.redact import Redactor

MAX_BODY = 256 * 1024  # enough for any health document; a bigger body is not a health answer
READ_TIMEOUT = "read_timeout"  # connected, request sent, no response: the "accepts and never answers" case
CA_FILE = "ca_file"  # the --ca-file could not be loaded
# The HTTP client (importing httpx, loading the CA bundles) was not ready within the budget: on a machine
# this busy no request could have been answered in time either; the checker says so itself.
SETUP_SLOW = "the HTTP client was not ready within --timeout (this machine is very busy); no request was sent"


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
    """One request, bounded as a whole (a server that trickles bytes cannot hold it past the bound).

    `timeout` is what the checker's budget leaves for this step (`ctx.budget().step()`): httpx's own
    phase timeouts (connect, read ...) get it; the whole-time bound, a little later, catches a server
    that trickles bytes. Either way the failure is named by the stage the request had reached (httpcore's
    trace events): on a loaded machine the whole-time bound can fire before httpx's own phase timer
    (started later, after the connection pool and the GIL), and it must still say "while connecting".
    """
    t0 = time.perf_counter()
    stage = ["pool"]  # before httpcore's first event: waiting for a connection

    def ms() -> float:
        return round((time.perf_counter() - t0) * 1000, 1)

    async def trace(event: str, _info: Any) -> None:
        stage[0] = event

    try:
        status, body, location = await asyncio.wait_for(
            _fetch(client, method, url, headers or {}, content, timeout, trace), timeout=timeout + GRACE
        )
    except TimeoutError:
        return HttpOutcome(False, elapsed_ms=ms(), error_kind=_stage_kind(stage[0]), error="overall time limit")
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
    client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], content: bytes | None, timeout: float,
    trace: Any,
) -> tuple[int, bytes, str]:
    extensions = {"trace": trace}
    async with client.stream(method, url, headers=headers, content=content, timeout=timeout,
                             extensions=extensions) as resp:
        body = b""
        async for chunk in resp.aiter_bytes():
            body += chunk
            if len(body) >= MAX_BODY:
                break
        return resp.status_code, body, resp.headers.get("location", "")


def _stage_kind(event: str) -> str:
    """The timeout kind for a request stopped by the whole-time bound, from httpcore's last trace event
    (`connection.start_tls.started`, `http11.receive_response_headers.started` ...)."""
    name, _, phase = event.rpartition(".")  # "connection.start_tls" + "started" | "complete" | "failed"
    step = name.rpartition(".")[2]
    if event == "pool" or (step in ("connect_tcp", "start_tls") and phase != "complete"):
        return _tls.ErrorKind.CONNECT_TIMEOUT  # (a .failed event: httpx's own timeout was on its way)
    if step in ("connect_tcp", "start_tls", "send_request_headers", "send_request_body") or (
            step == "receive_response_headers" and phase != "complete"):
        return READ_TIMEOUT  # connected, the request sent or about to be: no answer
    return _tls.ErrorKind.TIMEOUT  # the answer had begun: a server trickling bytes


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


# Per error kind: what happened. `{what}` names the endpoint, `{t}` the timeout. The fix of each kind comes
# from the shared table (_fixes), so an HTTP endpoint gets the same advice as Redis or Postgres.
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
