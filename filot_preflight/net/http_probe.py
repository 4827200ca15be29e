"""Bounded HTTP probing shared by the backend and buli2 checkers: one request is one fact.

A failed connection is an `error_kind` (the `net.kinds.ErrorKind` names plus `read_timeout` and `ca_file`),
never an exception; every kind has its own summary and fix (`failure_text`). httpx is imported lazily.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

from filot_preflight.checkers.base import GRACE, Options
from filot_preflight.net import tls as _tls
from filot_preflight.net.http_facts import CA_FILE as CA_FILE
from filot_preflight.net.http_facts import READ_TIMEOUT as READ_TIMEOUT
from filot_preflight.net.http_facts import HttpOutcome as HttpOutcome
from filot_preflight.net.http_facts import endpoint as endpoint
from filot_preflight.net.http_facts import failure_text as failure_text
from filot_preflight.net.http_facts import join_url as join_url
from filot_preflight.net.http_facts import safe_url as safe_url
from filot_preflight.net.http_facts import url_problem as url_problem

if TYPE_CHECKING:
    import httpx

    from filot_preflight.redact import Redactor

MAX_BODY = 256 * 1024  # enough for any health document; a bigger body is not a health answer
# The HTTP client (importing httpx, loading the CA bundles) was not ready within the budget: on a machine
# this busy no request could have been answered in time either; the checker says so itself.
SETUP_SLOW = "the HTTP client was not ready within --timeout (this machine is very busy); no request was sent"


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
