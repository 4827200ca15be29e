"""alarms' probe: the account's CloudWatch metric alarms (bounded pages), reduced to what the judge needs."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from filot_preflight.checkers.alarms.facts import Alarm as Alarm
from filot_preflight.checkers.alarms.facts import Facts as Facts
from filot_preflight.checkers.base import CheckContext
from filot_preflight.net.aws_facts import epoch
from filot_preflight.net.aws_live import open_client, pages, trouble


def base_facts(ctx: CheckContext) -> Facts:
    """The facts every outcome starts from (also a timed-out probe's)."""
    s = ctx.manifest.checks.alarms
    return Facts(tuple(s.required), s.insufficient_data_max_h, time.time())


def probe(ctx: CheckContext) -> Facts:
    """DescribeAlarms (metric alarms, up to 5 pages of 100)."""
    s = ctx.manifest.checks.alarms
    base = base_facts(ctx)
    if not s.required:
        return replace(base, skip_reason="the manifest lists no required alarms (checks.alarms.required)")
    opened = open_client(ctx, "cloudwatch")
    if opened.aws is None:
        return replace(base, skip_reason=opened.skip_reason, trouble=opened.trouble)
    try:
        raw = pages(opened.aws.client.describe_alarms, "MetricAlarms", AlarmTypes=["MetricAlarm"], MaxRecords=100)
    except Exception as e:  # noqa: BLE001 - a fact
        return replace(base, trouble=trouble(e), calls=opened.calls, region=opened.region)
    return replace(base, alarms=tuple(_alarm(a) for a in raw), calls=opened.calls, region=opened.region)


def _alarm(a: dict[str, Any]) -> Alarm:
    metrics = [str(a["MetricName"])] if a.get("MetricName") else []
    for m in a.get("Metrics") or []:  # metric math alarms
        name = ((m.get("MetricStat") or {}).get("Metric") or {}).get("MetricName")
        if name:
            metrics.append(str(name))
    return Alarm(str(a.get("AlarmName", "")), tuple(metrics), str(a.get("StateValue", "")),
                 epoch(a.get("StateUpdatedTimestamp")), tuple(str(x) for x in a.get("AlarmActions") or []),
                 bool(a.get("ActionsEnabled", True)))
