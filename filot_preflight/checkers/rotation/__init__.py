"""rotation: secrets the manifest says rotate (checks.rotation.secrets) have rotation on and not overdue.

Post-deployment (`--phase postdeploy|all`). Facts in probe.py (DescribeSecret), rules in judge.py (pure).
"""

from __future__ import annotations

from typing import ClassVar

from filot_preflight.checkers.base import CheckContext, Checker
from filot_preflight.checkers.rotation.judge import NAME, SUBSYSTEM, judge
from filot_preflight.checkers.rotation.probe import base_facts, probe
from filot_preflight.models import CheckResult
from filot_preflight.net import libraries as libs
from filot_preflight.net.aws_live import within_budget

__all__ = ["RotationChecker", "judge", "probe"]


class RotationChecker(Checker):
    """Automatic rotation on, at least as often as the manifest's period, last rotation not overdue."""

    name = NAME
    subsystem = SUBSYSTEM
    description = "Secrets Manager rotation: enabled, period within policy, last rotation not overdue"
    needs = ("AWS_REGION",)
    libraries = libs.AWS
    phase: ClassVar[str] = "postdeploy"

    async def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Probe in a daemon thread within the checker's budget, then judge."""
        return judge(await within_budget(ctx, probe, base_facts))
