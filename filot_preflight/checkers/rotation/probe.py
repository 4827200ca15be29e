"""rotation's probe: DescribeSecret for each secret the manifest says rotates (metadata only, never a value)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from filot_preflight.checkers.base import CheckContext
from filot_preflight.checkers.rotation.facts import Facts as Facts
from filot_preflight.checkers.rotation.facts import SecretRotation as SecretRotation
from filot_preflight.manifest_checks import RotatedSecret
from filot_preflight.net.aws_facts import epoch
from filot_preflight.net.aws_live import is_network, open_client, trouble


def base_facts(ctx: CheckContext) -> Facts:
    """The facts every outcome starts from (also a timed-out probe's)."""
    return Facts(time.time())


def probe(ctx: CheckContext) -> Facts:
    """One DescribeSecret per `checks.rotation.secrets` entry."""
    wanted = ctx.manifest.checks.rotation.secrets
    base = base_facts(ctx)
    if not wanted:
        return replace(base, skip_reason="the manifest names no rotated secret (checks.rotation.secrets)")
    opened = open_client(ctx, "secretsmanager")
    if opened.aws is None:
        return replace(base, skip_reason=opened.skip_reason, trouble=opened.trouble)
    client = opened.aws.client

    def one(spec: RotatedSecret) -> SecretRotation | BaseException:
        try:
            d = client.describe_secret(SecretId=spec.id)
        except Exception as e:  # noqa: BLE001 - a fact
            return e if is_network(e) else SecretRotation(spec.id, spec.period_days, False)
        rules = d.get("RotationRules") or {}
        every = rules.get("AutomaticallyAfterDays")
        return SecretRotation(spec.id, spec.period_days, True, bool(d.get("RotationEnabled")),
                              int(every) if isinstance(every, int) else None,
                              str(rules.get("ScheduleExpression") or ""), epoch(d.get("LastRotatedDate")),
                              epoch(d.get("CreatedDate")))

    # One call per secret, side by side (bounded): a long list must not serialise into the checker's budget.
    with ThreadPoolExecutor(max_workers=min(4, len(wanted))) as pool:
        got = list(pool.map(one, wanted))
    failed = next((g for g in got if isinstance(g, BaseException)), None)
    if failed is not None:  # credentials / network: the whole probe is off
        return replace(base, trouble=trouble(failed), calls=opened.calls, region=opened.region)
    return replace(base, secrets=tuple(g for g in got if isinstance(g, SecretRotation)), calls=opened.calls,
                   region=opened.region)
