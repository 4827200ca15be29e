"""Read-only live facts about the OCR queue in Redis: depth, oldest job age, dead letters, heartbeat.

Every command goes through `ReadOnlyRedis`, which exposes read commands only (TIME, TYPE, LLEN,
LINDEX, LRANGE, XLEN, XINFO GROUPS, XRANGE, ZCARD, ZCOUNT, ZRANGE, HGET, HMGET, EXISTS, GET, CLIENT
LIST): nothing here can pop, move or change a job.

Layout assumptions (declared by `checks.queue.layout` in the manifest):
- `list`: the backend LPUSHes and the worker BRPOPs, so the next job is at the tail. Both ends are read
  and the older timestamp wins, which also covers RPUSH/BLPOP producers.
- `stream`: with consumer groups, depth is the group lag and the oldest job is the first entry after the
  group's last-delivered id; without groups, consumed entries are assumed deleted (XDEL), so depth is
  XLEN and the oldest job is the first entry. Entry ids carry their enqueue time (ms).
- `bullmq`: BullMQ's own keys under `<prefix>:<queue>:` (see `_queue_bullmq`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from filot_preflight.models import EvidenceValue

MS_THRESHOLD = 1e11  # a unix timestamp above this is in milliseconds (1e11 s is the year 5138)


class ReadOnlyRedis:
    """A redis-py client narrowed to read commands; records which commands were sent (evidence)."""

    def __init__(self, client: Any) -> None:
        self._c = client
        self.sent: list[str] = []

    def _note(self, name: str) -> None:
        if name not in self.sent:
            self.sent.append(name)

    def time(self) -> float:
        """Server clock, unix seconds."""
        self._note("TIME")
        sec, usec = self._c.time()
        return float(sec) + usec / 1e6

    def type(self, key: str) -> str:
        """The key's type ('none' when absent)."""
        self._note("TYPE")
        return _str(self._c.type(key))

    def llen(self, key: str) -> int:
        """Length of a list."""
        self._note("LLEN")
        return int(self._c.llen(key))

    def lindex(self, key: str, index: int) -> bytes | None:
        """One list element, without removing it."""
        self._note("LINDEX")
        v = self._c.lindex(key, index)
        return v if v is None or isinstance(v, bytes) else str(v).encode()

    def xlen(self, key: str) -> int:
        """Length of a stream."""
        self._note("XLEN")
        return int(self._c.xlen(key))

    def xinfo_groups(self, key: str) -> list[dict[str, Any]]:
        """Consumer groups of a stream, keys as str."""
        self._note("XINFO GROUPS")
        return [{_str(k): v for k, v in g.items()} for g in self._c.xinfo_groups(key)]

    def xrange_first(self, key: str, start: str) -> str | None:
        """The id of the first entry at or after `start` (`(id` = strictly after)."""
        self._note("XRANGE")
        entries = self._c.xrange(key, min=start, max="+", count=1)
        return _str(entries[0][0]) if entries else None

    def zcard(self, key: str) -> int:
        """Size of a sorted set."""
        self._note("ZCARD")
        return int(self._c.zcard(key))

    def hget(self, key: str, field_name: str) -> bytes | None:
        """One field of a hash."""
        self._note("HGET")
        v = self._c.hget(key, field_name)
        return v if v is None or isinstance(v, bytes) else str(v).encode()

    def lrange(self, key: str, start: int, end: int) -> list[bytes]:
        """A slice of a list, without removing anything."""
        self._note("LRANGE")
        return [_b(v) for v in self._c.lrange(key, start, end)]

    def zcount(self, key: str, low: float, high: float) -> int:
        """Members of a sorted set with a score in [low, high]."""
        self._note("ZCOUNT")
        return int(self._c.zcount(key, low, high))

    def zrange(self, key: str, start: int, end: int) -> list[tuple[bytes, float]]:
        """Members (with scores) of a sorted set by rank."""
        self._note("ZRANGE")
        return [(_b(m), float(sc)) for m, sc in self._c.zrange(key, start, end, withscores=True)]

    def hmget(self, key: str, fields: list[str]) -> list[bytes | None]:
        """Several fields of a hash."""
        self._note("HMGET")
        return [None if v is None else _b(v) for v in self._c.hmget(key, fields)]

    def exists(self, *keys: str) -> int:
        """How many of `keys` exist."""
        self._note("EXISTS")
        return int(self._c.exists(*keys)) if keys else 0

    def client_names(self) -> list[str]:
        """The names of the server's client connections (CLIENT LIST; nothing else is kept)."""
        self._note("CLIENT LIST")
        return [_str(c.get("name") or "") for c in self._c.client_list()]

    def get(self, key: str) -> bytes | None:
        """A string value."""
        self._note("GET")
        v = self._c.get(key)
        return v if v is None or isinstance(v, bytes) else str(v).encode()


@dataclass(frozen=True)
class BullFacts:
    """BullMQ-specific facts about one queue (see `_queue_bullmq`)."""

    prefix: str
    name: str
    found: bool = True
    paused: bool = False
    version: str | None = None  # meta.version ("bullmq:6.2.0"); BullMQ for Python does not write it
    counts: dict[str, int] = field(default_factory=dict)  # BullMQ state -> jobs, as getJobCounts()
    overdue_delayed: int = 0
    stalled: int = 0  # active jobs whose lock expired
    active_checked: int = 0
    workers: tuple[str, ...] | None = None  # connection names as getWorkers() matches them; None: unknown
    workers_problem: str | None = None


@dataclass(frozen=True)
class QueueFacts:
    """One queue key as found live."""

    var: str
    key: str
    layout: str
    redis_type: str
    depth: int | None = None
    oldest_age_s: float | None = None
    ts_problem: str | None = None  # why the oldest job's age is unknown
    wrong_type: bool = False
    evidence: dict[str, EvidenceValue] = field(default_factory=dict)
    bull: BullFacts | None = None


@dataclass(frozen=True)
class CountFacts:
    """A dead-letter key: its type and how many jobs it holds."""

    var: str
    key: str
    redis_type: str
    depth: int | None


@dataclass(frozen=True)
class HeartbeatFacts:
    """The worker's heartbeat key: present, parseable, and its age against the Redis server's clock."""

    var: str
    key: str
    present: bool
    age_s: float | None = None
    problem: str | None = None


def job_timestamp(raw: bytes, field_name: str) -> tuple[float | None, str | None]:
    """(enqueue time in unix seconds, None) or (None, why not) for one JSON job payload."""
    try:
        job = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None, "the job is not JSON"
    if not isinstance(job, dict):
        return None, "the job is not a JSON object"
    if field_name not in job:
        return None, f"the job has no '{field_name}' field"
    return parse_time(job[field_name], f"'{field_name}'")


def parse_time(value: object, what: str) -> tuple[float | None, str | None]:
    """Unix seconds (int/float/numeric string, ms when > 1e11) or ISO 8601 with offset."""
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, bool):
        return None, f"{what} is not a timestamp"
    if isinstance(value, int | float):
        ts = float(value)
    elif isinstance(value, str):
        try:
            ts = float(value)
        except ValueError:
            try:
                dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return None, f"{what} is not a unix time or ISO 8601 time"
            if dt.tzinfo is None:
                return None, f"{what} is an ISO time without a time zone"
            return dt.timestamp(), None
    else:
        return None, f"{what} is not a timestamp"
    return (ts / 1000 if ts > MS_THRESHOLD else ts), None


def depth_of(ro: ReadOnlyRedis, key: str, redis_type: str) -> int | None:
    """Number of jobs in a key of any container type (None for a type that holds no jobs)."""
    if redis_type == "none":
        return 0
    if redis_type == "list":
        return ro.llen(key)
    if redis_type == "stream":
        return ro.xlen(key)
    if redis_type == "zset":
        return ro.zcard(key)
    return None


def _b(v: object) -> bytes:
    return v if isinstance(v, bytes) else str(v).encode()


def _str(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)
