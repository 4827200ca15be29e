"""The gpu_worker checker against queues written by npm `bullmq` itself (6.x and 5.x, driven by ioredis), as
FiLot's Node backend writes them, on the sandbox's TLS redis-server.

The scenarios of issue 12, each produced by `tests/node/bullmq_state.js` with the real library; every figure
the tool reports is compared with the library's own `getJobCounts()` and `getWorkers()`, and the verdict is the
one those counts call for (a fault is never READY, a healthy queue is). Node is installed by
`scripts/install-system-deps.sh`, the packages by `make node-deps` (tests/node/package-lock.json).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from filot_preflight.checkers.base import CheckContext
from filot_preflight.models import CheckResult, Status
from filot_preflight.sandbox.base import ServiceHandle
from tests.test_gpu_worker_bullmq import assert_counts_match, one
from tests.test_gpu_worker_bullmq import check as _check

NODE_DIR = Path(__file__).resolve().parent / "node"
MIN = 60_000
LIBS = {"bullmq": "6.7.6", "bullmq5": "5.76.0"}  # tests/node/package.json

if shutil.which("node") is None or not (NODE_DIR / "node_modules" / "bullmq").is_dir():
    pytest.skip("node and npm bullmq are installed by `make node-deps`", allow_module_level=True)


@pytest.fixture(params=sorted(LIBS))
def lib(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextmanager
def node_state(server: ServiceHandle, lib: str, queue: str, prefix: str, steps: list[dict[str, Any]]
               ) -> Iterator[dict[str, Any]]:
    """Run bullmq_state.js; yields its JSON (BullMQ's counts, workers, meta version) while its workers run."""
    cfg = {"url": server.env["REDIS_URL"], "ca": server.env["REDIS_TLS_CA_FILE"], "prefix": prefix, "queue": queue,
           "steps": steps}
    proc = subprocess.Popen(["node", "bullmq_state.js", lib, json.dumps(cfg)], cwd=NODE_DIR, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdin is not None
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "no output"
        yield json.loads(line)
    finally:
        proc.stdin.close()
        proc.wait(30)


def check(server: ServiceHandle, queue: str, prefix: str, make_ctx: Callable[..., CheckContext]
          ) -> dict[str, list[CheckResult]]:
    """The gpu_worker checker on `queue` under `prefix` (FiLot's manifest, as test_gpu_worker_bullmq runs it)."""
    return _check(server, queue, make_ctx, prefix=prefix)


def failing(res: dict[str, list[CheckResult]]) -> set[str]:
    return {r.id for rs in res.values() for r in rs if r.status is Status.FAIL}


def names() -> tuple[str, str]:
    return f"ocr-{uuid.uuid4().hex[:8]}", "filot"


def test_prefixed_queue_with_old_waiting_and_failed_jobs(
    redis_server: ServiceHandle, make_ctx: Callable[..., CheckContext], lib: str
) -> None:
    queue, prefix = names()
    with node_state(redis_server, lib, queue, prefix, [{"fail": 2}, {"add": 5, "ageMs": 30 * MIN}]) as truth:
        assert (truth["counts"]["waiting"], truth["counts"]["failed"], truth["workers"]) == (5, 2, 0)
        wrong = check(redis_server, queue, "bull", make_ctx)  # BullMQ's default prefix: not where the queue is
        res = check(redis_server, queue, prefix, make_ctx)
    assert failing(wrong) == {"gpu_worker.queue_found"}  # "not found", never "empty"
    assert_counts_match(res, truth["counts"])
    assert one(res, "gpu_worker.queue_found").evidence["bullmq_version"] == f"bullmq:{LIBS[lib]}"
    assert 1790 <= one(res, "gpu_worker.oldest_job").evidence["oldest_job_age_s"] <= 1830
    dead = {r.target: r for r in res["gpu_worker.dead_letter"]}
    assert dead[f"OCR_QUEUE_KEY ({prefix}:{queue}:failed)"].evidence["depth"] == 2
    assert failing(res) == {"gpu_worker.oldest_job", "gpu_worker.dead_letter", "gpu_worker.workers"}


def test_only_prioritized_jobs_have_a_known_age(
    redis_server: ServiceHandle, make_ctx: Callable[..., CheckContext], lib: str
) -> None:
    queue, prefix = names()
    with node_state(redis_server, lib, queue, prefix, [{"add": 3, "ageMs": 30 * MIN, "opts": {"priority": 4}}]) as t:
        res = check(redis_server, queue, prefix, make_ctx)
    assert t["counts"]["prioritized"] == 3
    assert_counts_match(res, t["counts"])
    oldest = one(res, "gpu_worker.oldest_job")
    assert oldest.status is Status.FAIL and oldest.evidence["oldest_job_age_s"] >= 1790


def test_overdue_delayed_jobs_without_a_worker_are_waiting(
    redis_server: ServiceHandle, make_ctx: Callable[..., CheckContext], lib: str
) -> None:
    queue, prefix = names()
    steps = [{"add": 2, "opts": {"delay": 200}}, {"sleepMs": 700}]
    with node_state(redis_server, lib, queue, prefix, steps) as truth:
        res = check(redis_server, queue, prefix, make_ctx)
    assert truth["counts"]["delayed"] == 2  # nobody promoted them: BullMQ 5+ has no scheduler, workers do it
    depth = one(res, "gpu_worker.queue_depth").evidence
    assert (depth["depth"], depth["overdue_delayed_count"]) == (2, 2)
    assert "gpu_worker.workers" in failing(res)


def test_a_paused_queue_fails(redis_server: ServiceHandle, make_ctx: Callable[..., CheckContext], lib: str) -> None:
    queue, prefix = names()
    with node_state(redis_server, lib, queue, prefix, [{"add": 1}, {"pause": True}, {"worker": "gpu-1"}]) as truth:
        res = check(redis_server, queue, prefix, make_ctx)
    assert truth["workers"] == 1
    paused = one(res, "gpu_worker.queue_paused")
    assert paused.status is Status.FAIL and "resume" in (paused.remediation or "")
    assert_counts_match(res, truth["counts"])


def test_a_healthy_queue_with_node_workers_passes(
    redis_server: ServiceHandle, make_ctx: Callable[..., CheckContext], lib: str
) -> None:
    """Two named Node workers, an empty queue that has served jobs: every gpu_worker result passes, and the
    workers the tool finds (Node names its connections `<prefix>:<base64(queue)>:w:<name>`) are getWorkers()."""
    queue, prefix = names()
    with node_state(redis_server, lib, queue, prefix, [{"worker": "gpu-1"}, {"worker": "gpu-2"}]) as truth:
        res = check(redis_server, queue, prefix, make_ctx)
    assert truth["workers"] == 2
    workers = one(res, "gpu_worker.workers")
    assert (workers.status, workers.evidence["workers"]) == (Status.PASS, truth["workers"])
    assert failing(res) == set(), failing(res)
