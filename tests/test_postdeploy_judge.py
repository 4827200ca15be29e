"""The post-deployment judges (pure): ecs_services, autoscaling, alarms, rotation, on tables of facts."""

from __future__ import annotations

import pytest

from filot_preflight.checkers import alarms, autoscaling, ecs_services, rotation
from filot_preflight.checkers.alarms.probe import Alarm
from filot_preflight.checkers.alarms.probe import Facts as AlarmFacts
from filot_preflight.checkers.autoscaling.probe import Facts as ScalingFacts
from filot_preflight.checkers.autoscaling.probe import Policy, Target
from filot_preflight.checkers.ecs_services.probe import Deployment, ServiceFacts, StoppedTask, TaskDefRef
from filot_preflight.checkers.ecs_services.probe import Facts as EcsFacts
from filot_preflight.checkers.rotation.probe import Facts as RotationFacts
from filot_preflight.checkers.rotation.probe import SecretRotation
from filot_preflight.manifest_checks import AlarmSpec
from filot_preflight.models import Status
from filot_preflight.net.aws_facts import AwsTrouble

NOW = 1_800_000_000.0
SECRETS = (("JWT_SECRET", "arn:aws:secretsmanager:eu-central-1:123456789012:secret:filot/prod/jwt-secret"),)


def by_id(results, rid):
    return [r for r in results if r.id == rid]


def status(results, rid):
    found = by_id(results, rid)
    assert len(found) == 1, (rid, [(r.id, r.summary) for r in results])
    return found[0].status


# --- ecs_services -------------------------------------------------------------------------------------


def service(**kw):
    base = dict(service="backend", ecs_name="filot-backend", found=True, status="ACTIVE", desired=2, running=2,
                running_td=TaskDefRef("filot-backend", 4, SECRETS, "running"),
                reference_td=TaskDefRef("filot-backend", 4, SECRETS, "latest"),
                deployments=(Deployment("PRIMARY", "COMPLETED", "done", "td:4", NOW - 600, 0),),
                circuit_breaker=(True, True), stopped=())
    return ServiceFacts(**{**base, **kw})


def ecs(*services, **kw):
    base = dict(cluster="filot-prod", cluster_var="ECS_CLUSTER", window_min=60, now=NOW, services=services,
                region="eu-central-1", calls=4, wanted=(("backend", "filot-backend"),))
    return EcsFacts(**{**base, **kw})


def test_healthy_service_passes_every_rule():
    res = ecs_services.judge(ecs(service()))
    assert [r.id for r in res if r.status is not Status.PASS] == []
    assert {r.id for r in res} == {"ecs_services.source", "ecs_services.exists", "ecs_services.task_definition",
                                  "ecs_services.count", "ecs_services.rollout", "ecs_services.circuit_breaker",
                                  "ecs_services.stopped_tasks"}


@pytest.mark.parametrize("kw, rid, want, words", [
    ({"running": 1}, "ecs_services.count", Status.FAIL, "1 of 2"),
    ({"desired": 0, "running": 0}, "ecs_services.count", Status.FAIL, "desiredCount is 0"),
    ({"deployments": (Deployment("PRIMARY", "FAILED", "tasks failed to start", "td:4", NOW - 60, 3),)},
     "ecs_services.rollout", Status.FAIL, "FAILED"),
    ({"deployments": (Deployment("PRIMARY", "IN_PROGRESS", "", "td:4", NOW - 1500, 0),)},
     "ecs_services.rollout", Status.WARN, "25m"),
    ({"deployments": ()}, "ecs_services.rollout", Status.FAIL, "no PRIMARY"),
    ({"circuit_breaker": None}, "ecs_services.circuit_breaker", Status.FAIL, "off"),
    ({"circuit_breaker": (True, False)}, "ecs_services.circuit_breaker", Status.FAIL, "without rollback"),
    ({"running_td": TaskDefRef("filot-backend", 3, SECRETS, "running")}, "ecs_services.task_definition",
     Status.FAIL, "older"),
    ({"running_td": TaskDefRef("filot-backend", 5, SECRETS, "running")}, "ecs_services.task_definition",
     Status.PASS, "same secrets"),
    ({"running_td": TaskDefRef("filot-backend", 5, (), "running")}, "ecs_services.task_definition",
     Status.FAIL, "different secrets"),
    ({"running_td": TaskDefRef("other", 4, SECRETS, "running")}, "ecs_services.task_definition",
     Status.FAIL, "family other"),
    ({"reference_td": TaskDefRef("filot-backend", None, (), "file")}, "ecs_services.task_definition",
     Status.FAIL, "differ"),
    ({"running_td": None}, "ecs_services.task_definition", Status.FAIL, "cannot read"),
])
def test_service_faults(kw, rid, want, words):
    res = ecs_services.judge(ecs(service(**kw)))
    r = by_id(res, rid)[0]
    assert r.status is want and words in r.summary, r.summary
    if want is not Status.PASS:
        assert r.remediation


def test_stopped_task_with_a_secrets_error_fails_with_the_execution_role_fix():
    bad = StoppedTask("abc", "ResourceInitializationError: unable to pull secrets or registry auth", "", NOW - 30, ())
    scaled = StoppedTask("def", "Scaling activity initiated by (deployment ecs-svc/123)", "ServiceSchedulerInitiated",
                         NOW - 30, ())
    res = ecs_services.judge(ecs(service(stopped=(scaled, bad))))
    r = by_id(res, "ecs_services.stopped_tasks")[0]
    assert r.status is Status.FAIL and "unable to pull secrets" in r.summary
    assert "execution role" in r.remediation and r.evidence["tasks"] == ["abc"]
    assert status(ecs_services.judge(ecs(service(stopped=(scaled,)))), "ecs_services.stopped_tasks") is Status.PASS


@pytest.mark.parametrize("task, err", [
    (StoppedTask("a", "Essential container in task exited", "EssentialContainerExited", None, ()), True),
    (StoppedTask("a", "", "", None, ("OutOfMemoryError: Container killed due to memory usage",)), True),
    (StoppedTask("a", "CannotPullContainerError: pull image manifest has been retried", "", None, ()), True),
    (StoppedTask("a", "Task stopped by user", "UserInitiated", None, ()), False),
    (StoppedTask("a", "Scaling activity initiated by (deployment ecs-svc/1)", "ServiceSchedulerInitiated", None, ()),
     False),
])
def test_error_stops_are_told_from_normal_ones(task, err):
    from filot_preflight.checkers.ecs_services.judge import is_error

    assert is_error(task) is err


def test_missing_service_and_unknown_cluster():
    res = ecs_services.judge(ecs(ServiceFacts("backend", "filot-backend", missing_reason="MISSING")))
    r = by_id(res, "ecs_services.exists")[0]
    assert r.status is Status.FAIL and "MISSING" in r.summary and "create-service" in r.remediation
    res = ecs_services.judge(ecs(cluster=None))
    assert status(res, "ecs_services.cluster") is Status.FAIL


def test_source_skip_and_failure():
    res = ecs_services.judge(ecs(skip_reason="--offline"))
    assert [(r.id, r.status) for r in res] == [("ecs_services.source", Status.SKIP)]
    res = ecs_services.judge(ecs(trouble=AwsTrouble("access_denied", "not allowed", "AccessDeniedException", "grant")))
    assert [(r.id, r.status, r.remediation) for r in res] == [("ecs_services.source", Status.FAIL, "grant")]


# --- autoscaling ----------------------------------------------------------------------------------------


CPU = Policy("cpu", "TargetTrackingScaling", ("ECSServiceAverageCPUUtilization",))
QUEUE = Policy("queue", "TargetTrackingScaling", ("OcrQueueDepth",))
REQS = Policy("reqs", "TargetTrackingScaling", ("ALBRequestCountPerTarget",))


def scaling(*targets):
    return ScalingFacts("filot-prod", targets=targets, min_capacity=(("backend", 1),),
                        workload_services=("gpu-worker",), workload_metrics=("OcrQueueDepth", "CPUUtilization"),
                        region="eu-central-1")


def test_scaling_healthy_and_faults():
    ok = scaling(Target("backend", "service/filot-prod/filot-backend", True, 1, 4, (CPU,)),
                 Target("gpu-worker", "service/filot-prod/filot-gpu-worker", True, 0, 3, (QUEUE,)))
    assert [r.id for r in autoscaling.judge(ok) if r.status is not Status.PASS] == []
    res = autoscaling.judge(scaling(Target("backend", "service/filot-prod/filot-backend", True, 0, 4, (CPU,))))
    assert status(res, "autoscaling.capacity") is Status.FAIL
    res = autoscaling.judge(scaling(Target("backend", "service/filot-prod/filot-backend", True, 2, 2, (CPU,))))
    assert "cannot scale out" in by_id(res, "autoscaling.capacity")[0].summary
    res = autoscaling.judge(scaling(Target("backend", "service/filot-prod/filot-backend", True, 1, 4, ())))
    assert status(res, "autoscaling.policy") is Status.FAIL
    res = autoscaling.judge(scaling(Target("gpu-worker", "service/filot-prod/filot-gpu-worker", True, 1, 3, (REQS,))))
    r = by_id(res, "autoscaling.workload_metric")[0]
    assert r.status is Status.FAIL and r.evidence["metrics"] == ["ALBRequestCountPerTarget"]
    res = autoscaling.judge(scaling(Target("backend", "service/filot-prod/filot-backend", False)))
    assert status(res, "autoscaling.target") is Status.FAIL
    assert "register-scalable-target" in by_id(res, "autoscaling.target")[0].remediation


# --- alarms ---------------------------------------------------------------------------------------------


SPECS = (AlarmSpec(id="backend_errors", names=["filot-backend-5xx"], metrics=["HTTPCode_Target_5XX_Count"]),
         AlarmSpec(id="ocr_queue", names=["filot-ocr-queue-depth"], metrics=["OcrQueueDepth"]))
TOPIC = ("arn:aws:sns:eu-central-1:123456789012:alerts",)


def alarm_facts(*found):
    return AlarmFacts(SPECS, 24, NOW, alarms=found, region="eu-central-1")


def test_alarms_found_by_name_or_metric():
    res = alarms.judge(alarm_facts(Alarm("filot-backend-5xx", ("X",), "OK", NOW, TOPIC, True),
                                   Alarm("someone-elses-name", ("OcrQueueDepth",), "OK", NOW, TOPIC, True)))
    assert [r.id for r in res if r.status is not Status.PASS] == []


def test_alarm_faults():
    ok = Alarm("filot-ocr-queue-depth", ("OcrQueueDepth",), "OK", NOW, TOPIC, True)
    res = alarms.judge(alarm_facts(ok))
    missing = [r for r in res if r.id == "alarms.present" and r.status is Status.FAIL]
    assert [r.target for r in missing] == ["backend_errors"] and "put-metric-alarm" in missing[0].remediation
    res = alarms.judge(alarm_facts(ok, Alarm("filot-backend-5xx", (), "ALARM", NOW, TOPIC, True)))
    assert [r.target for r in res if r.id == "alarms.state" and r.status is Status.FAIL] == ["backend_errors"]
    res = alarms.judge(alarm_facts(ok, Alarm("filot-backend-5xx", (), "OK", NOW, (), True)))
    assert [r.target for r in res if r.id == "alarms.action" and r.status is Status.FAIL] == ["backend_errors"]
    res = alarms.judge(alarm_facts(ok, Alarm("filot-backend-5xx", (), "OK", NOW, TOPIC, False)))
    assert [r.target for r in res if r.id == "alarms.action" and r.status is Status.FAIL] == ["backend_errors"]
    stale = Alarm("filot-backend-5xx", (), "INSUFFICIENT_DATA", NOW - 2 * 86400, TOPIC, True)
    r = [r for r in alarms.judge(alarm_facts(ok, stale)) if r.id == "alarms.state" and r.target == "backend_errors"]
    assert r[0].status is Status.WARN and "2d" in r[0].summary
    fresh = Alarm("filot-backend-5xx", (), "INSUFFICIENT_DATA", NOW - 3600, TOPIC, True)
    r = [r for r in alarms.judge(alarm_facts(ok, fresh)) if r.id == "alarms.state" and r.target == "backend_errors"]
    assert r[0].status is Status.PASS


# --- rotation -------------------------------------------------------------------------------------------


DAY = 86400


@pytest.mark.parametrize("secret, rid, want", [
    (SecretRotation("s", 90, True, True, 30, "", NOW - 10 * DAY, NOW - 400 * DAY), "rotation.last_rotated", Status.PASS),
    (SecretRotation("s", 90, True, True, 30, "", NOW - 100 * DAY, NOW - 400 * DAY), "rotation.last_rotated",
     Status.FAIL),
    (SecretRotation("s", 90, True, True, 30, "", None, NOW - 10 * DAY), "rotation.last_rotated", Status.PASS),
    (SecretRotation("s", 90, True, True, 30, "", None, NOW - 200 * DAY), "rotation.last_rotated", Status.FAIL),
    (SecretRotation("s", 90, True, True, 30, "", None, None), "rotation.last_rotated", Status.WARN),
    (SecretRotation("s", 90, True, True, 180, "", NOW, NOW), "rotation.period", Status.FAIL),
    (SecretRotation("s", 90, True, True, None, "rate(30 days)", NOW, NOW), "rotation.period", Status.PASS),
    (SecretRotation("s", 90, True, False), "rotation.enabled", Status.FAIL),
    (SecretRotation("s", 90, False), "rotation.enabled", Status.FAIL),
])
def test_rotation_rules(secret, rid, want):
    res = rotation.judge(RotationFacts(NOW, (secret,), region="eu-central-1"))
    r = by_id(res, rid)[0]
    assert r.status is want, r.summary
    if want is not Status.PASS:
        assert "rotate-secret" in r.remediation or "secrets push" in r.remediation


def test_a_probe_past_the_checkers_budget_is_its_own_source_failure():
    """A probe of several AWS calls bounded as a whole by --timeout: the checker says so itself (never the runner)."""
    import asyncio
    import time as _time

    from filot_preflight import manifest as _manifest
    from filot_preflight.checkers.alarms import judge as alarms_judge
    from filot_preflight.checkers.alarms.probe import base_facts
    from filot_preflight.checkers.base import CheckContext, Options
    from filot_preflight.net.aws_live import within_budget
    from filot_preflight.redact import Redactor
    from filot_preflight.sources import ValueStore

    ctx = CheckContext(_manifest.load(), ValueStore(), Options(timeout=0.3), Redactor())
    t0 = _time.monotonic()
    facts = asyncio.run(within_budget(ctx, lambda c: _time.sleep(10), base_facts))
    assert _time.monotonic() - t0 < 9  # not the sleeping probe's 10 s: the budget ended the wait
    (src,) = [r for r in alarms_judge(facts) if r.id == "alarms.source"]
    assert src.status.value == "fail" and "--timeout" in src.summary + src.detail and src.remediation
