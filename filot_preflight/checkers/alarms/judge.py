"""alarms' judge (pure): every alarm the manifest requires exists, notifies someone, and is not firing."""

from __future__ import annotations

from filot_preflight.checkers.alarms.facts import Alarm, Facts
from filot_preflight.checkers.base import results_for
from filot_preflight.manifest_checks import AlarmSpec
from filot_preflight.models import CheckResult, Status
from filot_preflight.net.aws_facts import age_text, source_parts

NAME = "alarms"
SUBSYSTEM = "aws"
_r = results_for(NAME, SUBSYSTEM)


def judge(facts: Facts) -> list[CheckResult]:
    """Pure: a source result, then per required alarm: present, action, state."""
    p = source_parts("CloudWatch alarms", facts.trouble, facts.skip_reason, facts.calls, facts.region)
    out = [_r("source", p.status, p.summary, detail=p.detail, remediation=p.remediation, evidence=p.evidence)]
    if facts.skip_reason or facts.trouble is not None:
        return out
    for spec in facts.required:
        out.extend(judge_spec(spec, matching(spec, facts.alarms), facts))
    return out


def matching(spec: AlarmSpec, alarms: tuple[Alarm, ...]) -> list[Alarm]:
    """Alarms that satisfy a spec: by name, else by the metric they watch."""
    named = [a for a in alarms if a.name in spec.names]
    return named or [a for a in alarms if set(a.metrics) & set(spec.metrics)]


def judge_spec(spec: AlarmSpec, found: list[Alarm], facts: Facts) -> list[CheckResult]:
    """Every rule for one required alarm."""
    what = spec.description or spec.id
    if not found:
        name = spec.names[0] if spec.names else f"filot-{spec.id}"
        metric = spec.metrics[0] if spec.metrics else "<metric>"
        return [_r("present", Status.FAIL, f"{spec.id}: no CloudWatch alarm for {what}", target=spec.id,
                   evidence={"names": spec.names, "metrics": spec.metrics},
                   remediation=f"Create it: aws cloudwatch put-metric-alarm --alarm-name {name} --metric-name "
                   f"{metric} ... --alarm-actions <SNS topic ARN> (or name an existing alarm in "
                   "checks.alarms.required).")]
    names = [a.name for a in found]
    out = [_r("present", Status.PASS, f"{spec.id}: {', '.join(names[:3])}", target=spec.id,
              evidence={"alarms": names})]
    silent = [a.name for a in found if not a.actions or not a.actions_enabled]
    if silent:
        out.append(_r("action", Status.FAIL, f"{spec.id}: {', '.join(silent)} notifies nobody (no enabled alarm "
                      "action)", target=spec.id, evidence={"alarms": silent},
                      remediation="Add an SNS topic to AlarmActions (put-metric-alarm --alarm-actions <topic ARN>) "
                      "and enable actions (aws cloudwatch enable-alarm-actions)."))
    else:
        out.append(_r("action", Status.PASS, f"{spec.id}: every alarm has an action", target=spec.id))
    out.append(_state(spec, found, facts))
    return out


def _state(spec: AlarmSpec, found: list[Alarm], facts: Facts) -> CheckResult:
    firing = [a for a in found if a.state == "ALARM"]
    if firing:
        return _r("state", Status.FAIL, f"{spec.id}: {firing[0].name} is in ALARM", target=spec.id,
                  evidence={"alarms": [a.name for a in firing]},
                  remediation="Something is wrong right now: read the alarm's reason (aws cloudwatch describe-alarms "
                  "--alarm-names ...), fix the cause or roll back, then run --phase postdeploy again.")
    limit = facts.insufficient_max_h * 3600
    stale = [a for a in found if a.state == "INSUFFICIENT_DATA" and a.state_since is not None
             and facts.now - a.state_since > limit]
    if stale:
        age = age_text(facts.now - (stale[0].state_since or facts.now))
        return _r("state", Status.WARN, f"{spec.id}: {stale[0].name} INSUFFICIENT_DATA for {age}", target=spec.id,
                  evidence={"alarms": [a.name for a in stale], "max_hours": facts.insufficient_max_h},
                  remediation="The alarm sees no data: check its namespace, metric name and dimensions (service, "
                  "target group, queue) against what is actually published.")
    return _r("state", Status.PASS, f"{spec.id}: not in ALARM ({', '.join(sorted({a.state for a in found}))})",
              target=spec.id)
