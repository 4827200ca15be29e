"""Table tests of the gpu_worker judge and the pure job-timestamp parsing (no I/O)."""

from __future__ import annotations

import dataclasses

import pytest

from filot_preflight.checkers.gpu_worker import judge
from filot_preflight.checkers.gpu_worker.bullmq import ready_at
from filot_preflight.checkers.gpu_worker.judge import GpuFacts, KeyPair, LiveFacts, RedisView
from filot_preflight.checkers.gpu_worker.live import (
    BullFacts,
    CountFacts,
    HeartbeatFacts,
    QueueFacts,
    job_timestamp,
    parse_time,
)
from filot_preflight.manifest import QueueSettings
from filot_preflight.models import Status

Q = QueueSettings(
    queue_key_vars=["OCR_QUEUE_KEY"], dead_letter_var="OCR_DEAD_LETTER_KEY", heartbeat_key_var="HB",
    heartbeat_max_age_s=60, oldest_job_max_age_s=900, dead_letter_max=0,
)
VIEW = RedisView(present=True, origin="x.env:1", own=True, host="db.upstash.io", port=6379, db=0, tls=True,
                 username="default")
KEYS = (
    KeyPair("OCR_QUEUE_KEY", "queue", "ocr:jobs", "ocr:jobs", True),
    KeyPair("OCR_DEAD_LETTER_KEY", "dead_letter", "ocr:dead", "ocr:dead", True),
    KeyPair("HB", "heartbeat", "ocr:hb", "ocr:hb", True),
)
LIVE = LiveFacts(
    queues=(QueueFacts("OCR_QUEUE_KEY", "ocr:jobs", "list", "list", depth=3, oldest_age_s=12.0),),
    dead=(CountFacts("OCR_DEAD_LETTER_KEY", "ocr:dead", "none", 0),),
    heartbeat=HeartbeatFacts("HB", "ocr:hb", present=True, age_s=2.0),
    commands=("TIME", "TYPE", "LLEN", "LINDEX", "GET"),
)
HEALTHY = GpuFacts(worker_view=True, backend_redis=VIEW, worker_redis=VIEW, same_credentials=True, keys=KEYS,
                   live=LIVE)


def table(facts: GpuFacts, q: QueueSettings = Q) -> dict[tuple[str, str], Status]:
    results = judge(facts, q)
    for r in results:
        assert r.status in (Status.PASS, Status.SKIP) or r.remediation, f"{r.id}: no fix"
    return {(r.id, r.target): r.status for r in results}


def status_of(facts: GpuFacts, rid: str, q: QueueSettings = Q) -> Status:
    (s,) = {s for (i, _), s in table(facts, q).items() if i == rid and s is not Status.PASS} or {Status.PASS}
    return s


def test_healthy_all_pass() -> None:
    t = table(HEALTHY)
    assert set(t.values()) == {Status.PASS}
    assert {i for i, _ in t} == {
        "gpu_worker.worker_env", "gpu_worker.same_redis", "gpu_worker.same_db", "gpu_worker.same_tls",
        "gpu_worker.same_key", "gpu_worker.queue_depth", "gpu_worker.oldest_job", "gpu_worker.dead_letter",
        "gpu_worker.heartbeat",
    }


W = dataclasses.replace


@pytest.mark.parametrize(
    ("facts", "rid", "status"),
    [
        (W(HEALTHY, worker_view=False), "gpu_worker.worker_env", Status.WARN),
        (W(HEALTHY, worker_redis=W(VIEW, host="other.upstash.io")), "gpu_worker.same_redis", Status.FAIL),
        (W(HEALTHY, worker_redis=W(VIEW, port=6380)), "gpu_worker.same_redis", Status.FAIL),
        (W(HEALTHY, worker_redis=RedisView(present=False)), "gpu_worker.same_redis", Status.FAIL),
        (W(HEALTHY, worker_redis=RedisView(present=True, error="no host")), "gpu_worker.same_redis", Status.FAIL),
        (W(HEALTHY, worker_redis=W(VIEW, db=2)), "gpu_worker.same_db", Status.FAIL),
        (W(HEALTHY, worker_redis=W(VIEW, tls=False)), "gpu_worker.same_tls", Status.FAIL),
        (W(HEALTHY, backend_redis=W(VIEW, tls=False), worker_redis=W(VIEW, tls=False)), "gpu_worker.same_tls",
         Status.FAIL),
        (W(HEALTHY, same_credentials=False), "gpu_worker.same_credentials", Status.WARN),
        (W(HEALTHY, keys=(KeyPair("OCR_QUEUE_KEY", "queue", "a", "b"),)), "gpu_worker.same_key", Status.FAIL),
        (W(HEALTHY, keys=(KeyPair("OCR_QUEUE_KEY", "queue", "a", None),)), "gpu_worker.same_key", Status.FAIL),
        (W(HEALTHY, keys=(KeyPair("OCR_QUEUE_KEY", "queue", None, "a"),)), "gpu_worker.same_key", Status.FAIL),
    ],
)
def test_consistency_rules(facts: GpuFacts, rid: str, status: Status) -> None:
    assert status_of(facts, rid) is status


def test_no_worker_view_says_how_to_pass_it_and_compares_nothing() -> None:
    results = judge(W(HEALTHY, worker_view=False), Q)
    warn = next(r for r in results if r.id == "gpu_worker.worker_env")
    assert "--env-file gpu-worker=" in warn.remediation
    assert not [r for r in results if r.id.startswith("gpu_worker.same_")]


def test_different_users_with_different_passwords_is_fine() -> None:
    facts = W(HEALTHY, worker_redis=W(VIEW, username="worker"), same_credentials=False)
    assert "gpu_worker.same_credentials" not in {i for i, _ in table(facts)}


def test_inherited_worker_value_is_flagged_in_the_summary() -> None:
    facts = W(HEALTHY, worker_redis=W(VIEW, own=False))
    same = next(r for r in judge(facts, Q) if r.id == "gpu_worker.same_redis")
    assert same.status is Status.PASS and "shared env file" in same.summary


def live(**changes: object) -> GpuFacts:
    return W(HEALTHY, live=W(LIVE, **changes))  # type: ignore[arg-type]


def queue(**changes: object) -> tuple[QueueFacts, ...]:
    return (W(LIVE.queues[0], **changes),)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("facts", "rid", "status"),
    [
        (live(queues=queue(oldest_age_s=901.0)), "gpu_worker.oldest_job", Status.FAIL),
        (live(queues=queue(oldest_age_s=899.0)), "gpu_worker.oldest_job", Status.PASS),
        (live(queues=queue(oldest_age_s=None, ts_problem="the job has no 'enqueued_at' field")),
         "gpu_worker.oldest_job", Status.WARN),
        (live(queues=queue(depth=0, oldest_age_s=None)), "gpu_worker.oldest_job", Status.PASS),
        (live(queues=queue(redis_type="string", wrong_type=True, depth=None)), "gpu_worker.queue_type", Status.FAIL),
        (live(dead=(CountFacts("D", "ocr:dead", "list", 1),)), "gpu_worker.dead_letter", Status.FAIL),
        (live(dead=(CountFacts("D", "ocr:dead", "hash", None),)), "gpu_worker.dead_letter", Status.FAIL),
        (live(dead=()), "gpu_worker.dead_letter", Status.SKIP),
        (live(heartbeat=HeartbeatFacts("HB", "ocr:hb", present=False)), "gpu_worker.heartbeat", Status.FAIL),
        (live(heartbeat=HeartbeatFacts("HB", "ocr:hb", present=True, age_s=61.0)), "gpu_worker.heartbeat",
         Status.FAIL),
        (live(heartbeat=HeartbeatFacts("HB", "ocr:hb", present=True, problem="not a time")),
         "gpu_worker.heartbeat", Status.FAIL),
        (live(heartbeat=HeartbeatFacts("HB", "ocr:hb", present=True, age_s=-600.0)), "gpu_worker.heartbeat",
         Status.WARN),
        (live(heartbeat=None), "gpu_worker.heartbeat", Status.SKIP),
        (live(error_kind="refused", error="refused"), "gpu_worker.redis", Status.FAIL),
        (W(HEALTHY, live=None, live_skipped="REDIS_URL is not set"), "gpu_worker.redis", Status.SKIP),
    ],
)
def test_live_rules(facts: GpuFacts, rid: str, status: Status) -> None:
    assert status_of(facts, rid) is status


def test_dead_letter_limit_comes_from_the_manifest() -> None:
    facts = live(dead=(CountFacts("D", "ocr:dead", "list", 5),))
    assert status_of(facts, "gpu_worker.dead_letter", Q.model_copy(update={"dead_letter_max": 5})) is Status.PASS


def test_missing_heartbeat_says_worker_not_running() -> None:
    r = next(r for r in judge(live(heartbeat=HeartbeatFacts("HB", "k", present=False)), Q)
             if r.id == "gpu_worker.heartbeat")
    assert "not running" in r.summary and "desired count" in r.remediation


def test_connection_failure_is_a_single_live_result() -> None:
    ids = [r.id for r in judge(live(error_kind="auth", error="x"), Q)]
    assert ids.count("gpu_worker.redis") == 1
    assert not {"gpu_worker.queue_depth", "gpu_worker.heartbeat"} & set(ids)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1700000000, 1700000000.0),
        (1700000000.5, 1700000000.5),
        ("1700000000.25", 1700000000.25),
        (1700000000123, 1700000000.123),  # milliseconds
        ("2023-11-14T22:13:20Z", 1700000000.0),
        ("2023-11-14T23:13:20+01:00", 1700000000.0),
        ("2023-11-14T22:13:20", None),  # no zone: ambiguous
        ("yesterday", None),
        (True, None),
        (None, None),
    ],
)
def test_parse_time(value: object, expected: float | None) -> None:
    ts, problem = parse_time(value, "x")
    assert ts == pytest.approx(expected) if expected is not None else (ts is None and problem)


@pytest.mark.parametrize(
    ("raw", "ok", "problem"),
    [
        (b'{"enqueued_at": 1700000000}', True, None),
        (b'{"id": 1}', False, "no 'enqueued_at' field"),
        (b"[1, 2]", False, "not a JSON object"),
        (b"\xff\x00", False, "not JSON"),
    ],
)
def test_job_timestamp(raw: bytes, ok: bool, problem: str | None) -> None:
    ts, why = job_timestamp(raw, "enqueued_at")
    assert (ts is not None) is ok
    assert problem is None or (why and problem in why)


def test_every_id_in_the_code_is_documented_and_vice_versa() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).parents[1]
    code = "".join(m.read_text() for m in sorted((root / "filot_preflight" / "checkers" / "gpu_worker").glob("*.py")))
    emitted = set(re.findall(r'"(gpu_worker\.[a-z_]+)"', code))
    documented = set(re.findall(r"^## (gpu_worker\.[a-z_]+)$", (root / "docs" / "checks" / "gpu_worker.md").read_text(), re.M))
    assert emitted == documented


# --- BullMQ layout (pure parts; the live tests use the real library) ---------------------------------

BQ = Q.model_copy(update={"layout": "bullmq", "prefix": "filot", "heartbeat_key_var": None})
BULL = BullFacts("filot", "ocr", counts={"wait": 2}, workers=("filot:ocr:w:gpu-1",))


def bull_live(**changes: object) -> GpuFacts:
    qf = QueueFacts("OCR_QUEUE_KEY", "filot:ocr", "bullmq", "list", depth=2, oldest_age_s=5.0,
                    bull=W(BULL, **changes))
    return W(HEALTHY, live=W(LIVE, queues=(qf,), heartbeat=None))


@pytest.mark.parametrize(("facts", "rid", "status"), [
    (bull_live(), "gpu_worker.workers", Status.PASS),
    (bull_live(found=False), "gpu_worker.queue_found", Status.FAIL),
    (bull_live(paused=True), "gpu_worker.queue_paused", Status.FAIL),
    (bull_live(stalled=1, active_checked=1), "gpu_worker.stalled_jobs", Status.FAIL),
    (bull_live(workers=()), "gpu_worker.workers", Status.FAIL),
    (bull_live(workers=None, workers_problem="NOPERM"), "gpu_worker.workers", Status.WARN),
])
def test_bullmq_results(facts: GpuFacts, rid: str, status: Status) -> None:
    assert status_of(facts, rid, BQ) is status


@pytest.mark.parametrize("found", [True, False])
def test_a_queue_name_with_a_colon_fails_whether_or_not_the_queue_exists(found: bool) -> None:
    """Node's BullMQ 5+ throws on such a name (BullMQ for Python accepts it, so a queue may even exist)."""
    facts = bull_live(name="filot:ocr:jobs", found=found)
    (r,) = [r for r in judge(facts, BQ) if r.id == "gpu_worker.queue_name"]
    assert r.status is Status.FAIL and "filot-ocr-jobs" in r.remediation and "prefix" in r.remediation
    assert "gpu_worker.queue_name" not in {i for i, _ in table(bull_live(), BQ)}  # a valid name: no line


def test_bullmq_not_found_reports_no_depth_and_no_heartbeat() -> None:
    ids = {i for i, _ in table(bull_live(found=False), BQ)}
    assert "gpu_worker.queue_depth" not in ids and "gpu_worker.oldest_job" not in ids
    assert "gpu_worker.heartbeat" not in ids  # BullMQ workers are judged by their connections


@pytest.mark.parametrize(("fields", "ready"), [
    ([b"1000", b'{"delay": 0}', None, None], 1000.0),  # never attempted: created
    ([b"1000", b'{"delay": 5000}', None, None], 6000.0),  # delayed at creation, promoted
    ([b"1000", b'{"backoff": {"type": "fixed", "delay": 2000}}', b"9000", b"1"], 11000.0),  # a retry
    ([b"1000", b'{"backoff": {"type": "exponential", "delay": 1000}}', b"9000", b"3"], 13000.0),
    ([b"1000", b'{"backoff": 500}', b"9000", b"1"], 9500.0),
    ([None, None, None, None], None),
    ([b"soon", b"{}", None, None], None),
])
def test_ready_time_of_a_waiting_bullmq_job(fields: list[bytes | None], ready: float | None) -> None:
    assert ready_at(fields)[0] == ready
