"""The gpu_worker checker against queues written and consumed by the real BullMQ library (PyPI `bullmq`,
which runs the same Lua scripts as the npm library) on the sandbox's TLS redis-server.

Every figure the tool reports is compared with BullMQ's own `getJobCounts()` and `getWorkers()`.
Each test uses its own queue name under the prefix `filot` (BullMQ's `prefix` option).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis

from filot_preflight.checkers.base import CheckContext
from filot_preflight.checkers.gpu_worker import GpuWorkerChecker
from filot_preflight.checkers.gpu_worker.judge import READ_GRANTS
from filot_preflight.manifest import Manifest
from filot_preflight.manifest import load as load_manifest
from filot_preflight.models import CheckResult, Status
from filot_preflight.sandbox import workers
from filot_preflight.sandbox.base import SandboxContext, ServiceHandle, wait_until

bullmq = pytest.importorskip("bullmq")
import redis.asyncio as aredis  # noqa: E402

PREFIX = "filot"
MIN = 60_000
# AUTH is the handshake (MONITOR shows it with its arguments redacted); the rest are reads.
READ_COMMANDS = {"AUTH", "TIME", "TYPE", "LLEN", "LINDEX", "LRANGE", "ZCARD", "ZCOUNT", "ZRANGE", "HGET", "HMGET", "EXISTS",
                 "GET", "XLEN", "XINFO", "XRANGE", "CLIENT"}
STATE_OF = {"waiting": "wait"}  # getJobCounts() name -> BullMQ key / evidence name


def manifest(prefix: str = PREFIX) -> Manifest:
    m = load_manifest()
    queue = m.checks.queue.model_copy(update={"layout": "bullmq", "prefix": prefix, "heartbeat_key_var": None})
    return m.model_copy(update={"checks": m.checks.model_copy(update={"queue": queue})})


def aconn(server: ServiceHandle, url: str | None = None) -> aredis.Redis:
    # BullMQ for Python needs str replies (with bytes, job ids never match and jobs never finish).
    return aredis.Redis.from_url(url or server.env["REDIS_URL"], ssl_ca_certs=server.env["REDIS_TLS_CA_FILE"],
                                 ssl_check_hostname=True, decode_responses=True)


def on_queue(server: ServiceHandle, name: str, fn: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run `fn(queue)` with a real BullMQ Queue on its own event loop."""
    async def main() -> Any:
        conn = aconn(server)
        q = bullmq.Queue(name, {"connection": conn, "prefix": PREFIX})
        try:
            return await fn(q)
        finally:
            await q.close()
            await conn.aclose()
    return asyncio.run(main())


async def truth(q: Any) -> tuple[dict[str, int], list[dict[str, str]]]:
    """BullMQ's own counts and workers."""
    return await q.getJobCounts(), await q.get_workers()


def check(server: ServiceHandle, name: str, make_ctx: Callable[..., CheckContext], *, prefix: str = PREFIX,
          url: str | None = None) -> dict[str, list[CheckResult]]:
    env = {"REDIS_URL": url or server.env["REDIS_URL"], "REDIS_TLS_CA_FILE": server.env["REDIS_TLS_CA_FILE"],
           "OCR_QUEUE_KEY": name, "OCR_DEAD_LETTER_KEY": f"{name}:dead"}
    ctx = make_ctx(env, worker=env, timeout=3.0, allow_loopback=True, manifest=manifest(prefix))
    out: dict[str, list[CheckResult]] = {}
    for r in asyncio.run(GpuWorkerChecker().run(ctx)):
        assert r.status in (Status.PASS, Status.SKIP) or r.remediation, f"{r.id} has no fix"
        out.setdefault(r.id, []).append(r)
    return out


def one(res: dict[str, list[CheckResult]], rid: str) -> CheckResult:
    (hit,) = res[rid]
    return hit


def assert_counts_match(res: dict[str, list[CheckResult]], counts: dict[str, int]) -> None:
    ev = one(res, "gpu_worker.queue_depth").evidence
    for state, n in counts.items():
        assert ev[f"{STATE_OF.get(state, state)}_count"] == n, (state, ev)


async def fail_jobs(q: Any, server: ServiceHandle, name: str, n: int) -> None:
    """`n` jobs failed for real by a BullMQ worker (attempts: 1)."""
    async def boom(job: Any, token: str) -> None:
        raise RuntimeError("unreadable scan")
    for i in range(n):
        await q.add("ocr", {"doc": f"bad-{i}"}, {"attempts": 1})
    conn = aconn(server)
    w = bullmq.Worker(name, boom, {"connection": conn, "prefix": PREFIX, "name": "gpu-tmp"})
    for _ in range(200):
        if (await q.getJobCounts("failed"))["failed"] >= n:
            break
        await asyncio.sleep(0.05)
    await w.close()
    await conn.aclose()


def test_prefixed_queue_old_waiting_and_failed_jobs(
    redis_server: ServiceHandle, make_ctx: Callable[..., CheckContext]
) -> None:
    name = f"ocr-{uuid.uuid4().hex[:8]}"

    async def fill(q: Any) -> Any:
        await fail_jobs(q, redis_server, name, 2)
        old = int(time.time() * 1000) - 30 * MIN
        for i in range(5):
            await q.add("ocr", {"doc": i}, {"timestamp": old + i})
        return await truth(q)
    counts, workers = on_queue(redis_server, name, fill)
    assert (counts["waiting"], counts["failed"], workers) == (5, 2, [])
    # The default prefix `bull` does not see it: "queue not found", never "empty".
    wrong = check(redis_server, name, make_ctx, prefix="bull")
    found = one(wrong, "gpu_worker.queue_found")
    assert found.status is Status.FAIL and "checks.queue.prefix" in found.remediation
    assert "gpu_worker.oldest_job" not in wrong
    res = check(redis_server, name, make_ctx)
    assert_counts_match(res, counts)
    depth = one(res, "gpu_worker.queue_depth")
    assert depth.evidence["depth"] == 5 and depth.evidence["prefix"] == PREFIX
    assert "BullMQ for Python" in str(depth.evidence["bullmq_version"])
    oldest = one(res, "gpu_worker.oldest_job")
    assert oldest.status is Status.FAIL and 1790 <= oldest.evidence["oldest_job_age_s"] <= 1830
    dead = {r.target: r for r in res["gpu_worker.dead_letter"]}  # OCR_DEAD_LETTER_KEY and BullMQ's failed set
    failed = dead[f"OCR_QUEUE_KEY ({PREFIX}:{name}:failed)"]
    assert (failed.status, failed.evidence["depth"]) == (Status.FAIL, counts["failed"])
    workers_result = one(res, "gpu_worker.workers")
    assert workers_result.status is Status.FAIL and workers_result.evidence["workers"] == len(workers)


def test_only_prioritized_jobs_have_an_age(redis_server: ServiceHandle, make_ctx: Callable[..., CheckContext]) -> None:
    name = f"ocr-{uuid.uuid4().hex[:8]}"

    async def fill(q: Any) -> Any:
        old = int(time.time() * 1000) - 30 * MIN
        for i in range(3):
            await q.add("ocr", {"doc": i}, {"priority": 1 + i, "timestamp": old})
        return await truth(q)
    counts, _ = on_queue(redis_server, name, fill)
    res = check(redis_server, name, make_ctx)
    assert_counts_match(res, counts)
    assert one(res, "gpu_worker.queue_depth").evidence["depth"] == counts["prioritized"] == 3
    oldest = one(res, "gpu_worker.oldest_job")
    assert oldest.status is Status.FAIL and oldest.evidence["oldest_job_age_s"] >= 1790


def test_overdue_delayed_jobs_count_as_waiting(redis_server: ServiceHandle, make_ctx: Callable[..., CheckContext]) -> None:
    name = f"ocr-{uuid.uuid4().hex[:8]}"

    async def fill(q: Any) -> Any:
        now = int(time.time() * 1000)
        await q.add("ocr", {"doc": "overdue"}, {"delay": MIN, "timestamp": now - 30 * MIN})  # due 29 min ago
        await q.add("ocr", {"doc": "later"}, {"delay": 60 * MIN})
        return await truth(q)
    counts, _ = on_queue(redis_server, name, fill)
    res = check(redis_server, name, make_ctx)
    assert_counts_match(res, counts)
    depth = one(res, "gpu_worker.queue_depth")
    assert (counts["delayed"], depth.evidence["overdue_delayed_count"], depth.evidence["depth"]) == (2, 1, 1)
    oldest = one(res, "gpu_worker.oldest_job")
    assert oldest.status is Status.FAIL and 1730 <= oldest.evidence["oldest_job_age_s"] <= 1770


def test_paused_queue_fails(redis_server: ServiceHandle, make_ctx: Callable[..., CheckContext]) -> None:
    name = f"ocr-{uuid.uuid4().hex[:8]}"

    async def fill(q: Any) -> Any:
        await q.add("ocr", {"doc": 1})
        await q.pause()
        return await truth(q)
    counts, _ = on_queue(redis_server, name, fill)
    res = check(redis_server, name, make_ctx)
    assert_counts_match(res, counts)
    paused = one(res, "gpu_worker.queue_paused")
    assert paused.status is Status.FAIL and "resume" in paused.remediation
    assert one(res, "gpu_worker.queue_depth").evidence["depth"] == counts["waiting"] == 1


def test_a_retry_is_aged_from_when_it_became_due(redis_server: ServiceHandle, make_ctx: Callable[..., CheckContext]) -> None:
    name = f"ocr-{uuid.uuid4().hex[:8]}"

    async def fill(q: Any) -> Any:
        async def flaky(job: Any, token: str) -> None:
            raise RuntimeError("GPU out of memory")
        created = int(time.time() * 1000) - 20 * MIN
        await q.add("ocr", {"doc": 1}, {"timestamp": created, "attempts": 3, "backoff": {"type": "fixed", "delay": 1000}})
        conn = aconn(redis_server)
        w = bullmq.Worker(name, flaky, {"connection": conn, "prefix": PREFIX})
        for _ in range(200):
            if (await q.getJobCounts("delayed"))["delayed"] == 1:
                break
            await asyncio.sleep(0.02)
        await w.close()  # before the back-off ends: nobody promotes the retry
        await conn.aclose()
        await asyncio.sleep(3.0)
        return await truth(q)
    counts, _ = on_queue(redis_server, name, fill)
    res = check(redis_server, name, make_ctx)
    assert_counts_match(res, counts)
    oldest = one(res, "gpu_worker.oldest_job")
    assert counts["delayed"] == 1 and one(res, "gpu_worker.queue_depth").evidence["depth"] == 1
    assert oldest.status is Status.PASS and oldest.evidence["oldest_job_age_s"] < 30  # not ~1200 s


def counts_of(server: ServiceHandle, name: str) -> dict[str, int]:
    return on_queue(server, name, lambda q: q.getJobCounts())  # type: ignore[no-any-return]


def test_healthy_queue_with_the_sandbox_worker_passes(
    sandbox_ctx: SandboxContext, redis_server: ServiceHandle, make_ctx: Callable[..., CheckContext]
) -> None:
    """The sandbox's producer and GPU worker (both the real library): consumed, a live worker, READY."""
    name = f"ocr-{uuid.uuid4().hex[:8]}"
    handle = workers.start_bullmq_worker(sandbox_ctx, redis_server.env, name, prefix=PREFIX, name=f"w-{name}")
    try:
        workers.enqueue_bullmq(redis_server.env, name, [({"doc": i}, {}) for i in range(3)], prefix=PREFIX)
        wait_until(lambda: counts_of(redis_server, name)["completed"] == 3, 10, what="jobs processed")
        res = check(redis_server, name, make_ctx)
        counts, found = on_queue(redis_server, name, truth)
    finally:
        handle.stop()
    assert_counts_match(res, counts)
    live = [r for rs in res.values() for r in rs]
    assert not [r for r in live if r.status is Status.FAIL], [r.summary for r in live if r.status is Status.FAIL]
    w = one(res, "gpu_worker.workers")
    assert w.status is Status.PASS and w.evidence["workers"] == len(found) == 1
    assert w.evidence["names"] == [f"{PREFIX}:{name}:w:gpu-1"]


def test_a_killed_worker_leaves_a_stalled_job(
    sandbox_ctx: SandboxContext, redis_server: ServiceHandle, make_ctx: Callable[..., CheckContext]
) -> None:
    name = f"ocr-{uuid.uuid4().hex[:8]}"
    handle = workers.start_bullmq_worker(sandbox_ctx, redis_server.env, name, prefix=PREFIX, name=f"w-{name}",
                                         lock_ms=1000)
    try:
        workers.enqueue_bullmq(redis_server.env, name, [({"hold_s": 600}, {})], prefix=PREFIX)
        wait_until(lambda: counts_of(redis_server, name)["active"] == 1, 10, what="job active")
        os.kill(handle.pids[0], signal.SIGKILL)  # the GPU worker dies holding the job
        wait_until(lambda: not handle.alive(), 5, what="worker gone")
        time.sleep(1.5)  # lockDuration passes; nobody renews the lock
        counts, found = on_queue(redis_server, name, truth)
        res = check(redis_server, name, make_ctx)
    finally:
        handle.stop()
    assert_counts_match(res, counts)
    stalled = one(res, "gpu_worker.stalled_jobs")
    assert counts["active"] == 1 and (stalled.status, stalled.evidence["stalled"]) == (Status.FAIL, 1)
    assert one(res, "gpu_worker.workers").evidence["workers"] == len(found) == 0


def test_without_client_list_worker_liveness_is_a_warning(
    redis_server: ServiceHandle, make_ctx: Callable[..., CheckContext]
) -> None:
    name = f"ocr-{uuid.uuid4().hex[:8]}"
    on_queue(redis_server, name, lambda q: q.add("ocr", {"doc": 1}))
    admin = redis.Redis.from_url(redis_server.env["REDIS_URL"], ssl_ca_certs=redis_server.env["REDIS_TLS_CA_FILE"])
    user = f"ro{uuid.uuid4().hex[:6]}"
    grants = [g for g in READ_GRANTS.split() if g != "+client|list"]
    admin.execute_command("ACL", "SETUSER", user, "on", f">{user}-pw", *grants, "%R~*")
    try:
        url = redis_server.env["REDIS_URL"].replace("default:", f"{user}:").split("@")[1]
        res = check(redis_server, name, make_ctx, url=f"rediss://{user}:{user}-pw@{url}")
    finally:
        admin.acl_deluser(user)
        admin.close()
    w = one(res, "gpu_worker.workers")
    assert w.status is Status.WARN and "+client|list" in w.remediation
    assert one(res, "gpu_worker.queue_depth").evidence["depth"] == 1


def _digests(admin: redis.Redis, pattern: str) -> dict[bytes, str]:
    return {k: hashlib.sha256(admin.dump(k) or b"").hexdigest() for k in admin.scan_iter(match=pattern)}


def test_probe_is_read_only_keys_and_monitor(redis_server: ServiceHandle, make_ctx: Callable[..., CheckContext]) -> None:
    """Every state at once; key digests before and after; MONITOR shows only read commands from the probe."""
    name = f"ocr-{uuid.uuid4().hex[:8]}"

    async def fill(q: Any) -> Any:
        await fail_jobs(q, redis_server, name, 1)
        now = int(time.time() * 1000)
        await q.add("ocr", {"doc": "w"}, {"timestamp": now - MIN})
        await q.add("ocr", {"doc": "p"}, {"priority": 2})
        await q.add("ocr", {"doc": "d"}, {"delay": MIN})
        await q.add("ocr", {"doc": "o"}, {"delay": 10, "timestamp": now - MIN})
        return await truth(q)
    counts, _ = on_queue(redis_server, name, fill)
    admin = redis.Redis.from_url(redis_server.env["REDIS_URL"], ssl_ca_certs=redis_server.env["REDIS_TLS_CA_FILE"])
    before = _digests(admin, f"{PREFIX}:{name}*")
    seen: list[dict[str, Any]] = []
    ready = threading.Event()
    marker = f"done-{name}"

    def watch() -> None:
        mon_client = redis.Redis.from_url(redis_server.env["REDIS_URL"],
                                          ssl_ca_certs=redis_server.env["REDIS_TLS_CA_FILE"])
        with mon_client.monitor() as m:
            ready.set()
            for entry in m.listen():
                seen.append(entry)
                if marker in entry["command"]:
                    break
        mon_client.close()
    t = threading.Thread(target=watch, daemon=True)
    t.start()
    ready.wait(5)
    time.sleep(0.2)
    try:
        res = check(redis_server, name, make_ctx)
    finally:
        admin.echo(marker)
        t.join(10)
    after = _digests(admin, f"{PREFIX}:{name}*")
    admin.close()
    assert before == after and len(before) > 8
    assert_counts_match(res, counts)
    probe = {(e["client_address"], e["client_port"]) for e in seen if e["command"] == "TIME"}
    assert probe, "MONITOR saw the probe"
    sent = {e["command"].split(" ")[0].upper() for e in seen if (e["client_address"], e["client_port"]) in probe}
    assert sent <= READ_COMMANDS, sent - READ_COMMANDS
    evidence = set(one(res, "gpu_worker.queue_depth").evidence["read_only_commands"])  # type: ignore[arg-type]
    # The evidence lists every command MONITOR saw (MONITOR does not show CLIENT LIST, an admin command).
    assert sent <= {c.split(" ")[0] for c in evidence} <= sent | {"CLIENT"}
    wait_until(lambda: not t.is_alive(), 5, what="monitor stopped")


def test_a_node_bullmq_worker_connection_name_counts(
    redis_server: ServiceHandle, make_ctx: Callable[..., CheckContext]
) -> None:
    """Node BullMQ names a worker's connection `<prefix>:<base64(queue)>[:w:<name>]` (clientName() in
    src/classes/redis-queue-backend.ts); getWorkers() matches that, and so must the tool."""
    import base64

    name = f"ocr-{uuid.uuid4().hex[:8]}"
    on_queue(redis_server, name, lambda q: q.add("ocr", {"doc": 1}))
    b64 = base64.b64encode(name.encode()).decode()
    conns = []
    for client_name in (f"{PREFIX}:{b64}", f"{PREFIX}:{b64}:w:gpu-a", f"{PREFIX}:{b64}:qe", f"bull:{b64}"):
        c = redis.Redis.from_url(redis_server.env["REDIS_URL"], ssl_ca_certs=redis_server.env["REDIS_TLS_CA_FILE"])
        c.client_setname(client_name)  # held open while the check runs
        conns.append(c)
    try:
        res = check(redis_server, name, make_ctx)
    finally:
        for c in conns:
            c.close()
    w = one(res, "gpu_worker.workers")
    assert w.status is Status.PASS and sorted(w.evidence["names"]) == [f"{PREFIX}:{b64}", f"{PREFIX}:{b64}:w:gpu-a"]
