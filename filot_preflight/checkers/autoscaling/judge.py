"""autoscaling's judge (pure): a scalable target per service with a sane range and a policy; the GPU
worker's policy follows its workload (queue depth or CPU/GPU utilisation)."""

from __future__ import annotations

from filot_preflight.checkers.autoscaling.facts import Facts, Target
from filot_preflight.checkers.base import results_for
from filot_preflight.models import CheckResult, EvidenceValue, Status
from filot_preflight.net.aws_facts import source_parts

NAME = "autoscaling"
SUBSYSTEM = "aws"
_r = results_for(NAME, SUBSYSTEM)


def judge(facts: Facts) -> list[CheckResult]:
    """Pure: a source result, then target, capacity, policy (and workload metric) per service."""
    p = source_parts("Application Auto Scaling", facts.trouble, facts.skip_reason, facts.calls, facts.region)
    out = [_r("source", p.status, p.summary, detail=p.detail, remediation=p.remediation, evidence=p.evidence)]
    if facts.skip_reason or facts.trouble is not None:
        return out
    if facts.cluster is None:
        out.append(_r("target", Status.FAIL, "ECS cluster unknown: scalable targets cannot be named",
                      remediation="Set ECS_CLUSTER (or checks.ecs.cluster in the manifest)."))
        return out
    for t in facts.targets:
        out.extend(judge_target(t, facts))
    return out


def judge_target(t: Target, facts: Facts) -> list[CheckResult]:
    """Every rule for one service's scalable target."""
    name = t.resource_id.rsplit("/", 1)[-1]
    floor = dict(facts.min_capacity).get(t.service, 0)
    if not t.registered:
        return [_r("target", Status.FAIL, f"{name}: no scalable target ({t.resource_id})", target=t.resource_id,
                   remediation="aws application-autoscaling register-scalable-target --service-namespace ecs "
                   f"--resource-id {t.resource_id} --scalable-dimension ecs:service:DesiredCount "
                   f"--min-capacity {max(floor, 1)} --max-capacity <N>")]
    out = [_r("target", Status.PASS, f"{name}: scalable target registered", target=t.resource_id)]
    ev: dict[str, EvidenceValue] = {"min": t.min_capacity, "max": t.max_capacity, "required_min": floor}
    if t.min_capacity < floor:
        out.append(_r("capacity", Status.FAIL, f"{name}: MinCapacity {t.min_capacity} < {floor}", target=t.resource_id,
                      evidence=ev, remediation=f"Raise the minimum: register-scalable-target ... --min-capacity "
                      f"{floor} (a minimum of 0 lets the service scale to nothing)."))
    elif t.max_capacity <= t.min_capacity:
        out.append(_r("capacity", Status.FAIL, f"{name}: MaxCapacity {t.max_capacity} <= MinCapacity "
                      f"{t.min_capacity}: it cannot scale out", target=t.resource_id, evidence=ev,
                      remediation="Set --max-capacity above the minimum (register-scalable-target)."))
    else:
        out.append(_r("capacity", Status.PASS, f"{name}: scales {t.min_capacity}..{t.max_capacity}",
                      target=t.resource_id, evidence=ev))
    if not t.policies:
        out.append(_r("policy", Status.FAIL, f"{name}: no scaling policy", target=t.resource_id,
                      remediation="Add one: aws application-autoscaling put-scaling-policy --policy-type "
                      "TargetTrackingScaling (e.g. ECSServiceAverageCPUUtilization at 60%)."))
        return out
    out.append(_r("policy", Status.PASS, f"{name}: {len(t.policies)} scaling policies", target=t.resource_id,
                  evidence={"policies": [p.name for p in t.policies]}))
    if t.service in facts.workload_services:
        wanted = set(facts.workload_metrics)
        used = sorted({m for p in t.policies for m in p.metrics})
        if not wanted & set(used):
            out.append(_r("workload_metric", Status.FAIL, f"{name}: no policy follows queue depth or CPU/GPU "
                          "utilisation", target=t.resource_id, evidence={"metrics": used},
                          remediation="Scale the GPU worker on its work: a target-tracking policy on the OCR queue "
                          "depth (a custom metric) or on CPU/GPU utilisation; see "
                          "checks.autoscaling.workload_metrics."))
        else:
            on = ", ".join(sorted(wanted & set(used)))
            out.append(_r("workload_metric", Status.PASS, f"{name}: scales on {on}",
                          target=t.resource_id, evidence={"metrics": used}))
    return out
