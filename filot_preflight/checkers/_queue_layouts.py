"""Per-layout readers of the OCR queue (list, stream, BullMQ); read-only, see `_queue_live` for assumptions."""

from __future__ import annotations

from filot_preflight.checkers._queue_live import QueueFacts, ReadOnlyRedis, depth_of, job_timestamp, parse_time
from filot_preflight.models import EvidenceValue


def read_queue(ro: ReadOnlyRedis, var: str, key: str, layout: str, ts_field: str, now: float) -> QueueFacts:
    """Facts about one queue key in the declared layout."""
    if layout == "stream":
        return _stream(ro, var, key, now)
    if layout == "bullmq":
        return _bullmq(ro, var, key, now)
    return _list(ro, var, key, ts_field, now)


def bullmq_base(key: str) -> str:
    """BullMQ's key prefix for a queue: the value itself if it already starts with `bull:`."""
    return key if key.startswith("bull:") else f"bull:{key}"


def _list(ro: ReadOnlyRedis, var: str, key: str, ts_field: str, now: float) -> QueueFacts:
    t = ro.type(key)
    if t not in ("list", "none"):
        return QueueFacts(var, key, "list", t, wrong_type=True)
    depth = ro.llen(key) if t == "list" else 0
    if depth == 0:
        return QueueFacts(var, key, "list", t, depth=0)
    found: list[tuple[float, str]] = []
    problem = None
    # The tail is read first: for LPUSH/BRPOP it is the next job, so its problem is the one reported.
    for end, index in (("tail", -1), ("head", 0)):
        raw = ro.lindex(key, index)
        if raw is None:
            continue
        ts, why = job_timestamp(raw, ts_field)
        if ts is not None:
            found.append((ts, end))
        elif problem is None:
            problem = why
    ev: dict[str, EvidenceValue] = {"timestamp_field": ts_field}
    if not found:
        return QueueFacts(var, key, "list", t, depth=depth, ts_problem=problem, evidence=ev)
    ts, end = min(found)
    return QueueFacts(var, key, "list", t, depth=depth, oldest_age_s=round(now - ts, 1),
                      evidence=ev | {"oldest_at": end})


def _stream(ro: ReadOnlyRedis, var: str, key: str, now: float) -> QueueFacts:
    t = ro.type(key)
    if t not in ("stream", "none"):
        return QueueFacts(var, key, "stream", t, wrong_type=True)
    if t == "none":
        return QueueFacts(var, key, "stream", t, depth=0)
    length = ro.xlen(key)
    groups = ro.xinfo_groups(key)
    ev: dict[str, EvidenceValue] = {"xlen": length, "groups": len(groups)}
    if groups:
        lags = [g.get("lag") for g in groups]
        pending = sum(int(g.get("pending") or 0) for g in groups)
        # The group furthest behind decides; an unknown lag (Redis < 7) falls back to XLEN.
        depth = max(int(lag) if lag is not None else length for lag in lags)
        last_ids = sorted((_sid(g.get("last-delivered-id")) for g in groups), key=_id_key)
        first = ro.xrange_first(key, f"({last_ids[0]}") if last_ids[0] != "0-0" else ro.xrange_first(key, "-")
        ev |= {"pending": pending}
    else:
        depth = length
        first = ro.xrange_first(key, "-")
    if first is None or depth == 0:
        return QueueFacts(var, key, "stream", t, depth=depth, evidence=ev)
    ts, _ = parse_time(int(first.split("-")[0]), "stream entry id")
    age = round(now - ts, 1) if ts is not None else None
    return QueueFacts(var, key, "stream", t, depth=depth, oldest_age_s=age, evidence=ev | {"oldest_id": first})


def _bullmq(ro: ReadOnlyRedis, var: str, key: str, now: float) -> QueueFacts:
    base = bullmq_base(key)
    wait, paused, prio = f"{base}:wait", f"{base}:paused", f"{base}:prioritized"
    t = ro.type(wait)
    if t not in ("list", "none"):
        return QueueFacts(var, wait, "bullmq", t, wrong_type=True)
    counts = {
        "wait": depth_of(ro, wait, t) or 0,
        "paused": depth_of(ro, paused, ro.type(paused)) or 0,
        "prioritized": depth_of(ro, prio, ro.type(prio)) or 0,
        "active": depth_of(ro, f"{base}:active", ro.type(f"{base}:active")) or 0,
    }
    depth = counts["wait"] + counts["paused"] + counts["prioritized"]
    ev: dict[str, EvidenceValue] = {f"{k}_count": v for k, v in counts.items()}
    stamps: list[float] = []
    problem = None
    for lst, n in ((wait, counts["wait"]), (paused, counts["paused"])):
        if not n:
            continue
        for index in (-1, 0):
            job_id = ro.lindex(lst, index)
            if job_id is None:
                continue
            raw = ro.hget(f"{base}:{job_id.decode(errors='replace')}", "timestamp")
            ts, why = parse_time(raw, "the job's 'timestamp'") if raw is not None else (None, "job hash missing")
            if ts is not None:
                stamps.append(ts)
            elif problem is None:
                problem = why
    age = round(now - min(stamps), 1) if stamps else None
    return QueueFacts(var, wait, "bullmq", t, depth=depth, oldest_age_s=age,
                      ts_problem=None if stamps or not depth else problem, evidence=ev)


def _sid(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v or "0-0")


def _id_key(sid: str) -> tuple[int, int]:
    ms, _, seq = sid.partition("-")
    return int(ms or 0), int(seq or 0)
