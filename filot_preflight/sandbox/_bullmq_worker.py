"""The GPU-worker stand-in for the BullMQ layout: a real BullMQ Worker (PyPI `bullmq`, the same Lua
scripts as the npm library) consuming OCR_QUEUE_KEY under BULLMQ_PREFIX over TLS Redis.

Run by `workers.start_bullmq_worker`. A job `{"fail": "<reason>"}` fails (BullMQ moves it to `failed`,
its dead letters); `{"hold_s": N}` keeps the job active N seconds (to stall it by killing this
process). Nothing else is written: liveness is what BullMQ itself records (its named connection and
job locks), not a heartbeat key. SIGUSR1 pauses this worker (BullMQ's local `worker.pause()`: the queue
is not paused, its connection stays, it just takes no job) and writes `paused` in the working folder once
done; SIGUSR2 resumes it. SIGTERM closes the worker gracefully.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any


async def _process(job: Any, token: str) -> dict[str, int]:
    data = job.data if isinstance(job.data, dict) else {}
    if "fail" in data:
        raise RuntimeError(str(data["fail"]))
    await asyncio.sleep(float(data.get("hold_s", 0.01)))
    return {"pages": 1}


def connect(redis_env: Mapping[str, str]) -> Any:
    """A redis.asyncio client for BullMQ from REDIS_URL (and REDIS_TLS_CA_FILE for a rediss:// URL). Also the
    sandbox producer's (`workers.enqueue_bullmq`)."""
    import redis.asyncio as aredis

    url = redis_env["REDIS_URL"]
    tls: dict[str, Any] = {}
    if url.startswith("rediss://"):
        tls = {"ssl_ca_certs": redis_env.get("REDIS_TLS_CA_FILE") or None}
    # BullMQ for Python needs str replies (decode_responses).
    return aredis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=5, **tls)


async def main() -> None:
    """Start the worker, write the ready file once getWorkers() lists it, run until SIGTERM/SIGINT."""
    from bullmq import Queue, Worker

    env = os.environ
    queue, prefix = env["OCR_QUEUE_KEY"], env.get("BULLMQ_PREFIX", "bull")

    conn, qconn = connect(env), connect(env)
    # drainDelay 1 s: an idle worker re-blocks every second, so a job after a long idle is taken at once.
    opts: dict[str, Any] = {"connection": conn, "prefix": prefix, "name": env.get("BULLMQ_WORKER_NAME", "gpu-1"),
                            "drainDelay": 1}
    if env.get("BULLMQ_LOCK_MS"):
        opts["lockDuration"] = int(env["BULLMQ_LOCK_MS"])
    worker = Worker(queue, _process, opts)
    q = Queue(queue, {"connection": qconn, "prefix": prefix})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    marker = Path("paused")

    async def pause() -> None:
        await worker.pause()
        marker.write_text("1")

    def resume() -> None:
        worker.resume()
        marker.unlink(missing_ok=True)

    pending: set[asyncio.Task[None]] = set()  # a reference, so the pause task is not collected mid-way
    loop.add_signal_handler(signal.SIGUSR1, lambda: pending.add(loop.create_task(pause())))
    loop.add_signal_handler(signal.SIGUSR2, resume)
    while not await q.get_workers():
        await asyncio.sleep(0.05)
    Path(env["SANDBOX_READY_FILE"]).write_text(str(os.getpid()))
    print(f"consuming BullMQ queue {prefix}:{queue}", flush=True)
    await stop.wait()
    await worker.close()
    await q.close()
    await conn.aclose()
    await qconn.aclose()


if __name__ == "__main__":
    asyncio.run(main())
