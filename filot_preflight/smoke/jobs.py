"""The smoke job in the OCR queue, in the manifest's layout: enqueued as the backend enqueues, awaited, removed.

- `bullmq`: the real BullMQ library (PyPI `bullmq`, the Lua scripts of the Node library): `Queue.add` with
  the job name of `checks.smoke.job_name` and a custom job id, the result from the job's state
  (completed: `returnvalue`; failed: `failedReason`), then `Queue.remove` (job hash, logs, state entry).
- `list`: LPUSH of a JSON job (with `checks.queue.job_timestamp_field`); done = a worker popped it (the list
  layout has no result channel: the report says so); removal = LREM of that exact payload if still there.
- `stream` is not supported yet (the step says so): consumer-group semantics differ per worker.

Job ids are `preflight-smoke-<expiry unix>-<uuid4 hex>`; `sweep` removes jobs of that shape whose expiry has
passed (left by a killed run) and nothing else.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from filot_preflight.manifest import Manifest
from filot_preflight.net.redis_conn import Endpoint, connect

MARKER = "preflight-smoke-"
ID_SHAPE = re.compile(re.escape(MARKER) + r"([0-9]{1,12})-[0-9a-f]{32}")
SCAN_BUDGET = 2000  # keys looked at per sweep (bounded, also on a large shared Redis)
POLL_S = 0.1


@dataclass(frozen=True)
class Outcome:
    """How the wait ended: completed | failed | consumed (list/stream: picked up) | waiting | active | unknown."""

    state: str
    detail: str = ""

    @property
    def done(self) -> bool:
        """Whether a worker finished (or, without a result channel, took) the job."""
        return self.state in ("completed", "consumed")


def expiry_of(job_id: str) -> int | None:
    """The expiry written in a smoke job id, or None when the id is not one of ours."""
    m = ID_SHAPE.fullmatch(job_id)
    return int(m.group(1)) if m else None


class BullQueue:
    """The OCR queue through BullMQ itself. Its event loop runs in a daemon thread: Ctrl-C (a KeyboardInterrupt
    in the main thread) then stops the wait, never a coroutine half-way, so the cleanup can still use the loop."""

    def __init__(self, ep: Endpoint, ca_data: str | None, insecure: bool, timeout: float, name: str, prefix: str,
                 job_name: str) -> None:
        self.base, self.job_name, self.timeout = f"{prefix}:{name}", job_name, timeout
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True, name="smoke-bullmq").start()
        self.conn, self.queue = self._run(self._open(ep, ca_data, insecure, name, prefix))

    async def _open(self, ep: Endpoint, ca_data: str | None, insecure: bool, name: str, prefix: str) -> Any:
        import redis.asyncio as aredis
        from bullmq import Queue

        tls: dict[str, Any] = {}
        if ep.tls:
            tls = {"ssl": True, "ssl_check_hostname": not insecure, "ssl_cert_reqs": "none" if insecure else "required",
                   "ssl_ca_data": ca_data}
        # BullMQ for Python needs str replies (decode_responses).
        conn = aredis.Redis(host=ep.host, port=ep.port, db=ep.db, username=ep.username, password=ep.password,
                            socket_connect_timeout=self.timeout, socket_timeout=self.timeout, decode_responses=True,
                            **tls)
        return conn, Queue(name, {"connection": conn, "prefix": prefix})

    def _run(self, coro: Any, timeout: float | None = None) -> Any:
        bound = timeout or self.timeout
        return asyncio.run_coroutine_threadsafe(asyncio.wait_for(coro, bound), self.loop).result(bound + 1)

    def enqueue(self, job_id: str, data: dict[str, Any]) -> None:
        """Queue.add with our id; kept on completion and failure so its result can be read, then removed."""
        opts = {"jobId": job_id, "attempts": 1, "removeOnComplete": False, "removeOnFail": False}
        self._run(self.queue.add(self.job_name, data, opts))

    def wait(self, job_id: str, until: float) -> Outcome:
        """Poll the job's state until a worker completed or failed it, or `until` (monotonic) passes."""
        state = "unknown"
        while True:
            state = str(self._run(self.queue.getJobState(job_id)))
            if state in ("completed", "failed"):
                job = self._run(self.queue.getJob(job_id))
                if state == "completed":
                    return Outcome(state, json.dumps(getattr(job, "returnvalue", None), default=str)[:300])
                return Outcome(state, str(getattr(job, "failedReason", ""))[:300])
            if time.monotonic() >= until:
                return Outcome(state)
            time.sleep(POLL_S)

    def remove(self, job_id: str) -> tuple[bool, str]:
        """Queue.remove (refused by BullMQ while a worker holds the job's lock: then it is reported)."""
        removed = self._run(self.queue.remove(job_id))
        left = self._run(self.conn.exists(f"{self.base}:{job_id}"))
        if left:
            return False, "BullMQ kept the job (a worker still holds its lock); the next smoke run removes it"
        return True, "job removed" if removed else "job was already gone"

    def sweep(self, now: float) -> dict[str, Any]:
        """Remove our jobs whose expiry passed; bounded SCAN over `<prefix>:<name>:preflight-smoke-*`."""
        async def scan() -> list[str]:
            found, seen = [], 0
            async for key in self.conn.scan_iter(match=f"{self.base}:{MARKER}*", count=500):
                seen += 1
                job_id = key[len(self.base) + 1:]
                t = expiry_of(job_id)
                if t is not None and t < now:
                    found.append(job_id)
                if seen >= SCAN_BUDGET:
                    break
            return found

        stale = self._run(scan(), self.timeout * 2)
        removed = sum(1 for job_id in stale if self.remove(job_id)[0])
        return {"stale_found": len(stale), "stale_deleted": removed}

    def close(self) -> None:
        """Close the queue and its connection, then stop the loop's thread."""
        try:
            self._run(self.queue.close())
            self._run(self.conn.aclose())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)


class ListQueue:
    """The OCR queue as a Redis list (LPUSH by the backend, BRPOP by the worker)."""

    def __init__(self, ep: Endpoint, ca_files: list[Any], insecure: bool, timeout: float, key: str,
                 ts_field: str) -> None:
        self.r = connect(ep, ca_files=ca_files, insecure=insecure, timeout=timeout)
        self.key, self.ts_field = key, ts_field
        self.payloads: dict[str, str] = {}

    def enqueue(self, job_id: str, data: dict[str, Any]) -> None:
        """LPUSH the job as the backend does (JSON with its enqueue time)."""
        payload = json.dumps({"id": job_id, **data, self.ts_field: time.time()})
        self.payloads[job_id] = payload
        self.r.lpush(self.key, payload)

    def wait(self, job_id: str, until: float) -> Outcome:
        """Done once the payload is no longer in the list (LPOS): a worker popped it."""
        while self.r.lpos(self.key, self.payloads[job_id]) is not None:
            if time.monotonic() >= until:
                return Outcome("waiting")
            time.sleep(POLL_S)
        return Outcome("consumed", "a worker popped the job (the list layout has no result to read)")

    def remove(self, job_id: str) -> tuple[bool, str]:
        """LREM the exact payload if no worker took it."""
        n = self.r.lrem(self.key, 0, self.payloads[job_id]) if job_id in self.payloads else 0
        return True, "job removed from the list" if n else "no copy left in the list"

    def sweep(self, now: float) -> dict[str, Any]:
        """LREM our expired jobs among the first and last 1,000 entries."""
        stale: list[str] = []
        ends = [*self.r.lrange(self.key, 0, 999), *self.r.lrange(self.key, -1000, -1)]
        for raw in (v.decode(errors="replace") if isinstance(v, bytes) else str(v) for v in ends):
            with_id = _job_id(raw)
            t = expiry_of(with_id) if with_id else None
            if t is not None and t < now and raw not in stale:
                stale.append(raw)
        removed = sum(int(str(self.r.lrem(self.key, 0, raw))) for raw in stale)
        return {"stale_found": len(stale), "stale_deleted": removed}

    def close(self) -> None:
        """Close the connection."""
        self.r.close()


def _job_id(raw: str) -> str | None:
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc.get("id") if isinstance(doc, dict) and isinstance(doc.get("id"), str) else None


def open_queue(manifest: Manifest, ep: Endpoint, ca_files: list[Any], insecure: bool, timeout: float,
               queue_value: str) -> BullQueue | ListQueue:
    """The queue the backend writes to, in the manifest's layout (`stream` is not supported by smoke)."""
    from filot_preflight.checkers.gpu_worker.bullmq import queue_base
    from filot_preflight.net.tls import read_ca_data

    q = manifest.checks.queue
    if q.layout == "bullmq":
        _, name = queue_base(queue_value, q.prefix)
        return BullQueue(ep, read_ca_data(ca_files), insecure, timeout, name, q.prefix, manifest.checks.smoke.job_name)
    if q.layout == "list":
        return ListQueue(ep, ca_files, insecure, timeout, queue_value, q.job_timestamp_field)
    raise ValueError(f"checks.queue.layout {q.layout!r}: preflight smoke supports 'bullmq' and 'list'")
