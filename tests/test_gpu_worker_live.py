"""The gpu_worker checker against the sandbox's TLS redis-server and its GPU-worker stand-in, in the `list`
and `stream` layouts (FiLot's manifest says `bullmq`: that layout is proven with the real library in
test_gpu_worker_bullmq.py, and the shared parts here hold for it too).

The worker consumes the sandbox queue for real; tests that fill the queue pause it first (the
heartbeat keeps running) and resume it afterwards. Keys a test invents carry a unique suffix.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from filot_preflight.checkers.base import CheckContext
from filot_preflight.checkers.gpu_worker import GpuWorkerChecker
from filot_preflight.manifest import Manifest
from filot_preflight.manifest import load as load_manifest
from filot_preflight.models import CheckResult, Status
from filot_preflight.sandbox import workers
from filot_preflight.sandbox.base import ServiceHandle, wait_until
from tests._timing import within

TIMEOUT = 2.0
# Commands that would consume, move or delete a job: the checker must never send one.
MUTATING = (
    "lpop", "rpop", "blpop", "brpop", "lmove", "blmove", "rpoplpush", "brpoplpush", "lrem", "ltrim", "lset",
    "del", "unlink", "xdel", "xtrim", "xack", "xreadgroup", "xclaim", "xautoclaim", "zpopmin", "zrem", "hdel",
)


@pytest.fixture(scope="module")
def admin(redis_server: ServiceHandle) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(
        redis_server.env["REDIS_URL"], ssl_ca_certs=redis_server.env["REDIS_TLS_CA_FILE"], ssl_check_hostname=True
    )
    yield client
    client.close()


@pytest.fixture
def paused(gpu_worker: ServiceHandle, admin: redis.Redis) -> Iterator[ServiceHandle]:
    """The worker stops consuming (heartbeat continues); the queue is emptied afterwards and it resumes."""
    queue = gpu_worker.env["OCR_QUEUE_KEY"]
    wait_until(lambda: admin.llen(queue) == 0, 10, what="sandbox queue drained")
    workers.pause_gpu_worker(gpu_worker)
    try:
        yield gpu_worker
    finally:
        admin.delete(queue)
        workers.resume_gpu_worker(gpu_worker)


def env_of(redis_server: ServiceHandle, gpu_worker: ServiceHandle, **override: str) -> dict[str, str]:
    return {**redis_server.env, **gpu_worker.env, **override}


def run(ctx: CheckContext) -> dict[tuple[str, str], CheckResult]:
    results = asyncio.run(GpuWorkerChecker().run(ctx))
    for r in results:
        assert r.status in (Status.PASS, Status.SKIP) or r.remediation, f"{r.id} has no fix"
        if r.status is Status.SKIP:
            assert r.summary, "a skip says why"
    return {(r.id, r.target.split(" ")[0]): r for r in results}


def by_id(res: dict[tuple[str, str], CheckResult], rid: str) -> CheckResult:
    (hit,) = [r for (i, _), r in res.items() if i == rid]
    return hit


def with_queue(**changes: Any) -> Manifest:
    """FiLot's manifest with the list stand-in's layout (heartbeat key, dead-letter list), then `changes`."""
    m = load_manifest()
    queue = m.checks.queue.model_copy(update={**LIST_LAYOUT, **changes})
    return m.model_copy(update={"checks": m.checks.model_copy(update={"queue": queue})})


LIST_LAYOUT = {"layout": "list", "heartbeat_key_var": "GPU_WORKER_HEARTBEAT_KEY"}


@pytest.fixture
def make_ctx(make_ctx: Callable[..., CheckContext]) -> Callable[..., CheckContext]:
    """The shared factory, with the list layout's manifest unless a test passes its own."""
    def build(*args: Any, manifest: Manifest | None = None, **kw: Any) -> CheckContext:
        return make_ctx(*args, manifest=manifest or with_queue(), **kw)
    return build


def command_counts(admin: redis.Redis) -> dict[str, int]:
    stats = admin.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


def test_healthy_sandbox_all_pass(
    redis_server: ServiceHandle, gpu_worker: ServiceHandle, make_ctx: Callable[..., CheckContext]
) -> None:
    env = env_of(redis_server, gpu_worker)
    res = run(make_ctx(env, worker=env, timeout=TIMEOUT, allow_loopback=True))
    assert {r.status for r in res.values()} == {Status.PASS}, [(r.id, r.summary) for r in res.values()]
    ids = sorted({i for i, _ in res})
    assert ids == sorted([
        "gpu_worker.worker_env", "gpu_worker.same_redis", "gpu_worker.same_db", "gpu_worker.same_tls",
        "gpu_worker.same_key", "gpu_worker.queue_depth", "gpu_worker.oldest_job", "gpu_worker.dead_letter",
        "gpu_worker.heartbeat",
    ])
    assert len([k for k in res if k[0] == "gpu_worker.same_key"]) == 3
    assert by_id(res, "gpu_worker.heartbeat").evidence["age_s"] <= 60
    assert "(worker value from a shared" not in by_id(res, "gpu_worker.same_redis").summary


def test_queue_is_left_byte_for_byte_untouched(
    redis_server: ServiceHandle, paused: ServiceHandle, admin: redis.Redis, make_ctx: Callable[..., CheckContext]
) -> None:
    queue = paused.env["OCR_QUEUE_KEY"]
    now = time.time()
    jobs = [json.dumps({"id": f"doc-{i}", "enqueued_at": now - 100 + i}).encode() for i in range(20)]
    jobs.insert(7, b"\xff\x00not json\r\n*1\r\n")  # binary junk in the middle must survive too
    admin.lpush(queue, *jobs)
    before = admin.lrange(queue, 0, -1)
    calls_before = command_counts(admin)
    env = env_of(redis_server, paused)
    res = run(make_ctx(env, worker=env, timeout=TIMEOUT, allow_loopback=True))
    after = admin.lrange(queue, 0, -1)
    calls_after = command_counts(admin)
    assert after == before and len(after) == 21
    sent = {c: calls_after.get(c, 0) - calls_before.get(c, 0) for c in MUTATING}
    assert not any(sent.values()), sent
    depth = by_id(res, "gpu_worker.queue_depth")
    assert depth.evidence["depth"] == 21
    assert set(depth.evidence["read_only_commands"]) <= {"AUTH", "TIME", "TYPE", "LLEN", "LINDEX", "GET"}
    oldest = by_id(res, "gpu_worker.oldest_job")
    assert oldest.status is Status.PASS
    assert 95 <= oldest.evidence["oldest_job_age_s"] <= 110  # the first pushed job, at the tail


def test_stale_queue_fails(
    redis_server: ServiceHandle, paused: ServiceHandle, admin: redis.Redis, make_ctx: Callable[..., CheckContext]
) -> None:
    admin.lpush(paused.env["OCR_QUEUE_KEY"], json.dumps({"id": "old", "enqueued_at": int(time.time()) - 3600}))
    env = env_of(redis_server, paused)
    oldest = by_id(run(make_ctx(env, worker=env, timeout=TIMEOUT, allow_loopback=True)), "gpu_worker.oldest_job")
    assert oldest.status is Status.FAIL and oldest.evidence["oldest_job_age_s"] >= 3600


def test_job_without_timestamp_warns(
    redis_server: ServiceHandle, paused: ServiceHandle, admin: redis.Redis, make_ctx: Callable[..., CheckContext]
) -> None:
    admin.lpush(paused.env["OCR_QUEUE_KEY"], json.dumps({"id": "no-ts"}))
    env = env_of(redis_server, paused)
    oldest = by_id(run(make_ctx(env, worker=env, timeout=TIMEOUT, allow_loopback=True)), "gpu_worker.oldest_job")
    assert oldest.status is Status.WARN and "enqueued_at" in oldest.summary


def test_heartbeat_missing_and_stale(
    redis_server: ServiceHandle, gpu_worker: ServiceHandle, admin: redis.Redis, make_ctx: Callable[..., CheckContext]
) -> None:
    key = f"preflight-test:beat:{uuid.uuid4().hex}"
    env = env_of(redis_server, gpu_worker, GPU_WORKER_HEARTBEAT_KEY=key)
    missing = by_id(run(make_ctx(env, worker=env, timeout=TIMEOUT, allow_loopback=True)), "gpu_worker.heartbeat")
    assert missing.status is Status.FAIL and "not running" in missing.summary
    admin.set(key, str(time.time() - 600))
    try:
        stale = by_id(run(make_ctx(env, worker=env, timeout=TIMEOUT, allow_loopback=True)), "gpu_worker.heartbeat")
    finally:
        admin.delete(key)
    assert stale.status is Status.FAIL and stale.evidence["age_s"] >= 600


def test_dead_letters_over_the_limit_fail(
    redis_server: ServiceHandle, gpu_worker: ServiceHandle, admin: redis.Redis, make_ctx: Callable[..., CheckContext]
) -> None:
    key = f"preflight-test:dead:{uuid.uuid4().hex}"
    admin.lpush(key, b"job-a", b"job-b")
    env = env_of(redis_server, gpu_worker, OCR_DEAD_LETTER_KEY=key)
    try:
        dead = by_id(run(make_ctx(env, worker=env, timeout=TIMEOUT, allow_loopback=True)), "gpu_worker.dead_letter")
        assert admin.lrange(key, 0, -1) == [b"job-b", b"job-a"]
    finally:
        admin.delete(key)
    assert dead.status is Status.FAIL and dead.evidence["depth"] == 2


@pytest.mark.parametrize(
    ("worker_change", "rid", "status"),
    [
        ({"OCR_QUEUE_KEY": "filot:ocr:jobs-v2"}, "gpu_worker.same_key", Status.FAIL),
        ({"REDIS_URL": "db"}, "gpu_worker.same_db", Status.FAIL),
        ({"REDIS_URL": "plain"}, "gpu_worker.same_tls", Status.FAIL),
        ({"REDIS_URL": "port"}, "gpu_worker.same_redis", Status.FAIL),
        ({"REDIS_URL": "password"}, "gpu_worker.same_credentials", Status.WARN),
    ],
)
def test_worker_env_mismatches(
    worker_change: dict[str, str],
    rid: str,
    status: Status,
    redis_server: ServiceHandle,
    gpu_worker: ServiceHandle,
    make_ctx: Callable[..., CheckContext],
) -> None:
    backend = env_of(redis_server, gpu_worker)
    url = backend["REDIS_URL"]
    variants = {
        "db": url.rsplit("/", 1)[0] + "/3",
        "plain": url.replace("rediss://", "redis://"),
        "port": url.replace(f":{redis_server.ports['redis']}/", ":1/"),
        "password": url.replace("default:", "default:x"),
    }
    change = {k: variants.get(v, v) for k, v in worker_change.items()}
    res = run(make_ctx(backend, worker={**backend, **change}, timeout=TIMEOUT, allow_loopback=True))
    hits = [r for (i, _), r in res.items() if i == rid and r.status is status]
    assert len(hits) == 1, [(r.id, r.status, r.summary) for r in res.values()]
    # Credentials never appear, even when they are what differs.
    password = url.split(":")[2].split("@")[0]
    assert all(password not in f"{r.summary}{r.detail}{r.evidence}" for r in res.values())


def test_without_worker_env_warns_and_still_reads_the_queue(
    redis_server: ServiceHandle, gpu_worker: ServiceHandle, make_ctx: Callable[..., CheckContext]
) -> None:
    res = run(make_ctx(env_of(redis_server, gpu_worker), timeout=TIMEOUT, allow_loopback=True))
    env_result = by_id(res, "gpu_worker.worker_env")
    assert env_result.status is Status.WARN and "--env-file gpu-worker=" in env_result.remediation
    assert not [i for i, _ in res if i.startswith("gpu_worker.same_")]
    assert by_id(res, "gpu_worker.heartbeat").status is Status.PASS


def test_wrong_key_type_fails(
    redis_server: ServiceHandle, gpu_worker: ServiceHandle, admin: redis.Redis, make_ctx: Callable[..., CheckContext]
) -> None:
    key = f"preflight-test:str:{uuid.uuid4().hex}"
    admin.set(key, "not a queue")
    env = env_of(redis_server, gpu_worker, OCR_QUEUE_KEY=key)
    try:
        res = run(make_ctx(env, worker=env, timeout=TIMEOUT, allow_loopback=True))
    finally:
        admin.delete(key)
    assert by_id(res, "gpu_worker.queue_type").status is Status.FAIL


def test_stream_layout(
    redis_server: ServiceHandle, gpu_worker: ServiceHandle, admin: redis.Redis, make_ctx: Callable[..., CheckContext]
) -> None:
    key = f"preflight-test:stream:{uuid.uuid4().hex}"
    start_ms = int(time.time() * 1000) - 50_000
    for i in range(5):
        admin.xadd(key, {"job": f"doc-{i}"}, id=f"{start_ms + i * 1000}-0")
    admin.xgroup_create(key, "ocr", id="0")
    admin.xreadgroup("ocr", "w1", {key: ">"}, count=2)  # two delivered: three left, oldest 48 s old
    before = admin.xrange(key)
    groups_before = admin.xinfo_groups(key)
    env = env_of(redis_server, gpu_worker, OCR_QUEUE_KEY=key)
    manifest = with_queue(layout="stream")
    try:
        res = run(make_ctx(env, worker=env, timeout=TIMEOUT, allow_loopback=True, manifest=manifest))
        assert admin.xrange(key) == before and admin.xinfo_groups(key) == groups_before
    finally:
        admin.delete(key)
    depth = by_id(res, "gpu_worker.queue_depth")
    assert (depth.evidence["depth"], depth.evidence["pending"], depth.evidence["xlen"]) == (3, 2, 5)
    assert 46 <= by_id(res, "gpu_worker.oldest_job").evidence["oldest_job_age_s"] <= 55


def test_unreachable_redis_is_one_bounded_failure(
    redis_server: ServiceHandle, gpu_worker: ServiceHandle, make_ctx: Callable[..., CheckContext]
) -> None:
    env = env_of(redis_server, gpu_worker)
    env["REDIS_URL"] = env["REDIS_URL"].replace(f":{redis_server.ports['redis']}/", ":1/")
    t0 = time.monotonic()
    res = run(make_ctx(env, worker=env, timeout=1.0, allow_loopback=True))
    within(time.monotonic() - t0, 1.5, "gpu_worker against a refused Redis")
    failure = by_id(res, "gpu_worker.redis")
    assert failure.status is Status.FAIL and failure.evidence["error_kind"] == "refused"
