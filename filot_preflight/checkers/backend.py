"""Backend API: health and readiness answer 2xx JSON over verified https; the API host's certificate is not expiring.

Also home of the small bounded-HTTP toolkit (`HttpOutcome`, `http_client`, `http_call`, `failure_text`)
that the BULI2 checker reuses: one request is one fact, a failed connection is an `error_kind`, never
an exception.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from filot_preflight.checkers import _tls
from filot_preflight.checkers.base import CheckContext, Checker, Options, result
from filot_preflight.manifest import BackendSettings
from filot_preflight.models import CheckResult, Status

if TYPE_CHECKING:
    import httpx

    from filot_preflight.redact import Redactor

NAME = "backend"
URL_VAR = "API_BASE_URL"
CERT_WARN_DAYS = 30
MAX_BODY = 256 * 1024  # enough for any health document; a bigger body is not a health answer
READ_TIMEOUT = "read_timeout"  # connected, request sent, no response: the "accepts and never answers" case
CA_FILE = "ca_file"  # the --ca-file could not be loaded
# A step's whole-time bound, as a multiple of --timeout: httpx's per-phase timeouts (connect, read, ...)
# fire first; this catches a server that trickles bytes. Below the runner's 1.5 budget, since the steps
# of a checker run concurrently.
BOUND = 1.3

# --- the bounded-HTTP toolkit (shared with buli2) ------------------------------------------------


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


# --- facts and probe ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertFacts:
    """The API host's TLS handshake: verified or the kind of failure, and the certificate's expiry."""

    tcp_ok: bool
    verified: bool
    error_kind: str | None = None
    not_after: str | None = None  # ISO date
    days_left: float | None = None
    issuer: str = ""
    tls_version: str | None = None


@dataclass(frozen=True)
class BackendFacts:
    """Everything judge() needs; no secret and no full URL (only scheme://host:port/path)."""

    url: str
    url_problem: str | None
    host_kind: str = "public"
    insecure: bool = False
    allow_loopback: bool = False
    timeout: float = 10.0
    health: HttpOutcome | None = None
    ready: HttpOutcome | None = None
    cert: CertFacts | None = None


async def probe(ctx: CheckContext) -> BackendFacts:
    """GET health and ready, and one TLS handshake for the certificate, all concurrently and bounded."""
    opts, s = ctx.options, ctx.manifest.checks.backend
    raw = ctx.value(URL_VAR) or ""
    facts = BackendFacts(url=safe_url(raw) if raw else "", url_problem=url_problem(raw), insecure=opts.insecure,
                         allow_loopback=opts.allow_loopback, timeout=opts.timeout)
    if facts.url_problem in ("missing", "malformed"):
        return facts
    parts = urlsplit(raw)
    facts = replace(facts, host_kind=_tls.host_kind(parts.hostname or ""))
    try:
        client = http_client(opts)
    except (OSError, ValueError) as e:
        failed = HttpOutcome(False, error_kind=CA_FILE, error=ctx.redactor.redact(str(e))[:300])
        return replace(facts, health=failed, ready=failed)
    host, port = parts.hostname or "", parts.port or 443
    cert_step = _probe_cert(ctx, host, port) if parts.scheme == "https" else _nothing()
    async with client:
        health, ready, cert = await asyncio.gather(
            http_call(client, "GET", join_url(raw, s.health_path), timeout=opts.timeout, redactor=ctx.redactor),
            http_call(client, "GET", join_url(raw, s.ready_path), timeout=opts.timeout, redactor=ctx.redactor),
            cert_step,
        )
    return replace(facts, health=health, ready=ready, cert=cert)


_CERT_KINDS = ("unknown_ca", "hostname_mismatch", "cert_expired", "cert_not_yet_valid", "cert_invalid")


async def _nothing() -> CertFacts | None:
    return None


async def _probe_cert(ctx: CheckContext, host: str, port: int) -> CertFacts | None:
    """A verifying handshake; when the certificate is rejected, an unverified one to still read its dates."""
    t = ctx.options.timeout
    try:
        context = _tls.client_context([ctx.options.ca_file] if ctx.options.ca_file else [])
    except (OSError, ValueError):
        return CertFacts(False, False, error_kind=CA_FILE)

    def both() -> tuple[_tls.TlsProbe, _tls.TlsProbe]:
        verified = _tls.probe_tls(host, port, context, t)
        if verified.error_kind not in _CERT_KINDS:
            return verified, verified
        return verified, _tls.probe_tls(host, port, _tls.client_context(insecure=True), t)

    try:
        verified, probe_ = await asyncio.wait_for(ctx.blocking(both), t * BOUND)
    except TimeoutError:
        return CertFacts(False, False, error_kind=_tls.ErrorKind.TIMEOUT)
    cert = probe_.cert
    return CertFacts(
        tcp_ok=verified.tcp_ok,
        verified=verified.tls_ok,
        error_kind=verified.error_kind,
        not_after=cert.not_after.date().isoformat() if cert and cert.not_after else None,
        days_left=cert.days_left() if cert else None,
        issuer=cert.issuer_cn if cert else "",
        tls_version=probe_.tls_version,
    )


# --- judge ----------------------------------------------------------------------------------------


def judge(facts: BackendFacts, settings: BackendSettings) -> list[CheckResult]:
    """Pure: facts to results (url, insecure, health, ready, tls_cert)."""
    out = [_judge_url(facts)]
    if facts.url_problem in ("missing", "malformed"):
        why = f"{URL_VAR} is {'not set' if facts.url_problem == 'missing' else 'not a URL'} (see backend.url)"
        for rid in ("backend.health", "backend.ready", "backend.tls_cert"):
            out.append(result(rid, NAME, Status.SKIP, f"not probed: {why}", target=URL_VAR,
                              remediation=f"Set {URL_VAR} to the API's public https base URL."))
        return out
    if facts.insecure:
        out.append(result("backend.insecure", NAME, Status.WARN, "TLS certificates were not verified (--insecure)",
                          target=facts.url, remediation="Run without --insecure (use --ca-file for a private CA)."))
    out.append(_judge_endpoint("backend.health", facts.health, settings.health_path, facts))
    out.append(_judge_endpoint("backend.ready", facts.ready, settings.ready_path, facts))
    out.append(_judge_cert(facts))
    return out


def _judge_url(f: BackendFacts) -> CheckResult:
    rid, t = "backend.url", URL_VAR
    if f.url_problem == "missing":
        return result(rid, NAME, Status.SKIP, f"{URL_VAR} is not set; the backend cannot be probed", target=t,
                      remediation=f"Set {URL_VAR} to the API's public https base URL, e.g. https://api.example.com.")
    if f.url_problem == "malformed":
        return result(rid, NAME, Status.FAIL, f"{URL_VAR} is not a valid http(s) URL", target=t,
                      remediation=f"Set {URL_VAR} to the API's public https base URL, e.g. https://api.example.com.")
    if f.url_problem == "not_https":
        # Plain http is never acceptable in production, not even behind --allow-loopback.
        return result(rid, NAME, Status.FAIL, f"{URL_VAR} uses plain http", target=t, evidence={"url": f.url},
                      remediation=f"Serve the API over https and set {URL_VAR} to its https URL.")
    ev: dict[str, Any] = {"url": f.url, "host_kind": f.host_kind}
    if f.host_kind != "public":
        if not f.allow_loopback:
            return result(rid, NAME, Status.FAIL, f"{URL_VAR} points at a {f.host_kind} host", target=t, evidence=ev,
                          remediation=f"Set {URL_VAR} to the API's public host name (--allow-loopback for a sandbox).")
        ev["loopback_allowed"] = True
    return result(rid, NAME, Status.PASS, f"{URL_VAR} is an https URL", target=t, evidence=ev)


def _judge_endpoint(rid: str, o: HttpOutcome | None, path: str, f: BackendFacts) -> CheckResult:
    rule = rid.split(".", 1)[1]
    target, what = f"{URL_VAR} + {path}", f"{rule} endpoint {path}"
    if o is None:  # pragma: no cover - probe always fills both when the URL is usable
        return result(rid, NAME, Status.SKIP, f"{what} not probed", target=target, remediation=f"Set {URL_VAR}.")
    ev: dict[str, Any] = {"latency_ms": o.elapsed_ms}
    if not o.answered:
        summary, fix = failure_text(o.error_kind, what, URL_VAR, f.timeout)
        ev["error_kind"] = o.error_kind
        return result(rid, NAME, Status.FAIL, summary, target=target, detail=o.error, remediation=fix, evidence=ev)
    assert o.status is not None
    ev |= {"status": o.status, "body_bytes": o.body_bytes, "json": o.is_json}
    if o.unhealthy_keys:
        ev["unhealthy"] = list(o.unhealthy_keys)
    if 200 <= o.status < 300 and o.is_json:
        return result(rid, NAME, Status.PASS, f"{what} answered {o.status} in {o.elapsed_ms:g} ms", target=target,
                      evidence=ev)
    if 200 <= o.status < 300:
        return result(rid, NAME, Status.FAIL, f"{what} answered {o.status} but not with JSON", target=target,
                      evidence=ev, remediation=f"{URL_VAR} may point at a web page or proxy, not the API: "
                      f"the API's {path} answers JSON; fix the URL or the route.")
    if 300 <= o.status < 400:
        ev["location"] = o.location
        return result(rid, NAME, Status.FAIL, f"{what} redirects ({o.status}) to {o.location or '?'}", target=target,
                      evidence=ev, remediation=f"Set {URL_VAR} to the final URL (no redirects in front of the API).")
    if o.status in (404, 405):
        return result(rid, NAME, Status.FAIL, f"{what} not found ({o.status})", target=target, evidence=ev,
                      remediation=f"Deploy the {path} route, or set checks.backend.{rule}_path in the manifest.")
    if o.status >= 500:
        comp = f" (failing: {', '.join(o.unhealthy_keys)})" if o.unhealthy_keys else ""
        return result(rid, NAME, Status.FAIL, f"{what} answered {o.status}{comp}", target=target, evidence=ev,
                      remediation="The API is up but unhealthy or not ready: read its logs and fix the failing "
                      "dependency (database, Redis, config) before deploying.")
    return result(rid, NAME, Status.FAIL, f"{what} answered {o.status}", target=target, evidence=ev,
                  remediation=f"{path} must answer 2xx without credentials; check auth middleware and WAF rules.")


def _judge_cert(f: BackendFacts) -> CheckResult:
    rid, target = "backend.tls_cert", f.url
    c = f.cert
    if c is None:
        return result(rid, NAME, Status.SKIP, "certificate not checked: the API URL is not https", target=target,
                      remediation="Serve the API over https (see backend.url).")
    ev: dict[str, Any] = {"not_after": c.not_after, "days_left": c.days_left, "issuer": c.issuer or None,
                          "tls_version": c.tls_version}
    if not c.tcp_ok:
        summary, fix = failure_text(c.error_kind, "API host", URL_VAR, f.timeout)
        return result(rid, NAME, Status.SKIP, f"certificate not checked: {summary}", target=target,
                      remediation=fix, evidence={"error_kind": c.error_kind})
    if c.days_left is not None and c.days_left < 0:
        return result(rid, NAME, Status.FAIL, f"TLS certificate expired on {c.not_after}", target=target, evidence=ev,
                      remediation="Renew the API's certificate now (and automate renewal).")
    if not c.verified:
        ev["error_kind"] = c.error_kind
        summary, fix = failure_text(c.error_kind, "API host", URL_VAR, f.timeout)
        # With --insecure the run accepted this on purpose; clients that verify will still refuse it.
        status = Status.WARN if f.insecure and c.error_kind not in ("not_tls", "handshake_timeout") else Status.FAIL
        return result(rid, NAME, status, summary, target=target, evidence=ev, remediation=fix)
    if c.days_left is not None and c.days_left < CERT_WARN_DAYS:
        return result(rid, NAME, Status.WARN, f"TLS certificate expires in {c.days_left:g} days ({c.not_after})",
                      target=target, evidence=ev, remediation="Renew the API's certificate before it expires.")
    left = f"{c.days_left:g} days left" if c.days_left is not None else "expiry unknown"
    return result(rid, NAME, Status.PASS, f"TLS certificate verified, {left}", target=target, evidence=ev)


class BackendChecker(Checker):
    """Health and readiness of the backend API, https, and its certificate's expiry."""

    name = NAME
    subsystem = NAME
    description = "API_BASE_URL health and ready endpoints answer 2xx JSON over https; certificate not expiring"
    needs = (URL_VAR,)
    network = True

    async def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Probe, then judge."""
        return judge(await probe(ctx), ctx.manifest.checks.backend)
