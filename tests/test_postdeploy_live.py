"""The post-deployment checkers against moto's server (the sandbox's), healthy and with one fault per test.

The sandbox's seeded region is a healthy deployment and is only READ here. Each fault test builds its
own deployment in a scratch region (moto keeps regions apart) with the sandbox's own seeding code, then
breaks one thing the way it breaks in production.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from filot_preflight import manifest as manifest_mod
from filot_preflight.checkers.alarms import AlarmsChecker
from filot_preflight.checkers.autoscaling import AutoscalingChecker
from filot_preflight.checkers.ecs_services import EcsServicesChecker
from filot_preflight.checkers.rotation import RotationChecker
from filot_preflight.manifest_checks import RotatedSecret
from filot_preflight.models import Status
from filot_preflight.runner import run_checks
from filot_preflight.sandbox import aws_deploy

CLUSTER = "filot-sandbox"  # the sandbox env file's ECS_CLUSTER
# A generous per-call timeout: several boto3 clients load their models at once on a busy 2-core machine.
SLOW = 10.0
ALL = (EcsServicesChecker, AutoscalingChecker, AlarmsChecker, RotationChecker)


def run(ctx, *checkers):
    return asyncio.run(run_checks([c() for c in checkers or ALL], ctx, handle_signals=False)).results


def problems(results):
    return [(r.id, r.target, r.summary) for r in results if r.status not in (Status.PASS, Status.SKIP)]


def one(results, rid, target):
    found = [r for r in results if r.id == rid and r.target == target]
    assert len(found) == 1, (rid, target, [(r.id, r.target) for r in results])
    return found[0]


class Scratch:
    """A healthy deployment in a region of its own: services, scaling, alarms, rotated secrets."""

    def __init__(self, moto_aws: Any, region: str, *, desired: int = 1, breaker: bool = True) -> None:
        import boto3

        self.moto, self.region = moto_aws, region
        self.manifest = manifest_mod.load()
        self.ecs = moto_aws.client("ecs", region)
        self.ecs.create_cluster(clusterName=CLUSTER)
        sm = moto_aws.client("secretsmanager", region)
        for spec in self.manifest.checks.rotation.secrets:
            sm.create_secret(Name=spec.id, SecretString=json.dumps({"v": spec.id}))
        self.taskdefs = {}
        for s in self.manifest.services:
            td = self.ecs.register_task_definition(
                family=s.ecs_family, containerDefinitions=[{
                    "name": s.name, "image": f"filot/{s.name}:1.0", "memory": 512,
                    "secrets": [{"name": "JWT_SECRET", "valueFrom": f"arn:aws:secretsmanager:{region}:"
                                 f"{moto_aws.account}:secret:filot/prod/jwt-secret"}]}],
            )["taskDefinition"]
            self.taskdefs[s.ecs_family] = td
            self.ecs.create_service(cluster=CLUSTER, serviceName=s.ecs_family, desiredCount=desired,
                                    taskDefinition=td["taskDefinitionArn"], launchType="FARGATE")
        session = boto3.session.Session(aws_access_key_id=moto_aws.keys["AWS_ACCESS_KEY_ID"],
                                        aws_secret_access_key=moto_aws.keys["AWS_SECRET_ACCESS_KEY"],
                                        region_name=region)
        args = {"endpoint_url": moto_aws.endpoint, "verify": str(moto_aws.ca_file)}
        self.seeded = aws_deploy.seed_deployment(session, args, self.manifest, CLUSTER)
        if not breaker:
            for name in self.seeded["services"]:
                self.ecs.update_service(cluster=CLUSTER, service=name, deploymentConfiguration={
                    "deploymentCircuitBreaker": {"enable": False, "rollback": False}})

    def context(self):
        return self.moto.context(self.manifest, aws_region=self.region, timeout=SLOW)


def test_the_sandbox_deployment_is_healthy(moto_aws):
    res = run(moto_aws.context(timeout=SLOW))
    assert not problems(res)
    assert {r.id.partition(".")[0] for r in res} == {"ecs_services", "autoscaling", "alarms", "rotation"}
    assert all(r.status is Status.PASS for r in res if r.id.endswith(".source"))
    assert len([r for r in res if r.id == "ecs_services.count"]) == 2
    assert len([r for r in res if r.id == "alarms.present"]) == 3


def test_a_scratch_deployment_is_healthy(moto_aws, scratch_region):
    assert not problems(run(Scratch(moto_aws, scratch_region).context()))


def test_desired_not_running_fails_and_the_rollout_warns_with_its_age(moto_aws, scratch_region):
    # moto (MOTO_ECS_SERVICE_RUNNING=1) runs one task: asking for two leaves the rollout IN_PROGRESS.
    res = run(Scratch(moto_aws, scratch_region, desired=2).context(), EcsServicesChecker)
    count = one(res, "ecs_services.count", "filot-backend")
    assert count.status is Status.FAIL and "1 of 2" in count.summary and count.remediation
    rollout = one(res, "ecs_services.rollout", "filot-backend")
    assert rollout.status is Status.WARN and "IN_PROGRESS" in rollout.summary and rollout.evidence["age"]


def test_stopped_task_with_a_secrets_error_fails(moto_aws, scratch_region):
    sc = Scratch(moto_aws, scratch_region)
    td = sc.taskdefs["filot-gpu-worker"]["taskDefinitionArn"]
    task = sc.ecs.run_task(cluster=CLUSTER, taskDefinition=td, launchType="FARGATE", count=1,
                           startedBy="ecs-svc/1234")["tasks"][0]["taskArn"]
    sc.ecs.stop_task(cluster=CLUSTER, task=task, reason="ResourceInitializationError: unable to pull secrets or "
                     "registry auth: execution resource retrieval failed: AccessDeniedException")
    res = run(sc.context(), EcsServicesChecker)
    r = one(res, "ecs_services.stopped_tasks", "filot-gpu-worker")
    assert r.status is Status.FAIL and "unable to pull secrets" in r.summary
    assert "secretsmanager:GetSecretValue" in r.remediation


def test_circuit_breaker_off_fails(moto_aws, scratch_region):
    res = run(Scratch(moto_aws, scratch_region, breaker=False).context(), EcsServicesChecker)
    assert one(res, "ecs_services.circuit_breaker", "filot-backend").status is Status.FAIL


def test_a_service_on_an_older_revision_than_the_checked_one_fails(moto_aws, scratch_region):
    sc = Scratch(moto_aws, scratch_region)
    td = sc.taskdefs["filot-backend"]
    sc.ecs.register_task_definition(family=td["family"], containerDefinitions=td["containerDefinitions"])
    res = run(sc.context(), EcsServicesChecker)
    r = one(res, "ecs_services.task_definition", "filot-backend")
    assert r.status is Status.FAIL and "older" in r.summary and "update-service" in r.remediation
    assert r.evidence["checked"] == "filot-backend:2"


def test_a_missing_service_fails(moto_aws, scratch_region):
    sc = Scratch(moto_aws, scratch_region)
    sc.ecs.delete_service(cluster=CLUSTER, service="filot-gpu-worker", force=True)
    res = run(sc.context(), EcsServicesChecker)
    assert one(res, "ecs_services.exists", "filot-gpu-worker").status is Status.FAIL


def test_a_missing_alarm_fails(moto_aws, scratch_region):
    sc = Scratch(moto_aws, scratch_region)
    moto_aws.client("cloudwatch", scratch_region).delete_alarms(AlarmNames=["filot-ocr-queue-depth"])
    res = run(sc.context(), AlarmsChecker)
    r = one(res, "alarms.present", "ocr_queue")
    assert r.status is Status.FAIL and "put-metric-alarm" in r.remediation
    assert [x for x in problems(res) if x[0] != "alarms.present"] == []


def test_an_alarm_in_alarm_fails(moto_aws, scratch_region):
    sc = Scratch(moto_aws, scratch_region)
    moto_aws.client("cloudwatch", scratch_region).set_alarm_state(
        AlarmName="filot-backend-5xx", StateValue="ALARM", StateReason="5xx rate above threshold")
    res = run(sc.context(), AlarmsChecker)
    r = one(res, "alarms.state", "backend_errors")
    assert r.status is Status.FAIL and "in ALARM" in r.summary


def test_an_alarm_without_action_fails(moto_aws, scratch_region):
    sc = Scratch(moto_aws, scratch_region)
    cw = moto_aws.client("cloudwatch", scratch_region)
    cw.put_metric_alarm(AlarmName="filot-ecs-task-restarts", MetricName="TaskRestarts", Namespace="FiLot",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1.0,
                        ComparisonOperator="GreaterThanOrEqualToThreshold")
    res = run(sc.context(), AlarmsChecker)
    assert one(res, "alarms.action", "task_restarts").status is Status.FAIL


def test_scaling_without_a_target_or_a_floor_fails(moto_aws, scratch_region):
    sc = Scratch(moto_aws, scratch_region)
    aas = moto_aws.client("application-autoscaling", scratch_region)
    aas.deregister_scalable_target(ServiceNamespace="ecs", ResourceId=f"service/{CLUSTER}/filot-gpu-worker",
                                   ScalableDimension="ecs:service:DesiredCount")
    aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=f"service/{CLUSTER}/filot-backend",
                                 ScalableDimension="ecs:service:DesiredCount", MinCapacity=0, MaxCapacity=4)
    res = run(sc.context(), AutoscalingChecker)
    assert one(res, "autoscaling.target", f"service/{CLUSTER}/filot-gpu-worker").status is Status.FAIL
    assert one(res, "autoscaling.capacity", f"service/{CLUSTER}/filot-backend").status is Status.FAIL


def test_rotation_off_fails(moto_aws, scratch_region):
    # moto cannot cancel a rotation that has no Lambda: the fault is a listed secret nobody set rotation up for.
    sc = Scratch(moto_aws, scratch_region)
    moto_aws.client("secretsmanager", scratch_region).create_secret(Name="filot/prod/csrf-secret", SecretString="x")
    checks = sc.manifest.checks
    rotation = checks.rotation.model_copy(update={"secrets": [*checks.rotation.secrets,
                                                              RotatedSecret(id="filot/prod/csrf-secret")]})
    sc.manifest = sc.manifest.model_copy(update={"checks": checks.model_copy(update={"rotation": rotation})})
    res = run(sc.context(), RotationChecker)
    assert [x[1] for x in problems(res)] == ["filot/prod/csrf-secret"]
    r = one(res, "rotation.enabled", "filot/prod/csrf-secret")
    assert r.status is Status.FAIL and "rotate-secret" in r.remediation


def test_offline_and_unconfigured_runs_skip_with_the_reason(moto_aws, clean_aws_env):
    for r in run(moto_aws.context(offline=True)):
        assert r.status is Status.SKIP and "--offline" in r.summary
    for r in run(moto_aws.context(values=moto_aws.values(with_keys=False))):
        assert r.status is Status.SKIP and "no_credentials" in r.summary, r.summary


@pytest.mark.parametrize("checker", ALL)
def test_a_dead_endpoint_is_a_source_failure_with_the_fix(moto_aws, checker):
    from filot_preflight.sandbox.base import free_port

    res = run(moto_aws.context(aws_endpoint=f"https://127.0.0.1:{free_port()}", timeout=SLOW), checker)
    assert [(r.id.partition(".")[2], r.status) for r in res] == [("source", Status.FAIL)]
    assert res[0].remediation


def test_the_postdeploy_probes_only_read(moto_aws, monkeypatch):
    # Observe every API operation the real clients send (botocore's before-call event), then judge the names.
    from filot_preflight.net import aws as aws_client
    from filot_preflight.net import aws_live as _aws_live

    ops: list[str] = []
    real = aws_client.make_client

    def observed(service, access):
        made = real(service, access)
        made.client.meta.events.register("before-call", lambda model, **_: ops.append(f"{service}:{model.name}"))
        return made

    monkeypatch.setattr(_aws_live, "make_client", observed)
    assert not problems(run(moto_aws.context(timeout=SLOW)))
    assert ops and all(op.split(":")[1].startswith(("Describe", "List")) for op in ops), ops
    assert {op.split(":")[0] for op in ops} == {"ecs", "application-autoscaling", "cloudwatch", "secretsmanager"}
