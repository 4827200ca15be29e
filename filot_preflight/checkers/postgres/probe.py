"""The I/O half of the postgres checker: the facts it gathers, and how (DSN, TLS handshake, read-only session).

The DSN is read by `dsn`, the blocking session (handshake, connect, queries) is `session`;
`probe` runs them within the checker's time and turns what they found into `PgFacts`.
psycopg is imported lazily inside the functions that use it, so importing this module stays cheap.
Driver messages are redacted before they become facts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from filot_preflight.checkers.base import CheckContext
from filot_preflight.checkers.postgres.dsn import DsnInfo, parse_dsn
from filot_preflight.checkers.postgres.session import _session, classify_pg_error
from filot_preflight.checkers.postgres.writable import WriteFacts
from filot_preflight.net.host_gate import check_host
from filot_preflight.rules.hosts import HostCheck

__all__ = ["VAR", "VAR_DIRECT", "DsnInfo", "PgFacts", "classify_pg_error", "parse_dsn", "probe"]

VAR = "DATABASE_URL"
VAR_DIRECT = "DATABASE_URL_DIRECT"


@dataclass(frozen=True)
class PgFacts:
    """What the probe found. Driver text in `error` is already redacted; a DSN error is our own words."""

    configured: bool = True
    dsn_error: str | None = None
    dsn: DsnInfo | None = None
    direct: DsnInfo | None = None
    direct_error: str | None = None
    host_kind: str = "public"
    insecure: bool = False
    allow_loopback: bool = False
    connected: bool = False
    error_kind: str | None = None
    error: str = ""
    tls_version: str | None = None
    cert_not_after: str | None = None
    cert_days_left: float | None = None
    read_only: bool | None = None
    server_version: str | None = None
    version_num: int | None = None
    latency_ms: float | None = None
    connections_used: int | None = None
    max_connections: int | None = None
    migration_latest: str | None = None
    migration_applied: bool | None = None
    migration_error: str | None = None
    writable: WriteFacts | None = None
    login_skipped: str | None = None  # why no login was tried (an sslmode that allows plain text)
    tls_offered: bool | None = None  # what the server answered to the SSLRequest, when no login was tried
    plaintext: bool = False  # logged in without TLS (--allow-plaintext-auth, server without TLS)
    direct_facts: PgFacts | None = None  # the same session facts for DATABASE_URL_DIRECT
    gate: HostCheck | None = None  # the pre-connect host gate's finding (refused: nothing was sent)


async def probe(ctx: CheckContext) -> PgFacts:
    """Gather the facts; every failure is a fact, never an exception."""
    raw = ctx.value(VAR)
    if not raw:
        return PgFacts(configured=False)
    # parse_dsn imports psycopg (~120 ms): off the event loop, so other checkers start on time.
    info, err = await ctx.blocking(parse_dsn, raw)
    if info is None:
        return PgFacts(dsn_error=err)
    direct_raw = ctx.value(VAR_DIRECT)
    direct, direct_err = await ctx.blocking(parse_dsn, direct_raw) if direct_raw else (None, None)
    o = ctx.options
    gate, direct_gate = await asyncio.gather(_gate(ctx, info), _gate(ctx, direct))
    facts = PgFacts(
        dsn=info,
        direct=direct,
        direct_error=direct_err,
        host_kind=gate.kind,
        insecure=o.insecure,
        allow_loopback=o.allow_loopback,
        gate=gate,
    )
    session_facts = [_session_facts(ctx, raw, info, full=True) if not gate.refused else _nothing()]
    if direct is not None and direct_raw:
        session_facts.append(_session_facts(ctx, direct_raw, direct, full=False) if not direct_gate.refused
                             else _nothing())
    found = await asyncio.gather(*session_facts)
    facts = replace(facts, **found[0])
    if len(found) > 1:
        facts = replace(facts, direct_facts=replace(PgFacts(dsn=direct, insecure=o.insecure, gate=direct_gate,
                                                            host_kind=direct_gate.kind), **found[1]))
    return facts


async def _gate(ctx: CheckContext, info: DsnInfo | None) -> HostCheck:
    """The host gate for every host libpq may try (a refused one gets no SSLRequest, no password)."""
    if info is None:
        return HostCheck("")
    return await check_host(ctx, *(info.all_hosts or (info.host,)))


async def _nothing() -> dict[str, Any]:
    return {}


async def _session_facts(ctx: CheckContext, raw: str, info: DsnInfo, *, full: bool) -> dict[str, Any]:
    """One bounded session (blocking, in a thread) as PgFacts fields, its driver text redacted.

    Both sessions (DATABASE_URL and DATABASE_URL_DIRECT) run side by side within the checker's one budget."""
    o = ctx.options
    budget = ctx.budget()  # the checker's; the session's steps share it
    try:
        found = await asyncio.wait_for(
            ctx.blocking(_session, raw, info, o.timeout, o.ca_file, o.insecure, ctx.manifest.checks.postgres,
                         o.allow_plaintext_auth, full, budget),
            budget.bound(),
        )
    except TimeoutError:
        return {"error_kind": "timeout", "error": f"no answer within {o.timeout:g}s"}
    if "error" in found:
        found["error"] = ctx.redactor.redact(str(found["error"]))[:500]
    if found.get("migration_error"):
        found["migration_error"] = ctx.redactor.redact(str(found["migration_error"]))[:300]
    w = found.get("writable")
    if w is not None and w.error:
        found["writable"] = replace(w, error=ctx.redactor.redact(w.error)[:300])
    return found
