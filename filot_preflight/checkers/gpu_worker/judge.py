"""Judging GPU-worker facts: pure functions from `GpuFacts` + `checks.queue` to results (table-tested)."""

from __future__ import annotations

from dataclasses import dataclass

from filot_preflight.checkers.base import result
from filot_preflight.checkers.gpu_worker.bullmq_judge import bull_gate, bull_results
from filot_preflight.checkers.gpu_worker.live import CountFacts, HeartbeatFacts, QueueFacts
from filot_preflight.manifest import QueueSettings
from filot_preflight.models import CheckResult, EvidenceValue, Status
from filot_preflight.net.redis_fixes import connection_fix

SUB = "gpu-worker"
# Every command the live probe may send (AUTH needs no grant; +select for a database other than 0).
READ_GRANTS = ("+time +type +llen +lindex +lrange +zcard +zcount +zrange +hget +hmget +exists +get +xlen "
               "+xinfo|groups +xrange +client|list")
WORKER_ENV_FLAG = "--env-file gpu-worker=<worker env file> (sandbox: --env-file gpu-worker=.sandbox/gpu-worker.env)"


@dataclass(frozen=True)
class RedisView:
    """How one service reaches Redis: endpoint, db and TLS (never credentials)."""

    present: bool
    origin: str | None = None
    own: bool = False  # the value comes from a source labelled for this service
    error: str | None = None
    host: str | None = None
    port: int | None = None
    db: int | None = None
    tls: bool | None = None
    username: str | None = None


@dataclass(frozen=True)
class KeyPair:
    """One queue-related variable as the backend and the worker see it (key names are not secrets)."""

    var: str
    role: str  # queue | dead_letter | heartbeat
    backend: str | None
    worker: str | None
    worker_own: bool = False


@dataclass(frozen=True)
class LiveFacts:
    """What the read-only live probe found, or why it could not connect."""

    error_kind: str | None = None
    error: str = ""
    queues: tuple[QueueFacts, ...] = ()
    dead: tuple[CountFacts, ...] = ()
    heartbeat: HeartbeatFacts | None = None
    commands: tuple[str, ...] = ()
    refused: str | None = None  # the command an ACL refused (NOPERM), when that stopped the probe


@dataclass(frozen=True)
class GpuFacts:
    """Consistency facts (both views) and live facts (None with `live_skipped` when not probed)."""

    worker_view: bool
    backend_redis: RedisView
    worker_redis: RedisView
    same_credentials: bool | None = None
    keys: tuple[KeyPair, ...] = ()
    live: LiveFacts | None = None
    live_skipped: str | None = None


def judge(f: GpuFacts, q: QueueSettings) -> list[CheckResult]:
    """All results: consistency first, then live."""
    return _consistency(f) + _live(f, q)


# --- consistency ---------------------------------------------------------------------------------


def _consistency(f: GpuFacts) -> list[CheckResult]:
    if not f.worker_view:
        return [result(
            "gpu_worker.worker_env", SUB, Status.WARN,
            "no GPU-worker env given: its Redis settings and queue keys were not compared with the backend's",
            target="gpu-worker", remediation=f"Pass the worker's environment: {WORKER_ENV_FLAG}.",
        )]
    out = [result("gpu_worker.worker_env", SUB, Status.PASS, "GPU-worker env given", target="gpu-worker")]
    out += _redis_pair(f.backend_redis, f.worker_redis, f.same_credentials)
    out += [_key(k) for k in f.keys]
    return out


def _redis_pair(b: RedisView, w: RedisView, same_creds: bool | None) -> list[CheckResult]:
    target = "REDIS_URL"
    for who, v in (("backend", b), ("GPU worker", w)):
        if not v.present or v.error:
            why = "has no REDIS_URL" if not v.present else f"has an unusable REDIS_URL ({v.error})"
            return [result("gpu_worker.same_redis", SUB, Status.FAIL, f"the {who} {why}", target=target,
                           remediation=f"Set REDIS_URL for the {who} to the same rediss:// URL as the other service.")]
    inherited = "" if w.own else " (the worker's value comes from a shared env file)"
    ev: dict[str, EvidenceValue] = {
        "backend": f"{b.host}:{b.port}", "worker": f"{w.host}:{w.port}",
        "backend_origin": b.origin, "worker_origin": w.origin,
    }
    out = []
    if (b.host, b.port) == (w.host, w.port):
        summary = f"same Redis endpoint {b.host}:{b.port}{inherited}"
        out.append(result("gpu_worker.same_redis", SUB, Status.PASS, summary, target=target, evidence=ev))
    else:
        out.append(result(
            "gpu_worker.same_redis", SUB, Status.FAIL,
            f"backend uses Redis {b.host}:{b.port}, the GPU worker {w.host}:{w.port}", target=target, evidence=ev,
            remediation="Give both services the same REDIS_URL (one secret in Secrets Manager referenced by both "
            "task definitions); otherwise jobs are queued where the worker never looks.",
        ))
    db_ev: dict[str, EvidenceValue] = {"backend_db": b.db, "worker_db": w.db}
    out.append(result("gpu_worker.same_db", SUB, Status.PASS, f"same database number {b.db}", target=target,
                      evidence=db_ev) if b.db == w.db else result(
        "gpu_worker.same_db", SUB, Status.FAIL, f"backend uses database {b.db}, the GPU worker {w.db}",
        target=target, evidence=db_ev,
        remediation="Use the same database number (the /N at the end of REDIS_URL) for both services.",
    ))
    tls_ev: dict[str, EvidenceValue] = {"backend_tls": b.tls, "worker_tls": w.tls}
    if b.tls == w.tls:
        out.append(result("gpu_worker.same_tls", SUB, Status.PASS if b.tls else Status.FAIL,
                          "both use TLS (rediss://)" if b.tls else "neither service uses TLS (redis://)",
                          target=target, evidence=tls_ev,
                          remediation="" if b.tls else "Use rediss:// for both services."))
    else:
        plain = "GPU worker" if b.tls else "backend"
        out.append(result("gpu_worker.same_tls", SUB, Status.FAIL, f"the {plain} connects without TLS (redis://)",
                          target=target, evidence=tls_ev, remediation=f"Use rediss:// in the {plain}'s REDIS_URL."))
    if same_creds is False and b.username == w.username:
        out.append(result(
            "gpu_worker.same_credentials", SUB, Status.WARN,
            f"same Redis user '{b.username}' but different passwords", target=target,
            remediation="One of the two REDIS_URL values has an old password: copy the current one into both.",
        ))
    return out


def _key(k: KeyPair) -> CheckResult:
    ev: dict[str, EvidenceValue] = {"backend": k.backend, "worker": k.worker, "role": k.role}
    if not k.backend or not k.worker:
        who = "backend" if not k.backend else "GPU worker"
        return result("gpu_worker.same_key", SUB, Status.FAIL, f"{k.var} is not set for the {who}", target=k.var,
                      evidence=ev, remediation=f"Set {k.var} for the {who} to the same key as the other service.")
    if k.backend != k.worker:
        return result(
            "gpu_worker.same_key", SUB, Status.FAIL,
            f"{k.var} differs: backend '{k.backend}', GPU worker '{k.worker}'", target=k.var, evidence=ev,
            remediation=f"Set {k.var} to the same value for both services (the backend's '{k.backend}' "
            "unless jobs were already queued under the worker's name).",
        )
    note = "" if k.worker_own else " (worker value from a shared env file)"
    return result("gpu_worker.same_key", SUB, Status.PASS, f"{k.var} = '{k.backend}' for both{note}",
                  target=k.var, evidence=ev)


# --- live ----------------------------------------------------------------------------------------


def _live(f: GpuFacts, q: QueueSettings) -> list[CheckResult]:
    if f.live is None:
        return [result("gpu_worker.redis", SUB, Status.SKIP, f"queue not inspected: {f.live_skipped}",
                       target="REDIS_URL")]
    live = f.live
    if live.error_kind:
        return [result(
            "gpu_worker.redis", SUB, Status.FAIL, f"could not read the queue in Redis ({live.error_kind})",
            target="REDIS_URL", detail=live.error[:500], evidence={"error_kind": live.error_kind},
            remediation=_connection_fix(live, f.backend_redis),
        )]
    out: list[CheckResult] = []
    for qf in live.queues:
        out += _queue(qf, q, list(live.commands))
    out += [_dead(d, q) for d in live.dead] or [_dead(None, q)]
    if q.layout != "bullmq" or live.heartbeat is not None:  # BullMQ workers are judged by their connections
        out.append(_heartbeat(live.heartbeat, q))
    return out


def _connection_fix(live: LiveFacts, r: RedisView) -> str:
    if live.error_kind == "permission":
        grant = f"+{live.refused}" if live.refused else READ_GRANTS
        return (f"Grant the Redis user of REDIS_URL the refused command: ACL SETUSER {r.username or '<user>'} "
                f"{grant}. The gpu_worker probe needs {READ_GRANTS} and read access to the queue keys "
                "(%R~<prefix>:*); it sends no HELLO and no CLIENT SETNAME. See docs/checks/gpu_worker.md.")
    return ("Fix the Redis connection first (the redis checker reports the same failure): "
            + connection_fix(live.error_kind or "other", r.host, r.port))


def _queue(qf: QueueFacts, q: QueueSettings, commands: list[str]) -> list[CheckResult]:
    target = f"{qf.var} ({qf.key})"
    if qf.wrong_type:
        return [result(
            "gpu_worker.queue_type", SUB, Status.FAIL,
            f"{qf.key} is a Redis {qf.redis_type}, but the manifest declares the '{qf.layout}' layout",
            target=target, evidence={"redis_type": qf.redis_type, "layout": qf.layout},
            remediation="Fix checks.queue.layout in the manifest, or the queue key variable if it names the wrong key.",
        )]
    ev: dict[str, EvidenceValue] = {
        "depth": qf.depth, "layout": qf.layout, "read_only_commands": commands, **qf.evidence,
    }
    if qf.bull is not None:
        early = bull_gate(qf, target, ev)
        if early is not None:
            return early
    out = [result("gpu_worker.queue_depth", SUB, Status.PASS, f"{qf.depth} job(s) waiting", target=target, evidence=ev)]
    if not qf.depth:
        out.append(result("gpu_worker.oldest_job", SUB, Status.PASS, "queue is empty", target=target,
                          evidence={"oldest_job_age_s": None}))
    elif qf.oldest_age_s is None:
        out.append(result(
            "gpu_worker.oldest_job", SUB, Status.WARN, f"age of the oldest job unknown: {qf.ts_problem}",
            target=target, evidence={"timestamp_field": q.job_timestamp_field},
            remediation="BullMQ writes `timestamp` into every job hash: jobs without it were written by hand or "
            "by another library; check what produces them." if qf.bull else
            "Set checks.queue.job_timestamp_field to the job field holding the enqueue time "
            "(unix seconds), or have the backend add it to every job.",
        ))
    elif qf.oldest_age_s > q.oldest_job_max_age_s:
        out.append(result(
            "gpu_worker.oldest_job", SUB, Status.FAIL,
            f"oldest job has waited {qf.oldest_age_s:g}s (limit {q.oldest_job_max_age_s}s): "
            "the queue is not being consumed",
            target=target, evidence={"oldest_job_age_s": qf.oldest_age_s, "max_age_s": q.oldest_job_max_age_s},
            remediation="Check that the GPU worker service is running (ECS desired/running count), reads this queue "
            "key, and is not stuck; scale it up if it cannot keep up.",
        ))
    else:
        out.append(result("gpu_worker.oldest_job", SUB, Status.PASS, f"oldest job waited {qf.oldest_age_s:g}s",
                          target=target, evidence={"oldest_job_age_s": qf.oldest_age_s,
                                                   "max_age_s": q.oldest_job_max_age_s}))
    return out + bull_results(qf, target)


def _dead(d: CountFacts | None, q: QueueSettings) -> CheckResult:
    if d is None:
        return result("gpu_worker.dead_letter", SUB, Status.SKIP,
                      "not checked: the manifest names no dead-letter key (checks.queue.dead_letter_var)")
    target = f"{d.var} ({d.key})"
    ev: dict[str, EvidenceValue] = {"depth": d.depth, "max": q.dead_letter_max, "redis_type": d.redis_type}
    if d.depth is None:
        return result("gpu_worker.dead_letter", SUB, Status.FAIL,
                      f"{d.key} is a Redis {d.redis_type}, not a list of jobs",
                      target=target, evidence=ev, remediation=f"Point {d.var} at the dead-letter list.")
    if d.depth > q.dead_letter_max:
        return result(
            "gpu_worker.dead_letter", SUB, Status.FAIL,
            f"{d.depth} dead-lettered job(s) (limit {q.dead_letter_max})", target=target, evidence=ev,
            remediation="Inspect the dead-lettered jobs (read-only: LRANGE for a list, ZRANGE or BullMQ's "
            "queue.getFailed() for its failed set), fix the cause, then re-queue or "
            "archive them; raise checks.queue.dead_letter_max only if that many is acceptable.",
        )
    return result("gpu_worker.dead_letter", SUB, Status.PASS, f"{d.depth} dead-lettered job(s)", target=target,
                  evidence=ev)


def _heartbeat(h: HeartbeatFacts | None, q: QueueSettings) -> CheckResult:
    if h is None:
        return result("gpu_worker.heartbeat", SUB, Status.SKIP,
                      "not checked: the manifest names no heartbeat key (checks.queue.heartbeat_key_var)")
    target = f"{h.var} ({h.key})"
    ev: dict[str, EvidenceValue] = {"age_s": h.age_s, "max_age_s": q.heartbeat_max_age_s}
    restart = ("Start the GPU worker service (ECS: desired count >= 1) and check its logs; it must refresh "
               f"{h.key} with the unix time every loop.")
    if not h.present:
        return result("gpu_worker.heartbeat", SUB, Status.FAIL,
                      f"no heartbeat key {h.key}: the GPU worker is not running (or uses another key)",
                      target=target, evidence=ev, remediation=restart)
    if h.age_s is None:
        return result("gpu_worker.heartbeat", SUB, Status.FAIL, f"heartbeat value unreadable: {h.problem}",
                      target=target, evidence=ev, remediation="The worker must write str(unix seconds) to the key.")
    if h.age_s > q.heartbeat_max_age_s:
        return result("gpu_worker.heartbeat", SUB, Status.FAIL,
                      f"last heartbeat {h.age_s:g}s ago (limit {q.heartbeat_max_age_s}s): the worker stopped or hangs",
                      target=target, evidence=ev, remediation=restart)
    if h.age_s < -q.heartbeat_max_age_s:
        return result("gpu_worker.heartbeat", SUB, Status.WARN, f"heartbeat is {-h.age_s:g}s in the future",
                      target=target, evidence=ev, remediation="Sync the worker host's clock (NTP).")
    return result("gpu_worker.heartbeat", SUB, Status.PASS, f"worker heartbeat {max(h.age_s, 0):g}s ago",
                  target=target, evidence=ev)
