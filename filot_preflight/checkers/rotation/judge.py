"""rotation's judge (pure): rotation is on where the manifest says a secret rotates, at least as often as its
period, and the last rotation is not overdue (the seed's "rotation policy")."""

from __future__ import annotations

from filot_preflight.checkers.base import results_for
from filot_preflight.checkers.rotation.facts import Facts, SecretRotation
from filot_preflight.models import CheckResult, EvidenceValue, Status
from filot_preflight.net.aws_facts import source_parts

NAME = "rotation"
SUBSYSTEM = "aws"
_r = results_for(NAME, SUBSYSTEM)
DAY = 86400.0
GRACE_DAYS = 1  # a rotation runs in a window after its due date


def judge(facts: Facts) -> list[CheckResult]:
    """Pure: a source result, then per secret: enabled, period, last rotation."""
    p = source_parts("secret rotation", facts.trouble, facts.skip_reason, facts.calls, facts.region)
    out = [_r("source", p.status, p.summary, detail=p.detail, remediation=p.remediation, evidence=p.evidence)]
    if facts.skip_reason or facts.trouble is not None:
        return out
    for s in facts.secrets:
        out.extend(judge_secret(s, facts.now))
    return out


def judge_secret(s: SecretRotation, now: float) -> list[CheckResult]:
    """Every rule for one secret."""
    if not s.found:
        return [_r("enabled", Status.FAIL, f"{s.id}: secret not found", target=s.id,
                   remediation="Create the secret (preflight secrets push) or fix checks.rotation.secrets.")]
    if not s.enabled:
        return [_r("enabled", Status.FAIL, f"{s.id}: rotation is off (the manifest rotates it every "
                   f"{s.period_days} days)", target=s.id,
                   remediation=f"aws secretsmanager rotate-secret --secret-id {s.id} --rotation-lambda-arn <function> "
                   f"--rotation-rules AutomaticallyAfterDays={s.period_days}")]
    out = [_r("enabled", Status.PASS, f"{s.id}: rotation enabled", target=s.id)]
    if s.every_days is not None and s.every_days > s.period_days:
        out.append(_r("period", Status.FAIL, f"{s.id}: rotates every {s.every_days} days, policy is "
                      f"{s.period_days}", target=s.id, evidence={"every_days": s.every_days,
                                                               "period_days": s.period_days},
                      remediation=f"aws secretsmanager rotate-secret --secret-id {s.id} --rotation-rules "
                      f"AutomaticallyAfterDays={s.period_days}"))
    else:
        every = f"every {s.every_days} days" if s.every_days is not None else f"schedule {s.schedule or '?'}"
        out.append(_r("period", Status.PASS, f"{s.id}: rotates {every} (policy {s.period_days})", target=s.id))
    out.append(_last(s, now))
    return out


def _last(s: SecretRotation, now: float) -> CheckResult:
    limit = (s.period_days + GRACE_DAYS) * DAY
    since = s.last_rotated if s.last_rotated is not None else s.created
    if since is None:
        return _r("last_rotated", Status.WARN, f"{s.id}: last rotation unknown", target=s.id,
                  remediation=f"Rotate it now (aws secretsmanager rotate-secret --secret-id {s.id}) and check the "
                  "rotation function's logs.")
    days = int((now - since) // DAY)
    ev: dict[str, EvidenceValue] = {"days_since": days, "period_days": s.period_days,
                                    "never_rotated": s.last_rotated is None}
    if now - since > limit:
        what = "never rotated, created" if s.last_rotated is None else "last rotated"
        return _r("last_rotated", Status.FAIL, f"{s.id}: {what} {days} days ago (policy {s.period_days})",
                  target=s.id, evidence=ev, remediation=f"Rotation is overdue: its function is failing or was never "
                  f"run. Check the rotation Lambda's logs, then aws secretsmanager rotate-secret --secret-id {s.id}.")
    what = "not rotated yet, created" if s.last_rotated is None else "rotated"
    return _r("last_rotated", Status.PASS, f"{s.id}: {what} {days} days ago", target=s.id, evidence=ev)
