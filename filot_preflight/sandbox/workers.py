"""Stand-ins for FiLot's two workers, so that liveness checks see real consumers.

- the GPU worker: BRPOPs JSON jobs from OCR_QUEUE_KEY over TLS Redis and refreshes
  GPU_WORKER_HEARTBEAT_KEY with str(time.time()) every ~2 s (`_gpu_worker`, the `list` layout);
- the GPU worker for the `bullmq` layout: a real BullMQ Worker (`_bullmq_worker`), and the backend's
  producer, `enqueue_bullmq`, adding jobs with the real BullMQ Queue;
- a Temporal worker polling TEMPORAL_TASK_QUEUE with a trivial workflow (`_temporal_worker`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from filot_preflight.manifest_checks import QueueSettings
from filot_preflight.sandbox.base import (
    LOOPBACK,
    SandboxContext,
    ServiceHandle,
    launch,
    python_module,
    spawn_python,
    wait_ready,
    wait_until,
)

QUEUE_DEFAULTS = {
    "OCR_QUEUE_KEY": "filot:ocr:jobs",
    "OCR_DEAD_LETTER_KEY": "filot:ocr:dead",
    "GPU_WORKER_HEARTBEAT_KEY": "filot:ocr:worker:heartbeat",
}


def start_gpu_worker(ctx: SandboxContext, redis_env: Mapping[str, str], *, name: str = "gpu-worker") -> ServiceHandle:
    """Start the GPU-worker stand-in against the Redis described by `redis_env` (REDIS_URL, REDIS_TLS_CA_FILE).

    Ready once it has connected over TLS, authenticated and written its first heartbeat.
    """
    keys = {k: ctx.values.get(k, v) for k, v in QUEUE_DEFAULTS.items()}
    state = ctx.state_dir(name)
    ready_file = state / "ready"
    ready_file.unlink(missing_ok=True)
    env = {**redis_env, **keys, "SANDBOX_READY_FILE": str(ready_file)}
    log = ctx.log_path(name)
    # Not `launch`: readiness also asks this Popen whether the worker still runs after its ready file.
    proc = spawn_python("filot_preflight.sandbox._gpu_worker", [], log, env=env, cwd=state)
    handle = ServiceHandle(
        name=name,
        pids=[proc.pid],
        log=log,
        env=keys,
        ready=lambda: ready_file.exists() and proc.poll() is None,
        info={"queue": keys["OCR_QUEUE_KEY"], "control": str(state)},
    )
    wait_ready(handle, 20.0, proc)
    # After `up` returns, readiness means "still running" (the ready file stays behind otherwise).
    handle.ready = handle.alive
    return handle


def start_queue_worker(ctx: SandboxContext, redis_env: Mapping[str, str], queue: QueueSettings) -> ServiceHandle:
    """FiLot's GPU worker as the manifest's queue layout says it consumes: a real BullMQ worker (`bullmq`),
    else the list/stream stand-in.

    For BullMQ the backend's producer then adds one job and waits until the worker has completed it: a real
    queue that has served a job (its `meta`/`id` keys exist), so a check of the fresh stack finds the queue.
    """
    if queue.layout != "bullmq":
        return start_gpu_worker(ctx, redis_env)
    qname = ctx.values.get("OCR_QUEUE_KEY", "ocr-jobs")
    handle = start_bullmq_worker(ctx, redis_env, qname, prefix=queue.prefix, name="gpu-worker")
    try:
        enqueue_bullmq(redis_env, qname, [({"document": "sandbox-warm-up"}, {})], prefix=queue.prefix, wait_s=20.0)
    except BaseException:
        handle.stop()
        raise
    handle.env = {k: ctx.values[k] for k in QUEUE_DEFAULTS if k in ctx.values} | {"OCR_QUEUE_KEY": qname}
    return handle


def start_bullmq_worker(
    ctx: SandboxContext, redis_env: Mapping[str, str], queue: str, *, prefix: str = "bull",
    name: str = "gpu-worker-bullmq", worker_name: str = "gpu-1", lock_ms: int | None = None,
) -> ServiceHandle:
    """Start a real BullMQ worker on `queue` (under `prefix`); ready once BullMQ's getWorkers() lists it."""
    state = ctx.state_dir(name)
    ready_file = state / "ready"
    ready_file.unlink(missing_ok=True)
    env = {**redis_env, "OCR_QUEUE_KEY": queue, "BULLMQ_PREFIX": prefix, "BULLMQ_WORKER_NAME": worker_name,
           "SANDBOX_READY_FILE": str(ready_file), **({"BULLMQ_LOCK_MS": str(lock_ms)} if lock_ms else {})}
    log = ctx.log_path(name)
    proc = spawn_python("filot_preflight.sandbox._bullmq_worker", [], log, env=env, cwd=state)
    handle = ServiceHandle(
        name=name, pids=[proc.pid], log=log, env={"OCR_QUEUE_KEY": queue},
        ready=lambda: ready_file.exists() and proc.poll() is None,
        info={"queue": queue, "prefix": prefix, "worker": worker_name, "control": str(state)},
    )
    wait_ready(handle, 20.0, proc)
    handle.ready = handle.alive
    return handle


def enqueue_bullmq(
    redis_env: Mapping[str, str], queue: str, jobs: Sequence[tuple[dict[str, Any], dict[str, Any]]],
    *, prefix: str = "bull", wait_s: float | None = None,
) -> list[str]:
    """The backend's producer: add (data, opts) jobs with the real BullMQ Queue; returns their ids.

    With `wait_s`, returns once a worker has finished every one of them (BullMQ's Job.is_completed /
    is_failed), raising TimeoutError after `wait_s` seconds.
    """
    from bullmq import Queue

    from filot_preflight.sandbox._bullmq_worker import connect

    async def add() -> list[str]:
        conn = connect(redis_env)
        q = Queue(queue, {"connection": conn, "prefix": prefix})
        try:
            added = [await q.add("ocr", data, opts) for data, opts in jobs]
            if wait_s is not None:
                await asyncio.wait_for(_finished(added), wait_s)
            return [str(job.id) for job in added]
        finally:
            await q.close()
            await conn.aclose()

    return asyncio.run(add())


async def _finished(jobs: Sequence[Any]) -> None:
    for job in jobs:
        while not (await job.isCompleted() or await job.isFailed()):
            await asyncio.sleep(0.05)


def pause_gpu_worker(handle: ServiceHandle, timeout: float = 5.0) -> None:
    """Stop consuming (the list stand-in's heartbeat continues; a BullMQ worker stays connected and is paused
    locally, the queue itself is not); returns once no job can be taken any more."""
    marker = Path(handle.info["control"]) / "paused"
    os.kill(handle.pids[0], signal.SIGUSR1)
    wait_until(marker.exists, timeout, what="gpu worker paused")


def resume_gpu_worker(handle: ServiceHandle, timeout: float = 5.0) -> None:
    """Consume the queue again."""
    marker = Path(handle.info["control"]) / "paused"
    os.kill(handle.pids[0], signal.SIGUSR2)
    wait_until(lambda: not marker.exists(), timeout, what="gpu worker resumed")


def start_temporal_worker(
    ctx: SandboxContext, server: ServiceHandle, *, name: str = "temporal-worker", via: ServiceHandle | None = None
) -> ServiceHandle:
    """Start a Temporal worker on the sandbox task queue; ready once the server lists it as a poller.

    It connects to the dev server directly, or through the TLS front `via` (with its API key).
    """
    env = dict(server.env)
    if via is not None:
        env = {**env, **via.env, "SANDBOX_CA_FILE": str(ctx.certs.ca_pem.resolve())}
        env.pop("TEMPORAL_TLS_CERT", None)
        env.pop("TEMPORAL_TLS_KEY", None)
    state = ctx.state_dir(name)
    ready_file = state / "ready"
    ready_file.unlink(missing_ok=True)
    env["SANDBOX_READY_FILE"] = str(ready_file)
    argv, proc_env = python_module("filot_preflight.sandbox._temporal_worker", [], env)
    namespace, queue = env["TEMPORAL_NAMESPACE"], env["TEMPORAL_TASK_QUEUE"]
    http_port = server.ports["http"]
    handle = launch(
        ctx,
        name,
        argv,
        30.0,
        proc_env=proc_env,
        cwd=state,
        ready=lambda: ready_file.exists() and has_poller(http_port, namespace, queue),
        info={"task_queue": queue},
    )
    handle.ready = handle.alive
    return handle


def has_poller(http_port: int, namespace: str, task_queue: str) -> bool:
    """Whether the dev server's HTTP API lists a workflow poller on `task_queue`."""
    url = f"http://{LOOPBACK}:{http_port}/api/v1/namespaces/{quote(namespace)}/task-queues/{quote(task_queue)}"
    with urllib.request.urlopen(url, timeout=1.0) as resp:  # noqa: S310 - fixed http://127.0.0.1 URL
        return bool(json.load(resp).get("pollers"))
