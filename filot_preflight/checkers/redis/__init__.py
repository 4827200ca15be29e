"""Redis (Upstash): rediss:// with a verified certificate, AUTH, PING latency, version, expiry, eviction.

The probe first does its own bounded TCP + TLS handshake with the `ssl` module (to classify TLS
failures exactly and read the server certificate), then talks Redis with redis-py. Every failure
mode becomes its own fact (`error_kind`) and, in `judge`, its own result id with its own fix.
A plain `redis://` URL with a password is judged offline and only probed without credentials
(reachability, does the port speak TLS or RESP?) unless `--allow-plaintext-auth`: the password is
never sent unencrypted. A command the ACL refuses is a fact, and the other reads still run.
Before any of it, the host gate (`net.host_gate`) may refuse the host: then nothing at all is sent.
"""

from __future__ import annotations

import asyncio
import ssl
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from filot_preflight.checkers.base import Budget, CheckContext, Checker
from filot_preflight.checkers.redis.judge import RedisFacts, RedisSettings, judge
from filot_preflight.models import CheckResult
from filot_preflight.net import libraries as libs
from filot_preflight.net import redis_conn as rc
from filot_preflight.net import tls as _tls
from filot_preflight.net.host_gate import LOOKUP_SHARE, check_host_sync

__all__ = ["RedisChecker", "RedisFacts", "RedisSettings", "judge", "probe"]

PING_COUNT = 5
URL_VAR = "REDIS_URL"


@dataclass(frozen=True)
class ProbeInput:
    """What the blocking probe needs (plain values, taken from the context in `probe`)."""

    url: str | None
    ca_files: list[Path] = field(default_factory=list)
    ca_sources: list[str] = field(default_factory=list)
    ca_error: str | None = None
    insecure: bool = False
    timeout: float = 10.0
    allow_plaintext_auth: bool = False
    allow_loopback: bool = False
    budget: Budget | None = None  # the checker's (shared by every step); None: a new one of `timeout`


async def probe(ctx: CheckContext, service: str = "backend") -> RedisFacts:
    """Gather facts about REDIS_URL as `service` sees it; never raises for a network failure."""
    budget = ctx.budget()
    inp = _input(ctx, service, budget)
    try:
        # The probe's steps end with the budget; this outer bound is only for what they cannot bound.
        facts = await asyncio.wait_for(ctx.blocking(probe_sync, inp), timeout=budget.bound())
    except TimeoutError:  # a step the socket timeouts could not bound (e.g. a stuck DNS lookup)
        ep = rc.parse_url(inp.url or "")  # parsed fine in the probe, or it would have returned at once
        facts = RedisFacts(
            scheme=ep.scheme, host=ep.host, port=ep.port, db=ep.db, has_password=ep.password is not None,
            host_kind=_tls.host_kind(ep.host), insecure=inp.insecure, timeout_s=inp.timeout,
            error_kind=_tls.ErrorKind.TIMEOUT, error=f"no answer within {inp.timeout:g}s",
        )
    return facts.redacted(ctx.redactor.redact)


def _input(ctx: CheckContext, service: str, budget: Budget) -> ProbeInput:
    cas = rc.trusted_cas(ctx, service)
    return ProbeInput(
        url=ctx.value(URL_VAR, service),
        ca_files=cas.files,
        ca_sources=cas.sources,
        ca_error=cas.error,
        insecure=ctx.options.insecure,
        timeout=ctx.options.timeout,
        allow_plaintext_auth=ctx.options.allow_plaintext_auth,
        allow_loopback=ctx.options.allow_loopback,
        budget=budget,
    )


def probe_sync(inp: ProbeInput) -> RedisFacts:
    """The blocking probe: URL, TLS handshake, then AUTH, PINGs, INFO and CONFIG with redis-py."""
    base: dict[str, Any] = {
        "insecure": inp.insecure, "timeout_s": inp.timeout, "ca_sources": tuple(inp.ca_sources),
    }
    if not inp.url:
        return RedisFacts(configured=False, **base)
    try:
        ep = rc.parse_url(inp.url)
    except rc.UrlError as e:
        return RedisFacts(configured=True, url_error=str(e), **base)
    base |= {
        "configured": True, "scheme": ep.scheme, "host": ep.host, "port": ep.port, "db": ep.db,
        "has_password": ep.password is not None, "host_kind": _tls.host_kind(ep.host),
    }
    dl = inp.budget or Budget(inp.timeout)
    gate = check_host_sync(ep.host, allow_loopback=inp.allow_loopback, timeout=dl.step(dl.left() * LOOKUP_SHARE))
    base |= {"host_kind": gate.kind, "gate": gate}
    if gate.refused:  # no TCP connection at all, so no credential and no command
        return RedisFacts(**base)
    if inp.ca_error:
        return RedisFacts(ca_error=inp.ca_error, **base)
    base["handshake"] = tuple(rc.handshake_commands(ep))
    if rc.plaintext_login(ep, inp.allow_plaintext_auth):
        return _reach_only(ep, inp, dl, base | {"login_skipped": True})
    if ep.tls:
        try:
            ctx = _tls.client_context(inp.ca_files, insecure=inp.insecure)
        except (ssl.SSLError, ValueError):  # a CA file that exists but holds no PEM certificate
            return RedisFacts(ca_error=f"{' / '.join(inp.ca_sources)}: not a PEM CA bundle", **base)
        tls = _tls.probe_tls(ep.host, ep.port, ctx, dl.step(inp.timeout, keep=dl.keep_for_next()))
        if not tls.tls_ok:
            kind = tls.error_kind
            if kind in (_tls.ErrorKind.HANDSHAKE_TIMEOUT, _tls.ErrorKind.NOT_TLS):
                # Tell "a plain Redis port" from "a host that accepts and never answers".
                plain = rc.resp_answers(ep.host, ep.port, dl.step(inp.timeout))
                kind = "tls_on_plain" if plain else (
                    "no_answer" if kind == _tls.ErrorKind.HANDSHAKE_TIMEOUT else kind
                )
            return RedisFacts(stage="tls", error_kind=kind, error=tls.error, **base)
        base |= {"cert": tls.cert, "tls_version": tls.tls_version}
    return _talk(ep, inp, dl, base)


_TCP_KINDS = (_tls.ErrorKind.DNS, _tls.ErrorKind.REFUSED, _tls.ErrorKind.CONNECT_TIMEOUT, _tls.ErrorKind.UNREACHABLE)


def _reach_only(ep: rc.Endpoint, inp: ProbeInput, dl: Budget, base: dict[str, Any]) -> RedisFacts:
    """redis:// with credentials: reachability and "TLS or plain RESP?" only, no credential sent."""
    tls = _tls.probe_tls(ep.host, ep.port, _tls.client_context(insecure=True),
                         dl.step(inp.timeout, keep=dl.keep_for_next()))
    if tls.tls_ok:
        return RedisFacts(stage="tls", error_kind="plain_on_tls", port_speaks="tls",
                          error="the port completed a TLS handshake (no credentials were sent)", **base)
    if tls.error_kind in _TCP_KINDS:
        return RedisFacts(stage="tcp", error_kind=tls.error_kind, error=tls.error, **base)
    if rc.resp_answers(ep.host, ep.port, dl.step(inp.timeout)):  # a bare PING, no AUTH
        return RedisFacts(port_speaks="resp", **base)
    kind = "no_answer" if tls.error_kind == _tls.ErrorKind.HANDSHAKE_TIMEOUT else (tls.error_kind or "other")
    return RedisFacts(stage="tcp", error_kind=kind, error=tls.error, **base)


def _talk(ep: rc.Endpoint, inp: ProbeInput, dl: Budget, base: dict[str, Any]) -> RedisFacts:
    import redis.exceptions as rex

    # Plain redis:// may be a TLS port that never answers a plain command: keep time to ask it for TLS.
    keep = dl.keep_for_next() if not ep.tls else 0.0
    client = rc.connect(ep, ca_files=inp.ca_files, insecure=inp.insecure, timeout=dl.step(inp.timeout, keep=keep))
    refused: list[str] = []
    try:
        try:
            client.ping()  # connect, TLS, AUTH: not part of the latency sample
        except rex.NoPermissionError as e:
            cmd = rc.refused_command(e)
            if cmd is None or cmd != "ping":  # refused during the handshake (SELECT): no session
                return RedisFacts(stage="redis", error_kind="permission", error=str(e), refused=(cmd or "?",), **base)
            refused.append(cmd)
        except rex.RedisError as e:
            kind = rc.error_kind(e)
            if not ep.tls and kind in (_tls.ErrorKind.RESET, _tls.ErrorKind.TIMEOUT, _tls.ErrorKind.OTHER):
                if _tls.speaks_tls(ep.host, ep.port, dl.step(inp.timeout)):
                    kind = "plain_on_tls"
                elif kind == _tls.ErrorKind.TIMEOUT:
                    kind = "no_answer"
            return RedisFacts(stage="redis", error_kind=kind, error=str(e), **base)
        base["auth_ok"] = True
        if not refused:
            latencies = []
            for _ in range(PING_COUNT):
                t0 = time.perf_counter()
                client.ping()
                latencies.append((time.perf_counter() - t0) * 1000)
            base["ping_ms"] = round(statistics.median(latencies), 2)
        server = _optional(client.info, refused, "server")
        base["version"] = _s(server.get("redis_version"))
        base["mode"] = _s(server.get("redis_mode"))
        # Providers may forbid CONFIG (unknown command / NoPermissionError); INFO memory also has the policy.
        memory = _optional(client.info, refused, "memory")
        base["info_policy"] = _s(memory.get("maxmemory_policy"))
        base["maxmemory"] = int(memory["maxmemory"]) if "maxmemory" in memory else None
        # Every command sent, handshake first (evidence; docs/checks/redis.md lists the same).
        base["commands"] = (*base["handshake"], "PING", "INFO server", "INFO memory", "CONFIG GET maxmemory-policy")
        try:
            cfg: dict[Any, Any] = dict(client.config_get("maxmemory-policy"))
            base["config_policy"] = _s(cfg.get("maxmemory-policy") or cfg.get(b"maxmemory-policy"))
        except rex.ResponseError as e:  # NoPermissionError is a ResponseError too
            base["config_error"] = str(e)[:200]
        return RedisFacts(refused=tuple(refused), **base)
    except rex.RedisError as e:
        return RedisFacts(stage="redis", error_kind=rc.error_kind(e), error=str(e), **base)
    finally:
        client.close()


def _optional(fn: Any, refused: list[str], *args: Any) -> dict[Any, Any]:
    """A read whose refusal (ACL, renamed command) is a missing fact, not a failed connection;
    an ACL refusal is noted in `refused` (the exact grant goes into the fix)."""
    import redis.exceptions as rex

    try:
        return dict(fn(*args))
    except rex.NoPermissionError as e:
        cmd = rc.refused_command(e) or "info"
        if cmd not in refused:
            refused.append(cmd)
        return {}
    except rex.ResponseError:
        return {}


def _s(v: object) -> str | None:
    if v is None:
        return None
    return v.decode() if isinstance(v, bytes) else str(v)


class RedisChecker(Checker):
    """REDIS_URL: TLS, certificate, AUTH, latency, version, certificate expiry and eviction policy."""

    name: ClassVar[str] = "redis"
    subsystem: ClassVar[str] = "redis"
    description: ClassVar[str] = (
        "Redis over TLS: rediss://, verified certificate, AUTH, PING latency, version, expiry, noeviction"
    )
    needs: ClassVar[tuple[str, ...]] = (URL_VAR,)
    libraries = libs.REDIS

    async def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Probe REDIS_URL (the backend's view) and judge the facts."""
        facts = await probe(ctx)
        return judge(facts, RedisSettings(allow_loopback=ctx.options.allow_loopback))
