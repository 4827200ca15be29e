"""rotation's probe: DescribeSecret for each secret the manifest says rotates (metadata only, never a value)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from filot_preflight.checkers._aws_facts import AwsTrouble, epoch
from filot_preflight.checkers._aws_live import is_network, open_client, trouble
from filot_preflight.checkers.base import CheckContext


@dataclass(frozen=True)
class SecretRotation:
    """A secret's rotation settings as Secrets Manager reports them (found=False: no such secret)."""

    id: str
    period_days: int
    found: bool
    enabled: bool = False
    every_days: int | None = None
    schedule: str = ""
    last_rotated: float | None = None
    created: float | None = None


@dataclass(frozen=True)
class Facts:
    """One entry per rotated secret, or why Secrets Manager could not be asked."""

    now: float
    secrets: tuple[SecretRotation, ...] = ()
    skip_reason: str = ""
    trouble: AwsTrouble | None = None
    calls: int = 0
    region: str = ""


def probe(ctx: CheckContext) -> Facts:
    """One DescribeSecret per `checks.rotation.secrets` entry."""
    wanted = ctx.manifest.checks.rotation.secrets
    base = Facts(time.time())
    if not wanted:
        return replace(base, skip_reason="the manifest names no rotated secret (checks.rotation.secrets)")
    opened = open_client(ctx, "secretsmanager")
    if opened.aws is None:
        return replace(base, skip_reason=opened.skip_reason)
    out = []
    for spec in wanted:
        try:
            d = opened.aws.client.describe_secret(SecretId=spec.id)
        except Exception as e:  # noqa: BLE001 - a fact
            if is_network(e):
                return replace(base, trouble=trouble(e), calls=opened.calls, region=opened.region)
            out.append(SecretRotation(spec.id, spec.period_days, False))
            continue
        rules = d.get("RotationRules") or {}
        every = rules.get("AutomaticallyAfterDays")
        out.append(SecretRotation(spec.id, spec.period_days, True, bool(d.get("RotationEnabled")),
                                  int(every) if isinstance(every, int) else None,
                                  str(rules.get("ScheduleExpression") or ""), epoch(d.get("LastRotatedDate")),
                                  epoch(d.get("CreatedDate"))))
    return replace(base, secrets=tuple(out), calls=opened.calls, region=opened.region)
