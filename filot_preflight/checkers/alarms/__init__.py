"""alarms: the CloudWatch alarms the release needs exist, notify someone, and are not firing.

Post-deployment (`--phase postdeploy|all`). Required alarms come from `checks.alarms.required` in the
manifest (backend error rate, OCR queue, task restarts). Facts in probe.py, rules in judge.py (pure).
"""

from __future__ import annotations

from typing import ClassVar

from filot_preflight.checkers.alarms.judge import NAME, SUBSYSTEM, judge
from filot_preflight.checkers.alarms.probe import base_facts, probe
from filot_preflight.checkers.base import CheckContext, Checker
from filot_preflight.models import CheckResult
from filot_preflight.net import libraries as libs
from filot_preflight.net.aws_live import within_budget

__all__ = ["AlarmsChecker", "judge", "probe"]


class AlarmsChecker(Checker):
    """Required CloudWatch alarms: present, with an alarm action, not in ALARM, not starved of data."""

    name = NAME
    subsystem = SUBSYSTEM
    description = "CloudWatch alarms: backend errors, OCR queue, task restarts exist, notify, and are not firing"
    needs = ("AWS_REGION",)
    libraries = libs.AWS
    phase: ClassVar[str] = "postdeploy"

    async def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Probe in a daemon thread within the checker's budget, then judge."""
        return judge(await within_budget(ctx, probe, base_facts))
