"""Seed moto like a healthy deployment (what `preflight check --phase postdeploy` reads): each ECS service
with a circuit breaker that rolls back, an Application Auto Scaling target and policy per service,
the CloudWatch alarms the manifest requires (each with an SNS action), and rotation on the rotated secrets.

moto's services report `runningCount == desiredCount` and a COMPLETED rollout only when the server runs
with MOTO_ECS_SERVICE_RUNNING (sandbox/moto.py sets it to 1, the seeded desiredCount).
"""

from __future__ import annotations

from typing import Any

from filot_preflight.manifest import Manifest

BREAKER = {"deploymentCircuitBreaker": {"enable": True, "rollback": True},
           "maximumPercent": 200, "minimumHealthyPercent": 100}
MAX_CAPACITY = 4


def seed_deployment(session: Any, client_args: dict[str, Any], manifest: Manifest, cluster: str) -> dict[str, Any]:
    """Configure services, scaling, alarms and rotation healthy; returns what was created, by kind."""
    ecs = session.client("ecs", **client_args)
    services = [(s.name, manifest.checks.ecs.service_names.get(s.name) or s.ecs_family)
                for s in manifest.services if s.ecs_family]
    for _, name in services:
        # moto ignores deploymentConfiguration on create_service but keeps it from update_service.
        ecs.update_service(cluster=cluster, service=name, deploymentConfiguration=BREAKER)
    scaling = session.client("application-autoscaling", **client_args)
    for service, name in services:
        seed_scaling(scaling, manifest, cluster, service, name)
    sns = session.client("sns", **client_args)
    topic = sns.create_topic(Name="filot-alerts")["TopicArn"]
    cw = session.client("cloudwatch", **client_args)
    alarms = seed_alarms(cw, manifest, topic)
    sm = session.client("secretsmanager", **client_args)
    rotated = []
    for spec in manifest.checks.rotation.secrets:
        rotated.append(seed_rotation(sm, spec.id, spec.period_days))
    return {"services": [n for _, n in services], "alarms": alarms, "rotated": rotated, "topic": topic}


def seed_scaling(client: Any, manifest: Manifest, cluster: str, service: str, name: str) -> None:
    """A scalable target (min = the manifest's floor, at least 1) and a target-tracking policy."""
    rid = f"service/{cluster}/{name}"
    low = max(1, manifest.checks.autoscaling.min_capacity.get(service, 1))
    dim = "ecs:service:DesiredCount"
    client.register_scalable_target(ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=dim,
                                    MinCapacity=low, MaxCapacity=max(MAX_CAPACITY, low + 1))
    if service in manifest.checks.autoscaling.workload_metric_services:
        # The GPU worker follows its backlog: a custom metric of the OCR queue depth per task.
        config: dict[str, Any] = {"TargetValue": 5.0, "CustomizedMetricSpecification": {
            "MetricName": "OcrQueueDepth", "Namespace": "FiLot/OCR", "Statistic": "Average"}}
    else:
        config = {"TargetValue": 60.0, "PredefinedMetricSpecification": {
            "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}
    client.put_scaling_policy(PolicyName=f"{name}-target-tracking", ServiceNamespace="ecs", ResourceId=rid,
                              ScalableDimension=dim, PolicyType="TargetTrackingScaling",
                              TargetTrackingScalingPolicyConfiguration=config)


def seed_alarms(cw: Any, manifest: Manifest, topic: str) -> list[str]:
    """One alarm per required spec (its first name and metric), notifying `topic`; state OK."""
    out = []
    for spec in manifest.checks.alarms.required:
        name = spec.names[0] if spec.names else f"filot-{spec.id}"
        cw.put_metric_alarm(AlarmName=name, MetricName=spec.metrics[0] if spec.metrics else spec.id,
                            Namespace="FiLot", Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1.0,
                            ComparisonOperator="GreaterThanOrEqualToThreshold", AlarmActions=[topic],
                            TreatMissingData="notBreaching")
        cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="sandbox: healthy")
        out.append(name)
    return out


def seed_rotation(sm: Any, secret_id: str, days: int) -> str:
    """Turn rotation on and rotate once, keeping the value.

    moto rotates without a Lambda by copying the value into a new version, but then loses track of its
    AWSCURRENT version (GetSecretValue fails): putting the same value back gives it a current one again.
    """
    body = sm.get_secret_value(SecretId=secret_id)["SecretString"]
    sm.rotate_secret(SecretId=secret_id, RotationRules={"AutomaticallyAfterDays": days})
    sm.put_secret_value(SecretId=secret_id, SecretString=body)
    return secret_id
