"""autoscaling: each ECS service has an Application Auto Scaling target with a sane range and a policy.

Post-deployment (`--phase postdeploy|all`). Facts in probe.py, rules in judge.py (pure).
"""

from __future__ import annotations

from typing import ClassVar

from filot_preflight.checkers.autoscaling.judge import NAME, SUBSYSTEM, judge
from filot_preflight.checkers.autoscaling.probe import base_facts, probe
from filot_preflight.checkers.base import CheckContext, Checker
from filot_preflight.models import CheckResult
from filot_preflight.net import libraries as libs
from filot_preflight.net.aws_live import within_budget

__all__ = ["AutoscalingChecker", "judge", "probe"]


class AutoscalingChecker(Checker):
    """Scalable target per service (min >= floor, max > min), >= 1 policy, workload metric for the GPU worker."""

    name = NAME
    subsystem = SUBSYSTEM
    description = "ECS auto scaling: a target per service, min/max range, a policy; GPU worker on queue or CPU/GPU"
    needs = ("ECS_CLUSTER", "AWS_REGION")
    libraries = libs.AWS
    phase: ClassVar[str] = "postdeploy"

    async def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Probe in a daemon thread within the checker's budget, then judge."""
        return judge(await within_budget(ctx, probe, base_facts))
