"""The OCR queue as BullMQ (5.x / 6.x, Node or Python) keeps it in Redis; read-only.

Key layout (BullMQ's Lua scripts, `<base>` = `<prefix>:<queue name>`, prefix default `bull`):
- `<base>:meta` hash: `paused` ("1" when `queue.pause()`d: jobs stay in `wait`), `version`
  ("bullmq:6.2.0", written by the Node library only); `<base>:id` the job id counter. Neither key:
  the queue does not exist under that prefix/name (never "empty").
- `wait` list (LPUSH, the next job at the tail), `paused` list (BullMQ < 5 only), `active` list,
  `prioritized` zset (+ `pc` counter), `delayed` zset whose score is `due_ms * 0x1000 + counter`,
  `waiting-children`, `completed` and `failed` zsets. Counts are LLEN / ZCARD, as `getJobCounts()`.
- `<base>:<id>` job hash: `timestamp` (creation, ms; the `timestamp` option), `opts` (JSON: the original
  `delay`, `backoff`), `delay`, `processedOn` (start of the last attempt), `atm` (attempts made);
  `<base>:<id>:lock` exists while a worker holds the job: an active job without it has stalled.
- Workers name their connections `<prefix>:<base64(name)>` (Node) or `<prefix>:<name>` (Python), plus
  `:w:<worker name>` when named; `getWorkers()` finds them with CLIENT LIST, and so does this reader.

A waiting job became ready at `timestamp + opts.delay`, or, once attempted, at `processedOn + backoff`;
an overdue delayed job (due time passed, no worker promoted it) counts as waiting since its due time.
Reads are bounded: both ends of `wait`, SAMPLE members at both ends of `prioritized`, ACTIVE_SAMPLE
active jobs.
"""

from __future__ import annotations

import base64
import json

from filot_preflight.checkers.gpu_worker.live import BullFacts, QueueFacts, ReadOnlyRedis, depth_of
from filot_preflight.models import EvidenceValue

STATES = ("wait", "paused", "prioritized", "delayed", "active", "waiting-children", "completed", "failed")
SAMPLE = 10
ACTIVE_SAMPLE = 1000
SCORE_SHIFT = 0x1000  # delayed score = due_ms * 0x1000 + counter
JOB_FIELDS = ["timestamp", "opts", "processedOn", "atm"]


def queue_base(value: str, prefix: str) -> tuple[str, str]:
    """(`<prefix>:<name>`, name) for a queue variable's value: a name, or a name already prefixed."""
    name = value[len(prefix) + 1:] if value.startswith(f"{prefix}:") else value
    return f"{prefix}:{name}", name


def read(ro: ReadOnlyRedis, var: str, value: str, prefix: str, now: float) -> QueueFacts:
    """Facts about one BullMQ queue; `now` is the server's clock (unix seconds)."""
    base, name = queue_base(value, prefix)
    wait = f"{base}:wait"
    t = ro.type(wait)
    if t not in ("list", "none"):
        return QueueFacts(var, wait, "bullmq", t, wrong_type=True)
    if not ro.exists(f"{base}:meta", f"{base}:id"):
        return QueueFacts(var, base, "bullmq", t, bull=BullFacts(prefix, name, found=False))
    paused, version = (_text(v) for v in ro.hmget(f"{base}:meta", ["paused", "version"]))
    counts = {s: depth_of(ro, f"{base}:{s}", ro.type(f"{base}:{s}")) or 0 for s in STATES}
    now_ms = now * 1000
    ready: list[tuple[float, str]] = []  # (ready at, ms; from which state)
    problem = None
    for lst in ("wait", "paused"):
        ends = [ro.lindex(f"{base}:{lst}", i) for i in (-1, 0)] if counts[lst] else []
        problem = _collect(ro, base, [i for i in ends if i is not None], lst, ready) or problem
    if counts["prioritized"]:
        ids = [m for m, _ in ro.zrange(f"{base}:prioritized", 0, SAMPLE - 1)]
        ids += [m for m, _ in ro.zrange(f"{base}:prioritized", -SAMPLE, -1)]
        problem = _collect(ro, base, ids, "prioritized", ready) or problem
    overdue = 0
    if counts["delayed"]:
        overdue = ro.zcount(f"{base}:delayed", 0, (int(now_ms) + 1) * SCORE_SHIFT - 1)
        if overdue:
            ((_, score),) = ro.zrange(f"{base}:delayed", 0, 0)
            ready.append((score // SCORE_SHIFT, "delayed (overdue)"))
    stalled, checked = _stalled(ro, base, counts["active"])
    workers, workers_problem = _workers(ro, prefix, name)
    depth = counts["wait"] + counts["paused"] + counts["prioritized"] + overdue
    ev: dict[str, EvidenceValue] = {f"{s}_count": n for s, n in counts.items()}
    ev |= {"overdue_delayed_count": overdue, "prefix": prefix, "queue_name": name,
           "bullmq_version": version or "not recorded in meta (BullMQ for Python does not write it)",
           "stalled_check_key": bool(ro.exists(f"{base}:stalled-check"))}
    age = None
    if ready:
        at, source = min(ready)
        age = round(max(now_ms - at, 0.0) / 1000, 1)
        ev |= {"oldest_from": source}
    bull = BullFacts(prefix, name, paused=paused == "1", version=version, counts=counts, overdue_delayed=overdue,
                     stalled=stalled, active_checked=checked, workers=workers, workers_problem=workers_problem)
    return QueueFacts(var, base, "bullmq", t, depth=depth, oldest_age_s=age,
                      ts_problem=None if ready or not depth else problem, evidence=ev, bull=bull)


def _collect(ro: ReadOnlyRedis, base: str, ids: list[bytes], state: str, out: list[tuple[float, str]]) -> str | None:
    """Append each job's ready time to `out`; return why one was unknown."""
    problem = None
    for job_id in dict.fromkeys(ids):
        fields = ro.hmget(f"{base}:{job_id.decode(errors='replace')}", JOB_FIELDS)
        at, why = ready_at(fields)
        if at is not None:
            out.append((at, state))
        else:
            problem = problem or why
    return problem


def ready_at(fields: list[bytes | None]) -> tuple[float | None, str | None]:
    """When a waiting job became ready (ms): `timestamp + opts.delay`, or `processedOn + backoff` once
    attempted (a retry or a stalled job moved back). (None, why) when the hash lacks a timestamp."""
    ts, opts_raw, processed, attempts = (_text(v) for v in fields)
    try:
        opts = json.loads(opts_raw) if opts_raw else {}
        created = float(ts) if ts is not None else None
        if processed is not None:
            return float(processed) + _backoff_ms(opts.get("backoff"), int(attempts or 0)), None
        if created is None:
            return None, "the job hash has no 'timestamp'" if opts_raw else "job hash missing"
        return created + float(opts.get("delay") or 0), None
    except (ValueError, TypeError, AttributeError):
        return None, "the job hash has an unreadable 'timestamp', 'processedOn' or 'opts'"


def _backoff_ms(backoff: object, attempts: int) -> float:
    """BullMQ's built-in back-off after `attempts` failures: fixed `delay`, or `2^(attempts-1) * delay`."""
    if isinstance(backoff, int | float):
        return float(backoff)
    if not isinstance(backoff, dict) or attempts < 1:
        return 0.0
    delay = float(backoff.get("delay") or 0)
    return delay * 2 ** (attempts - 1) if backoff.get("type") == "exponential" else delay


def _stalled(ro: ReadOnlyRedis, base: str, active: int) -> tuple[int, int]:
    """(active jobs without a lock, active jobs checked): a job whose lock expired has stalled."""
    if not active:
        return 0, 0
    ids = [i.decode(errors="replace") for i in ro.lrange(f"{base}:active", 0, ACTIVE_SAMPLE - 1)]
    locked = ro.exists(*(f"{base}:{i}:lock" for i in ids))
    return len(ids) - locked, len(ids)


def _workers(ro: ReadOnlyRedis, prefix: str, name: str) -> tuple[tuple[str, ...] | None, str | None]:
    """Connections named like BullMQ workers of this queue (as getWorkers() matches them)."""
    import redis.exceptions as rex

    try:
        names = ro.client_names()
    except rex.ResponseError as e:  # NOPERM, or a provider without CLIENT LIST
        return None, str(e)[:200]
    b64 = base64.b64encode(name.encode()).decode()
    bases = (f"{prefix}:{b64}", f"{prefix}:{name}")
    return tuple(n for n in names if n in bases or n.startswith(tuple(f"{b}:w:" for b in bases))), None


def _text(v: bytes | None) -> str | None:
    return None if v is None else v.decode(errors="replace")
