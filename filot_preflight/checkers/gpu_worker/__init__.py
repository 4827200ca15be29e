"""GPU worker: same Redis and queue keys as the backend, and a queue that is really being consumed.

Two parts. Consistency (no I/O): the backend's values against the worker's (`--env-file
gpu-worker=worker.env`): Redis endpoint, database, TLS and every queue key named in `checks.queue`.
Live (read-only, see `live` and `_queue_bullmq`): queue depth, oldest job age, dead letters,
stalled jobs and the workers (BullMQ's named connections, or the manifest's heartbeat key), read from
the backend's Redis. Never a command that pops, moves or writes; never a password over plain redis://
(unless --allow-plaintext-auth).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from filot_preflight.checkers.base import Budget, CheckContext, Checker
from filot_preflight.checkers.gpu_worker.bullmq import queue_base
from filot_preflight.checkers.gpu_worker.judge import GpuFacts, KeyPair, LiveFacts, RedisView, judge
from filot_preflight.checkers.gpu_worker.layouts import read_queue
from filot_preflight.checkers.gpu_worker.live import (
    CountFacts,
    HeartbeatFacts,
    QueueFacts,
    ReadOnlyRedis,
    depth_of,
    parse_time,
)
from filot_preflight.manifest import QueueSettings
from filot_preflight.models import CheckResult
from filot_preflight.net import libraries as libs
from filot_preflight.net import redis_conn as rc
from filot_preflight.net import tls as _tls
from filot_preflight.net.host_gate import check_host

__all__ = ["GpuFacts", "GpuWorkerChecker", "judge", "probe"]

WORKER = "gpu-worker"
URL_VAR = "REDIS_URL"


def redis_view(ctx: CheckContext, service: str) -> RedisView:
    """How `service` reaches Redis, without credentials; `own` when the value is labelled for it."""
    v = ctx.values.get(URL_VAR, service)
    if v is None:
        return RedisView(present=False)
    base = RedisView(present=True, origin=v.origin, own=v.service == service)
    try:
        ep = rc.parse_url(v.value.get_secret_value())
    except rc.UrlError as e:
        return dataclasses.replace(base, error=str(e))
    return dataclasses.replace(
        base, host=ep.host.lower(), port=ep.port, db=ep.db, tls=ep.tls, username=ep.username or "default"
    )


def key_pairs(ctx: CheckContext, q: QueueSettings) -> tuple[KeyPair, ...]:
    """Every queue-related variable in the manifest, as the backend and the worker see it."""
    roles = [(v, "queue") for v in q.queue_key_vars]
    roles += [(q.dead_letter_var, "dead_letter")] if q.dead_letter_var else []
    roles += [(q.heartbeat_key_var, "heartbeat")] if q.heartbeat_key_var else []
    out = []
    for var, role in roles:
        w = ctx.values.get(var, WORKER)
        out.append(KeyPair(var, role, ctx.value(var), ctx.value(var, WORKER), bool(w and w.service == WORKER)))
    return tuple(out)


def _same_credentials(ctx: CheckContext) -> bool | None:
    urls = [ctx.value(URL_VAR), ctx.value(URL_VAR, WORKER)]
    try:
        a, b = (rc.parse_url(u) for u in urls if u)
    except (ValueError, rc.UrlError):
        return None
    # Compared here and reduced to a boolean: no credential ever reaches the facts.
    return (a.username or "default", a.password) == (b.username or "default", b.password)


async def probe(ctx: CheckContext) -> GpuFacts:
    """Consistency facts from the value store, then live facts from Redis (bounded, read-only)."""
    q = ctx.manifest.checks.queue
    pairs = key_pairs(ctx, q)
    facts = GpuFacts(
        worker_view=WORKER in ctx.values.services(),
        backend_redis=redis_view(ctx, "backend"),
        worker_redis=redis_view(ctx, WORKER),
        same_credentials=_same_credentials(ctx),
        keys=pairs,
    )
    url = ctx.value(URL_VAR)
    if not url or facts.backend_redis.error:
        why = "REDIS_URL is not set or not a Redis URL (see the redis checker)"
        return dataclasses.replace(facts, live_skipped=why)
    if not any(p.role == "queue" and p.backend for p in pairs):
        return dataclasses.replace(facts, live_skipped="no queue key is set (checks.queue.queue_key_vars)")
    cas = rc.trusted_cas(ctx)
    if cas.error:
        return dataclasses.replace(facts, live_skipped=cas.error)
    if rc.plaintext_login(rc.parse_url(url), ctx.options.allow_plaintext_auth):
        why = ("REDIS_URL is plain redis://, so its password would cross the network unencrypted: login not tried "
               "(--allow-plaintext-auth sends it)")
        return dataclasses.replace(facts, live_skipped=why)
    gate = await check_host(ctx, rc.parse_url(url).host)
    if gate.refused:  # the host policy of every probe (net.host_gate): no connection, nothing sent
        return dataclasses.replace(facts, live=LiveFacts(error_kind=_tls.ErrorKind.HOST_REFUSED, error=gate.reason))
    budget = ctx.budget()  # the checker's, shared with the steps that came before
    try:
        live = await asyncio.wait_for(
            ctx.blocking(_live, rc.parse_url(url), pairs, q, cas.files, ctx.options.insecure, budget),
            timeout=budget.bound(),
        )
    except TimeoutError:
        live = LiveFacts(error_kind=_tls.ErrorKind.TIMEOUT, error=f"no answer within {ctx.options.timeout:g}s")
    queues = tuple(_redact_queue(qf, ctx.redactor.redact) for qf in live.queues)
    return dataclasses.replace(facts, live=dataclasses.replace(live, error=ctx.redactor.redact(live.error),
                                                               queues=queues))


def _redact_queue(qf: QueueFacts, redact: Callable[[str], str]) -> QueueFacts:
    """Server text kept in the facts (a refused CLIENT LIST's message) goes through the redactor."""
    if qf.bull is None or not qf.bull.workers_problem:
        return qf
    return dataclasses.replace(qf, bull=dataclasses.replace(qf.bull, workers_problem=redact(qf.bull.workers_problem)))


def _live(
    ep: rc.Endpoint, pairs: tuple[KeyPair, ...], q: QueueSettings, ca_files: list[Path], insecure: bool, budget: Budget
) -> LiveFacts:
    import redis.exceptions as rex

    client = rc.connect(ep, ca_files=ca_files, insecure=insecure, timeout=budget.step())
    ro = ReadOnlyRedis(client)
    try:
        now = ro.time()  # the server's clock: ages do not depend on this machine's clock
        queues = tuple(
            read_queue(ro, p.var, p.backend, q.layout, q.job_timestamp_field, now, q.prefix)
            for p in pairs
            if p.role == "queue" and p.backend
        )
        return LiveFacts(queues=queues, dead=_dead(ro, pairs, q), heartbeat=_heartbeat(ro, pairs, now),
                         commands=tuple(rc.handshake_commands(ep) + ro.sent))
    except rex.RedisError as e:
        refused = rc.refused_command(e) if isinstance(e, rex.NoPermissionError) else None
        return LiveFacts(error_kind=rc.error_kind(e), error=str(e), refused=refused,
                         commands=tuple(rc.handshake_commands(ep) + ro.sent))
    finally:
        client.close()


def _dead(ro: ReadOnlyRedis, pairs: tuple[KeyPair, ...], q: QueueSettings) -> tuple[CountFacts, ...]:
    """The manifest's dead-letter key, and for BullMQ every queue's `failed` set too (its dead letters)."""
    keys = [(p.var, p.backend) for p in pairs if p.role == "dead_letter" and p.backend]
    if q.layout == "bullmq":
        queues = [p for p in pairs if p.role == "queue" and p.backend]
        keys += [(p.var, f"{queue_base(p.backend or '', q.prefix)[0]}:failed") for p in queues]
    out = []
    for var, key in keys:
        t = ro.type(key)
        out.append(CountFacts(var, key, t, depth_of(ro, key, t)))
    return tuple(out)


def _heartbeat(ro: ReadOnlyRedis, pairs: tuple[KeyPair, ...], now: float) -> HeartbeatFacts | None:
    beat = next((p for p in pairs if p.role == "heartbeat" and (p.worker or p.backend)), None)
    if beat is None:
        return None
    key = beat.worker or beat.backend or ""  # the worker writes it: its own name for the key wins
    raw = ro.get(key)
    if raw is None:
        return HeartbeatFacts(beat.var, key, present=False)
    ts, problem = parse_time(raw, "the heartbeat value")
    if ts is None:
        return HeartbeatFacts(beat.var, key, present=True, problem=problem)
    return HeartbeatFacts(beat.var, key, present=True, age_s=round(now - ts, 1))


class GpuWorkerChecker(Checker):
    """Backend and GPU worker agree on Redis and queue keys; the queue is consumed (read-only probe)."""

    name: ClassVar[str] = "gpu_worker"
    subsystem: ClassVar[str] = "gpu-worker"
    description: ClassVar[str] = (
        "GPU worker: same Redis endpoint, db, TLS and queue keys as the backend; queue depth, oldest job, "
        "dead letters, heartbeat (read-only)"
    )
    needs: ClassVar[tuple[str, ...]] = (URL_VAR, "OCR_QUEUE_KEY")
    libraries = libs.REDIS
    phase: ClassVar[str] = "any"  # also post-deployment: the deployed worker consumes the queue

    async def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Probe both views and the live queue, then judge against `checks.queue`."""
        return judge(await probe(ctx), ctx.manifest.checks.queue)
