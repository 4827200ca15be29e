"""ecs_services' judge (pure): each deployed service runs the checked task definition, at full count,
with a completed rollout, a circuit breaker that rolls back, and no task that just failed."""

from __future__ import annotations

import re

from filot_preflight.checkers.base import results_for
from filot_preflight.checkers.ecs_services.facts import Facts, ServiceFacts, StoppedTask
from filot_preflight.models import CheckResult, EvidenceValue, Status
from filot_preflight.net.aws_facts import age_text, source_parts

NAME = "ecs_services"
SUBSYSTEM = "aws"
_r = results_for(NAME, SUBSYSTEM)
# Stops that are a failure, as opposed to a scale-in, a deployment replacing a task, or a person stopping it.
_ERROR = re.compile(r"error|unable|cannot|failed|failure|outofmemory|essential container in task exited|"
                    r"health ?checks? failed|exit code [1-9]", re.IGNORECASE)
_ERROR_CODES = {"TaskFailedToStart", "EssentialContainerExited"}


def judge(facts: Facts) -> list[CheckResult]:
    """Pure: a source result, then per service: exists, task definition, count, rollout, breaker, stopped tasks."""
    p = source_parts("ECS services", facts.trouble, facts.skip_reason, facts.calls, facts.region)
    out = [_r("source", p.status, p.summary, detail=p.detail, remediation=p.remediation, evidence=p.evidence)]
    if facts.skip_reason or facts.trouble is not None:
        return out
    if facts.cluster is None:
        out.append(_r("cluster", Status.FAIL, f"ECS cluster unknown: {facts.cluster_var} is not set",
                      remediation=f"Set {facts.cluster_var} (the cluster running both services) in the env file, "
                      "or checks.ecs.cluster in the manifest."))
        return out
    if not facts.wanted:
        out.append(_r("cluster", Status.FAIL, "no manifest service names an ECS service",
                      remediation="Give each service an ecs_family (or checks.ecs.service_names) in the manifest."))
        return out
    for s in facts.services:
        out.extend(judge_service(s, facts))
    return out


def judge_service(s: ServiceFacts, facts: Facts) -> list[CheckResult]:
    """Every rule for one service."""
    t, cluster = s.ecs_name, facts.cluster
    if not s.found:
        return [_r("exists", Status.FAIL, f"{t}: no ACTIVE service in cluster {cluster} ({s.missing_reason})",
                   target=t, evidence={"cluster": cluster or "", "reason": s.missing_reason},
                   remediation=f"Create or re-create the service: aws ecs create-service --cluster {cluster} "
                   f"--service-name {t} --task-definition <family> (or fix checks.ecs.service_names).")]
    out = [_r("exists", Status.PASS, f"{t}: ACTIVE in cluster {cluster}", target=t)]
    out.append(_taskdef(s))
    out.append(_count(s))
    out.append(_rollout(s, facts.now))
    out.append(_breaker(s))
    out.append(_stopped(s, facts.window_min))
    return out


def _taskdef(s: ServiceFacts) -> CheckResult:
    t, run, ref = s.ecs_name, s.running_td, s.reference_td
    if run is None or ref is None:
        return _r("task_definition", Status.FAIL, f"{t}: cannot read the task definition it runs",
                  target=t, remediation="Check that the service's task definition revision is still registered "
                  "(aws ecs describe-services / describe-task-definition) and grant ecs:DescribeTaskDefinition.")
    ev: dict[str, EvidenceValue] = {"running": f"{run.family}:{run.revision}",
                                    "checked": f"{ref.family}:{ref.revision or '?'}", "checked_from": ref.origin}
    fix = (f"Roll out the checked revision: aws ecs update-service --service {t} --task-definition "
           f"{ref.family}{f':{ref.revision}' if ref.revision else ''}, then run --phase postdeploy again.")
    if run.family != ref.family:
        return _r("task_definition", Status.FAIL, f"{t}: runs family {run.family}, the checked one is {ref.family}",
                  target=t, evidence=ev, remediation=fix)
    if ref.revision is None or run.revision == ref.revision:
        same = run.secrets == ref.secrets
        if ref.revision is None and not same:  # a file without a revision: the secrets decide
            return _r("task_definition", Status.FAIL, f"{t}: runs {run.family}:{run.revision}, whose secrets differ "
                      "from the checked task definition file", target=t, evidence=ev, remediation=fix)
        return _r("task_definition", Status.PASS, f"{t}: runs {run.family}:{run.revision}, the checked revision",
                  target=t, evidence=ev)
    if run.revision is not None and run.revision > ref.revision:
        if run.secrets == ref.secrets:
            return _r("task_definition", Status.PASS, f"{t}: runs {run.family}:{run.revision}, newer than the "
                      f"checked :{ref.revision} with the same secrets", target=t, evidence=ev)
        return _r("task_definition", Status.FAIL, f"{t}: runs {run.family}:{run.revision}, newer than the checked "
                  f":{ref.revision} with different secrets", target=t, evidence=ev,
                  remediation=f"Run preflight check --task-def for {run.family}:{run.revision} (its secrets were not "
                  "checked), or roll back to the checked revision.")
    return _r("task_definition", Status.FAIL, f"{t}: runs {run.family}:{run.revision}, older than the checked "
              f":{ref.revision}", target=t, evidence=ev, remediation=fix)


def _count(s: ServiceFacts) -> CheckResult:
    t = s.ecs_name
    ev: dict[str, EvidenceValue] = {"desired": s.desired, "running": s.running, "pending": s.pending}
    if s.desired == 0:
        return _r("count", Status.FAIL, f"{t}: desiredCount is 0 (nothing runs)", target=t, evidence=ev,
                  remediation=f"Scale the service up: aws ecs update-service --service {t} --desired-count 1 "
                  "(or set the autoscaling minimum).")
    if s.running != s.desired:
        return _r("count", Status.FAIL, f"{t}: {s.running} of {s.desired} tasks running ({s.pending} pending)",
                  target=t, evidence=ev, remediation="Look at why tasks do not start or stay up: aws ecs "
                  f"describe-services --services {t} (events) and the stopped tasks' stoppedReason "
                  "(ecs_services.stopped_tasks).")
    return _r("count", Status.PASS, f"{t}: {s.running}/{s.desired} tasks running", target=t, evidence=ev)


def _rollout(s: ServiceFacts, now: float) -> CheckResult:
    t = s.ecs_name
    primary = next((d for d in s.deployments if d.status == "PRIMARY"), None)
    if primary is None:
        return _r("rollout", Status.FAIL, f"{t}: no PRIMARY deployment", target=t,
                  remediation="Use the ECS deployment controller (rolling update) so a rollout state is reported, "
                  "or force a new deployment: aws ecs update-service --force-new-deployment.")
    age = age_text(now - primary.created_at) if primary.created_at is not None else "?"
    ev: dict[str, EvidenceValue] = {"rolloutState": primary.rollout_state, "reason": primary.reason, "age": age,
          "failedTasks": primary.failed_tasks, "deployments": len(s.deployments)}
    if primary.rollout_state == "COMPLETED":
        return _r("rollout", Status.PASS, f"{t}: primary deployment COMPLETED", target=t, evidence=ev)
    if primary.rollout_state == "IN_PROGRESS":
        return _r("rollout", Status.WARN, f"{t}: rollout IN_PROGRESS for {age}", target=t, evidence=ev,
                  remediation="Wait for the rollout to finish (aws ecs wait services-stable), then run --phase "
                  "postdeploy again; a rollout stuck for long points at tasks that fail their health checks.")
    state = primary.rollout_state or "state unknown"
    return _r("rollout", Status.FAIL, f"{t}: rollout {state}: {primary.reason}"[:200],
              target=t, evidence=ev, remediation="The deployment failed: read the service events and the stopped "
              "tasks' stoppedReason, fix the cause, and deploy again (the circuit breaker rolls back meanwhile).")


def _breaker(s: ServiceFacts) -> CheckResult:
    t = s.ecs_name
    fix = (f"Turn it on: aws ecs update-service --service {t} --deployment-configuration "
           "'deploymentCircuitBreaker={enable=true,rollback=true}'.")
    if s.circuit_breaker is None or not s.circuit_breaker[0]:
        return _r("circuit_breaker", Status.FAIL, f"{t}: deployment circuit breaker is off", target=t,
                  remediation=fix)
    if not s.circuit_breaker[1]:
        return _r("circuit_breaker", Status.FAIL, f"{t}: circuit breaker on without rollback", target=t,
                  remediation=fix)
    return _r("circuit_breaker", Status.PASS, f"{t}: circuit breaker with rollback on", target=t)


def is_error(task: StoppedTask) -> bool:
    """Whether a stopped task failed (secrets, image pull, crash, OOM) rather than being replaced or scaled in."""
    texts = (task.reason, *task.container_reasons)
    return task.stop_code in _ERROR_CODES or any(_ERROR.search(x) for x in texts if x)


def _stopped(s: ServiceFacts, window_min: int) -> CheckResult:
    t = s.ecs_name
    bad = [x for x in s.stopped if is_error(x)]
    if not bad:
        return _r("stopped_tasks", Status.PASS, f"{t}: no task stopped with an error in the last {window_min} min",
                  target=t, evidence={"stopped": len(s.stopped)})
    first = bad[0]
    why = first.reason or "; ".join(first.container_reasons)
    secrets = "secret" in why.lower()
    fix = ("ECS could not fetch a secret: check that the execution role may secretsmanager:GetSecretValue (and "
           "kms:Decrypt) on each valueFrom ARN and that every ARN exists (aws_secrets, ecs_taskdefs)."
           if secrets else "Read the task's stoppedReason and container logs, fix the cause, and deploy again.")
    return _r("stopped_tasks", Status.FAIL, f"{t}: {len(bad)} task(s) stopped with an error: {why}"[:240], target=t,
              evidence={"tasks": [x.task_id for x in bad][:5], "reason": why, "window_min": window_min},
              remediation=fix)
