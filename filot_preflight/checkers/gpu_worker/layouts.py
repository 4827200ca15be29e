"""Per-layout readers of the OCR queue (list, stream; BullMQ in `_queue_bullmq`); read-only, see `live`."""

from __future__ import annotations

from filot_preflight.checkers.gpu_worker import bullmq as _queue_bullmq
from filot_preflight.checkers.gpu_worker.live import QueueFacts, ReadOnlyRedis, job_timestamp, parse_time
from filot_preflight.models import EvidenceValue


def read_queue(
    ro: ReadOnlyRedis, var: str, key: str, layout: str, ts_field: str, now: float, prefix: str = "bull"
) -> QueueFacts:
    """Facts about one queue key in the declared layout (`prefix`: BullMQ's key prefix)."""
    if layout == "stream":
        return _stream(ro, var, key, now)
    if layout == "bullmq":
        return _queue_bullmq.read(ro, var, key, prefix, now)
    return _list(ro, var, key, ts_field, now)


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


def _sid(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v or "0-0")


def _id_key(sid: str) -> tuple[int, int]:
    ms, _, seq = sid.partition("-")
    return int(ms or 0), int(seq or 0)
