"""Backend API: health and readiness answer 2xx JSON over verified https; the API host's certificate is not expiring.

Probe (bounded, concurrent: two GETs and one TLS handshake), then a pure judge. The HTTP toolkit lives in
`net.http_probe` (shared with buli2).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from filot_preflight.checkers.base import Budget, CheckContext, Checker, result
from filot_preflight.manifest import BackendSettings
from filot_preflight.models import CheckResult, Status
from filot_preflight.net import fixes
from filot_preflight.net import libraries as libs
from filot_preflight.net import tls as _tls
from filot_preflight.net.fixes import refused_summary
from filot_preflight.net.host_gate import check_host
from filot_preflight.net.http_probe import (
    CA_FILE,
    SETUP_SLOW,
    HttpOutcome,
    endpoint,
    failure_text,
    http_call,
    http_client,
    join_url,
    safe_url,
    url_problem,
)
from filot_preflight.rules.hosts import HostCheck

NAME = "backend"
URL_VAR = "API_BASE_URL"
SERVICE = "the API"
CERT_WARN_DAYS = 30


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
    gate: HostCheck | None = None  # the pre-connect host gate's finding (refused: nothing was sent)


async def probe(ctx: CheckContext) -> BackendFacts:
    """GET health and ready, and one TLS handshake for the certificate, all concurrently and bounded."""
    opts, s = ctx.options, ctx.manifest.checks.backend
    budget = ctx.budget()  # shared by the steps below: each request gets what is left when it starts
    raw = ctx.value(URL_VAR) or ""
    facts = BackendFacts(url=safe_url(raw) if raw else "", url_problem=url_problem(raw), insecure=opts.insecure,
                         allow_loopback=opts.allow_loopback, timeout=opts.timeout)
    if facts.url_problem in ("missing", "malformed"):
        return facts
    parts = urlsplit(raw)
    gate = await check_host(ctx, parts.hostname or "")
    facts = replace(facts, host_kind=gate.kind, gate=gate)
    if gate.refused:  # no request and no handshake to a host the policy refuses
        return facts
    try:
        # Off the event loop: importing httpx and loading CA bundles takes ~150 ms that would
        # otherwise delay every other checker's start.
        client = await asyncio.wait_for(ctx.blocking(http_client, opts), budget.bound())
    except TimeoutError:
        slow = HttpOutcome(False, error_kind=_tls.ErrorKind.TIMEOUT, error=SETUP_SLOW)
        return replace(facts, health=slow, ready=slow)
    except (OSError, ValueError) as e:
        failed = HttpOutcome(False, error_kind=CA_FILE, error=ctx.redactor.redact(str(e))[:300])
        return replace(facts, health=failed, ready=failed)
    host, port = parts.hostname or "", parts.port or 443
    cert_step = _probe_cert(ctx, host, port, budget) if parts.scheme == "https" else _nothing()
    async with client:
        health, ready, cert = await asyncio.gather(
            http_call(client, "GET", join_url(raw, s.health_path), timeout=budget.step(), redactor=ctx.redactor),
            http_call(client, "GET", join_url(raw, s.ready_path), timeout=budget.step(), redactor=ctx.redactor),
            cert_step,
        )
    return replace(facts, health=health, ready=ready, cert=cert)


_CERT_KINDS = ("unknown_ca", "hostname_mismatch", "cert_expired", "cert_not_yet_valid", "cert_invalid")


async def _nothing() -> CertFacts | None:
    return None


async def _probe_cert(ctx: CheckContext, host: str, port: int, budget: Budget) -> CertFacts | None:
    """A verifying handshake; when the certificate is rejected, an unverified one to still read its dates."""
    try:
        context = _tls.client_context([ctx.options.ca_file] if ctx.options.ca_file else [])
    except (OSError, ValueError):
        return CertFacts(False, False, error_kind=CA_FILE)

    def both() -> tuple[_tls.TlsProbe, _tls.TlsProbe]:
        verified = _tls.probe_tls(host, port, context, budget.step())
        if verified.error_kind not in _CERT_KINDS:
            return verified, verified
        return verified, _tls.probe_tls(host, port, _tls.client_context(insecure=True), budget.step())

    try:
        verified, probe_ = await asyncio.wait_for(ctx.blocking(both), budget.bound())
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
    if facts.gate is not None and facts.gate.refused:
        for rid in ("backend.health", "backend.ready", "backend.tls_cert"):
            out.append(result(rid, NAME, Status.SKIP, f"not probed: nothing is sent to {facts.gate.host} "
                              "(see backend.url)", target=URL_VAR,
                              remediation=f"Set {URL_VAR} to the API's public https base URL."))
        return out
    if facts.insecure:
        out.append(result("backend.insecure", NAME, Status.WARN, "TLS certificates were not verified (--insecure)",
                          target=facts.url, remediation=fixes.insecure_fix()))
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
    if f.gate is not None and f.gate.refused:
        return result(rid, NAME, Status.FAIL, refused_summary(URL_VAR, f.gate), target=t,
                      evidence={"url": f.url, "host_kind": f.host_kind, **f.gate.evidence()},
                      remediation=fixes.fix("host_refused", endpoint(URL_VAR, f.url, SERVICE)))
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
        summary, fix = failure_text(o.error_kind, what, URL_VAR, f.timeout, url=f.url, service=SERVICE)
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
        summary, fix = failure_text(c.error_kind, "API host", URL_VAR, f.timeout, url=f.url, service=SERVICE)
        return result(rid, NAME, Status.SKIP, f"certificate not checked: {summary}", target=target,
                      remediation=fix, evidence={"error_kind": c.error_kind})
    if c.days_left is not None and c.days_left < 0:
        return result(rid, NAME, Status.FAIL, f"TLS certificate expired on {c.not_after}", target=target, evidence=ev,
                      remediation=fixes.fix("cert_expired", endpoint(URL_VAR, f.url, SERVICE)))
    if not c.verified:
        ev["error_kind"] = c.error_kind
        summary, fix = failure_text(c.error_kind, "API host", URL_VAR, f.timeout, url=f.url, service=SERVICE)
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
    libraries = libs.HTTP
    network = True
    phase = "any"  # also post-deployment: liveness of the deployed endpoints

    async def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Probe, then judge."""
        return judge(await probe(ctx), ctx.manifest.checks.backend)
