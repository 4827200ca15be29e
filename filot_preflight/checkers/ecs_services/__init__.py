"""ecs_services: the deployed ECS services run the checked task definition, at full count, rolled out.

Post-deployment (`preflight check --phase postdeploy|all`). Facts from DescribeServices,
DescribeTaskDefinition and the stopped tasks (probe.py); rules in judge.py (pure).
"""

from __future__ import annotations

from typing import ClassVar

from filot_preflight.checkers.base import CheckContext, Checker
from filot_preflight.checkers.ecs_services.judge import NAME, SUBSYSTEM, judge
from filot_preflight.checkers.ecs_services.probe import base_facts, probe
from filot_preflight.models import CheckResult
from filot_preflight.net import libraries as libs
from filot_preflight.net.aws_live import within_budget

__all__ = ["EcsServicesChecker", "judge", "probe"]


class EcsServicesChecker(Checker):
    """Each manifest service's ECS service: revision, running == desired, rollout, circuit breaker, crashes."""

    name = NAME
    subsystem = SUBSYSTEM
    description = "Deployed ECS services: checked revision, running == desired, rollout COMPLETED, breaker, crashes"
    needs = ("ECS_CLUSTER", "AWS_REGION")
    libraries = libs.AWS
    phase: ClassVar[str] = "postdeploy"

    async def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Probe in a daemon thread within the checker's budget, then judge."""
        return judge(await within_budget(ctx, probe, base_facts))
