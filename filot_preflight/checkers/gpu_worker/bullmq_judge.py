"""Judging BullMQ-specific queue facts (pure): queue found, paused, stalled jobs, workers.

Depth and the oldest job's age are judged with the other layouts in `_gpu_judge`.
"""

from __future__ import annotations

from filot_preflight.checkers.base import result
from filot_preflight.checkers.gpu_worker.live import QueueFacts
from filot_preflight.models import CheckResult, EvidenceValue, Status

SUB = "gpu-worker"


def bull_gate(qf: QueueFacts, target: str, ev: dict[str, EvidenceValue]) -> list[CheckResult] | None:
    """The results that replace all others when the queue does not exist; None when it does."""
    b = qf.bull
    if b is None:
        return None
    if not b.found:
        return _name_results(qf, target) + [result(
            "gpu_worker.queue_found", SUB, Status.FAIL,
            f"no BullMQ queue '{b.name}' under prefix '{b.prefix}' ({qf.key}:meta and :id do not exist)",
            target=target, evidence={"prefix": b.prefix, "queue_name": b.name, "layout": "bullmq",
                                     "read_only_commands": ev.get("read_only_commands")},
            remediation=f"Set {qf.var} to the queue name the backend passes to new Queue(name) and "
            "checks.queue.prefix to its `prefix` option (BullMQ's default is 'bull'); the two together "
            f"must give the keys the backend writes (`{b.prefix}:<name>:meta`).",
        )]
    return None


def bull_results(qf: QueueFacts, target: str) -> list[CheckResult]:
    """Paused, stalled jobs and workers of an existing BullMQ queue."""
    b = qf.bull
    if b is None or not b.found:
        return []
    version = b.version or "version not recorded in meta"
    out = _name_results(qf, target)
    out.append(result("gpu_worker.queue_found", SUB, Status.PASS, f"BullMQ queue {qf.key} exists ({version})",
                      target=target, evidence={"prefix": b.prefix, "queue_name": b.name, "bullmq_version": b.version}))
    if b.paused:
        out.append(result(
            "gpu_worker.queue_paused", SUB, Status.FAIL,
            f"queue {qf.key} is paused (meta.paused): workers take no job, {qf.depth} job(s) wait",
            target=target, evidence={"paused": True, "depth": qf.depth},
            remediation="Resume it where it was paused (await queue.resume() in the backend or an admin script); "
            "a deploy must not leave the OCR queue paused.",
        ))
    else:
        out.append(result("gpu_worker.queue_paused", SUB, Status.PASS, "queue is not paused", target=target,
                          evidence={"paused": False}))
    stall_ev: dict[str, EvidenceValue] = {"active": b.counts.get("active", 0), "checked": b.active_checked,
                                          "stalled": b.stalled}
    if b.stalled:
        out.append(result(
            "gpu_worker.stalled_jobs", SUB, Status.FAIL,
            f"{b.stalled} active job(s) have no lock (it expired): their worker died or hangs",
            target=target, evidence=stall_ev,
            remediation="Check the GPU worker's logs and restart it; a running BullMQ worker moves stalled jobs "
            "back to wait (stalledInterval). Raise lockDuration if OCR jobs block the event loop longer than it.",
        ))
    else:
        out.append(result("gpu_worker.stalled_jobs", SUB, Status.PASS, "no stalled active job", target=target,
                          evidence=stall_ev))
    out.append(_workers(qf, target))
    return out


def _name_results(qf: QueueFacts, target: str) -> list[CheckResult]:
    """A queue name with ':' is refused by the Node library (5.x/6.x): `new Queue()` throws, the backend never
    enqueues. Only a FAIL is reported (a valid name is not worth a line of its own)."""
    b = qf.bull
    assert b is not None
    if ":" not in b.name:
        return []
    return [result(
        "gpu_worker.queue_name", SUB, Status.FAIL,
        f"queue name '{b.name}' contains ':': Node's BullMQ 5+ throws 'Queue name cannot contain :'",
        target=target, evidence={"queue_name": b.name, "prefix": b.prefix},
        remediation=f"Set {qf.var} to a name without ':' (e.g. '{b.name.replace(':', '-')}') in both services; "
        "put a namespace into the `prefix` option (checks.queue.prefix) instead.",
    )]


def _workers(qf: QueueFacts, target: str) -> CheckResult:
    b = qf.bull
    assert b is not None
    if b.workers is None:
        return result(
            "gpu_worker.workers", SUB, Status.WARN,
            "worker liveness unknown: the Redis user may not run CLIENT LIST (BullMQ's getWorkers() needs it)",
            target=target, detail=b.workers_problem or "", evidence={"workers": None},
            remediation="Grant it: ACL SETUSER <user> +client|list (Upstash documents CLIENT LIST over TCP). Where the "
            "provider has no CLIENT LIST, have the worker refresh a heartbeat key and name it in "
            "checks.queue.heartbeat_key_var.",
        )
    ev: dict[str, EvidenceValue] = {"workers": len(b.workers), "names": list(b.workers[:20])}
    if not b.workers:
        return result(
            "gpu_worker.workers", SUB, Status.FAIL,
            f"no BullMQ worker is connected to queue '{b.name}' (getWorkers() lists none)",
            target=target, evidence=ev,
            remediation="Start the GPU worker service (ECS: desired count >= 1) with the same queue name and "
            f"prefix ('{b.prefix}'), and check its logs for Redis connection errors.",
        )
    return result("gpu_worker.workers", SUB, Status.PASS, f"{len(b.workers)} BullMQ worker connection(s)",
                  target=target, evidence=ev)
