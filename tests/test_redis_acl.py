"""Redis permissions as providers grant them: a user with exactly the documented grants passes.

The probes send no HELLO and no CLIENT SETNAME/SETINFO (only AUTH, and SELECT for a database other
than 0), so an ACL user needs no handshake grant; a refused command is its own result naming the grant.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from filot_preflight.checkers.base import CheckContext
from filot_preflight.checkers.gpu_worker import GpuWorkerChecker
from filot_preflight.checkers.gpu_worker.judge import READ_GRANTS
from filot_preflight.checkers.redis import RedisChecker
from filot_preflight.checkers.redis.judge import MINIMAL_GRANTS
from filot_preflight.manifest import Manifest
from filot_preflight.manifest import load as load_manifest
from filot_preflight.models import CheckResult, Status
from filot_preflight.sandbox import workers
from tests.fixtures_redis_faults import RedisFaults

OPTS = {"timeout": 2.0, "allow_loopback": True, "allow_plaintext_auth": True}


@pytest.fixture
def admin(redis_faults: RedisFaults) -> Iterator[redis.Redis]:
    client = redis.Redis(host="127.0.0.1", port=redis_faults.plain_port, password=redis_faults.password)
    yield client
    client.close()


def _user(admin: redis.Redis, f: RedisFaults, grants: str, keys: str = "") -> str:
    name = f"u{uuid.uuid4().hex[:8]}"
    admin.execute_command("ACL", "SETUSER", name, "on", f">{name}-pw", *grants.split(), *keys.split())
    return f"redis://{name}:{name}-pw@127.0.0.1:{f.plain_port}/0"


def _by_id(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.id: r for r in results}


def test_documented_minimal_grants_pass_without_handshake_grants(
    redis_faults: RedisFaults, admin: redis.Redis, make_ctx: Callable[..., CheckContext]
) -> None:
    url = _user(admin, redis_faults, MINIMAL_GRANTS)  # no +hello, no +client
    res = _by_id(asyncio.run(RedisChecker().run(make_ctx({"REDIS_URL": url}, **OPTS))))
    assert "redis.permission" not in res
    assert res["redis.auth"].status is Status.PASS and res["redis.ping"].status is Status.PASS
    ev = res["redis.eviction"]
    assert (ev.status, ev.evidence["source"]) == (Status.PASS, "INFO memory")


def test_a_refused_command_is_its_own_result_and_the_rest_still_runs(
    redis_faults: RedisFaults, admin: redis.Redis, make_ctx: Callable[..., CheckContext]
) -> None:
    url = _user(admin, redis_faults, "+info")  # no PING
    res = _by_id(asyncio.run(RedisChecker().run(make_ctx({"REDIS_URL": url}, **OPTS))))
    perm = res["redis.permission"]
    assert perm.status is Status.WARN and perm.evidence["refused"] == ["ping"]
    assert "ACL SETUSER <user> +ping" in perm.remediation
    assert res["redis.eviction"].status is Status.PASS  # INFO still read
    assert res["redis.version"].status is Status.PASS


def test_refused_select_names_its_grant(
    redis_faults: RedisFaults, admin: redis.Redis, make_ctx: Callable[..., CheckContext]
) -> None:
    url = _user(admin, redis_faults, MINIMAL_GRANTS).replace("/0", "/2")
    res = _by_id(asyncio.run(RedisChecker().run(make_ctx({"REDIS_URL": url}, **OPTS))))
    perm = res["redis.permission"]
    assert perm.status is Status.FAIL and "+select" in perm.remediation and "SELECT" in perm.summary


def test_gpu_worker_with_the_documented_read_grants(
    redis_faults: RedisFaults, admin: redis.Redis, make_ctx: Callable[..., CheckContext]
) -> None:
    """FiLot's BullMQ queue, created by the real library, read by a user with exactly the documented grants
    and read-only access to the queue's keys: every figure, no permission result."""
    queue, prefix = f"ocr-{uuid.uuid4().hex[:8]}", f"acl{uuid.uuid4().hex[:6]}"
    admin_env = {"REDIS_URL": f"redis://default:{redis_faults.password}@127.0.0.1:{redis_faults.plain_port}/0"}
    workers.enqueue_bullmq(admin_env, queue, [({"page": 1}, {})], prefix=prefix)
    manifest = _with_prefix(prefix)
    url = _user(admin, redis_faults, READ_GRANTS, f"%R~{prefix}:*")
    env = {"REDIS_URL": url, "OCR_QUEUE_KEY": queue}
    try:
        res = _by_id(asyncio.run(GpuWorkerChecker().run(make_ctx(env, worker=env, manifest=manifest, **OPTS))))
        assert "gpu_worker.redis" not in res, res.get("gpu_worker.redis")
        assert res["gpu_worker.queue_found"].status is Status.PASS
        assert res["gpu_worker.queue_depth"].evidence["depth"] == 1
        assert res["gpu_worker.workers"].status is Status.FAIL  # read (CLIENT LIST allowed): nobody consumes
        url = _user(admin, redis_faults, "+time", f"%R~{prefix}:*")  # TYPE refused
        env = {"REDIS_URL": url, "OCR_QUEUE_KEY": queue}
        res = _by_id(asyncio.run(GpuWorkerChecker().run(make_ctx(env, worker=env, manifest=manifest, **OPTS))))
    finally:
        admin.delete(*admin.keys(f"{prefix}:*"))
    fail = res["gpu_worker.redis"]
    assert fail.status is Status.FAIL and "ACL SETUSER" in fail.remediation and "+type" in fail.remediation


def _with_prefix(prefix: str) -> Manifest:
    m = load_manifest()
    queue = m.checks.queue.model_copy(update={"prefix": prefix})
    return m.model_copy(update={"checks": m.checks.model_copy(update={"queue": queue})})


def test_read_only_commands_evidence_is_what_monitor_saw(
    redis_faults: RedisFaults, admin: redis.Redis, make_ctx: Callable[..., CheckContext]
) -> None:
    """The redis checker's `read_only_commands` evidence lists every command it sent, handshake included."""
    import threading

    url = _user(admin, redis_faults, MINIMAL_GRANTS)
    seen: list[dict[str, object]] = []
    marker = f"done-{uuid.uuid4().hex[:6]}"
    ready = threading.Event()

    def watch() -> None:
        mon = redis.Redis(host="127.0.0.1", port=redis_faults.plain_port, password=redis_faults.password)
        with mon.monitor() as m:
            ready.set()
            for entry in m.listen():
                seen.append(entry)
                if marker in str(entry["command"]):
                    break
        mon.close()
    t = threading.Thread(target=watch, daemon=True)
    t.start()
    ready.wait(5)
    try:
        res = _by_id(asyncio.run(RedisChecker().run(make_ctx({"REDIS_URL": url}, **OPTS))))
    finally:
        admin.echo(marker)
        t.join(10)
    ours = {(e["client_address"], e["client_port"]) for e in seen if e["command"] == "PING"}
    sent = [str(e["command"]) for e in seen if (e["client_address"], e["client_port"]) in ours]
    names = {" ".join(c.split(" ")[:2]) if c.startswith("INFO") else c.split(" ")[0] for c in sent}
    evidence = res["redis.auth"].evidence["read_only_commands"]
    assert isinstance(evidence, list) and evidence[0] == "AUTH"
    # MONITOR never shows CONFIG (an admin command); everything else it saw is in the evidence, and back.
    assert names == {c if c.startswith("INFO") else c.split(" ")[0] for c in evidence} - {"CONFIG"}
    assert not {c for c in sent if c.split(" ")[0] in ("HELLO", "CLIENT")}
