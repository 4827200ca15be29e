"""autoscaling's probe: the Application Auto Scaling target and policies of each ECS service, and the
metric each policy follows (target tracking: its metric; step scaling: the metric of its alarms).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from filot_preflight.checkers.autoscaling.facts import Facts as Facts
from filot_preflight.checkers.autoscaling.facts import Policy as Policy
from filot_preflight.checkers.autoscaling.facts import Target as Target
from filot_preflight.checkers.base import CheckContext
from filot_preflight.net.aws_live import cluster_of, open_client, pages, trouble, wanted_services

DIMENSION = "ecs:service:DesiredCount"


def base_facts(ctx: CheckContext) -> Facts:
    """The facts every outcome starts from (also a timed-out probe's)."""
    s = ctx.manifest.checks.autoscaling
    return Facts(cluster_of(ctx), min_capacity=tuple(sorted(s.min_capacity.items())),
                 workload_services=tuple(s.workload_metric_services), workload_metrics=tuple(s.workload_metrics),
                 now=time.time())


def probe(ctx: CheckContext) -> Facts:
    """Describe targets and policies for `service/<cluster>/<name>` of each manifest service."""
    base = base_facts(ctx)
    opened = open_client(ctx, "application-autoscaling")
    if opened.aws is None:
        return replace(base, skip_reason=opened.skip_reason, trouble=opened.trouble)
    if base.cluster is None:
        return replace(base, region=opened.region)
    client = opened.aws.client
    wanted = {f"service/{base.cluster}/{name}": service for service, name in wanted_services(ctx)}
    try:
        found = {t["ResourceId"]: t for t in pages(client.describe_scalable_targets, "ScalableTargets",
                                                  ServiceNamespace="ecs", ResourceIds=list(wanted),
                                                  ScalableDimension=DIMENSION)}
        raw = {rid: pages(client.describe_scaling_policies, "ScalingPolicies", ServiceNamespace="ecs",
                          ResourceId=rid, ScalableDimension=DIMENSION) for rid in wanted if rid in found}
        alarm_metrics = _alarm_metrics(ctx, [a["AlarmName"] for ps in raw.values() for p in ps
                                             if p.get("PolicyType") == "StepScaling" for a in p.get("Alarms") or []])
    except Exception as e:  # noqa: BLE001 - a fact
        return replace(base, trouble=trouble(e), calls=opened.calls, region=opened.region)
    targets = []
    for rid, service in wanted.items():
        t = found.get(rid)
        if t is None:
            targets.append(Target(service, rid, False))
            continue
        policies = tuple(_policy(p, alarm_metrics) for p in raw.get(rid, []))
        targets.append(Target(service, rid, True, int(t.get("MinCapacity") or 0), int(t.get("MaxCapacity") or 0),
                              policies))
    return replace(base, targets=tuple(targets), calls=opened.calls, region=opened.region)


def _policy(p: dict[str, Any], alarm_metrics: dict[str, str]) -> Policy:
    metrics: list[str] = []
    tt = p.get("TargetTrackingScalingPolicyConfiguration") or {}
    predefined = (tt.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType")
    if predefined:
        metrics.append(str(predefined))
    custom = tt.get("CustomizedMetricSpecification") or {}
    if custom.get("MetricName"):
        metrics.append(str(custom["MetricName"]))
    for m in custom.get("Metrics") or []:  # metric math
        name = ((m.get("MetricStat") or {}).get("Metric") or {}).get("MetricName")
        if name:
            metrics.append(str(name))
    metrics += [alarm_metrics[a["AlarmName"]] for a in p.get("Alarms") or [] if a.get("AlarmName") in alarm_metrics
                and p.get("PolicyType") == "StepScaling"]
    return Policy(str(p.get("PolicyName", "")), str(p.get("PolicyType", "")), tuple(dict.fromkeys(metrics)))


def _alarm_metrics(ctx: CheckContext, names: list[str]) -> dict[str, str]:
    """The metric of each step-scaling alarm (one DescribeAlarms call for up to 100 names)."""
    if not names:
        return {}
    opened = open_client(ctx, "cloudwatch")
    if opened.aws is None:
        return {}
    alarms = opened.aws.client.describe_alarms(AlarmNames=names[:100]).get("MetricAlarms") or []
    return {str(a.get("AlarmName")): str(a.get("MetricName") or "") for a in alarms if a.get("MetricName")}
