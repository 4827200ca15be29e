"""Example plugin: fail the release gate while a release freeze is declared.

It reads `RELEASE_FREEZE_UNTIL` (an ISO date) from the same sources as every checker.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from filot_preflight.checkers.base import CheckContext, Checker, result
from filot_preflight.models import CheckResult, Status


@dataclass(frozen=True)
class Facts:
    """What the probe found: the raw setting, if any, and today's date."""

    until: str | None
    today: dt.date


def judge(facts: Facts) -> list[CheckResult]:
    """Pure: a freeze in force fails, a malformed date fails, none or a past one passes."""
    if not facts.until:
        return [result("release_freeze.none", "release", Status.PASS, "No release freeze declared")]
    try:
        until = dt.date.fromisoformat(facts.until)
    except ValueError:
        return [result("release_freeze.malformed", "release", Status.FAIL, "RELEASE_FREEZE_UNTIL is not a date",
                       target="RELEASE_FREEZE_UNTIL", remediation="Write it as YYYY-MM-DD, or unset it.")]
    if until >= facts.today:
        return [result("release_freeze.active", "release", Status.FAIL, f"Release freeze until {until}",
                       target="RELEASE_FREEZE_UNTIL", remediation="Wait for the freeze to end, or get it lifted.")]
    return [result("release_freeze.none", "release", Status.PASS, f"Freeze ended on {until}")]


class ReleaseFreezeChecker(Checker):
    """Fails while RELEASE_FREEZE_UNTIL is today or later."""

    name = "release_freeze"
    subsystem = "release"
    description = "No release freeze is in force (RELEASE_FREEZE_UNTIL)"
    needs = ("RELEASE_FREEZE_UNTIL",)
    network = False

    async def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Probe (read one value), then judge."""
        return judge(Facts(ctx.value("RELEASE_FREEZE_UNTIL"), dt.date.today()))
