"""What the alarms probe found: plain data (the judge imports these, never the probe)."""

from __future__ import annotations

from dataclasses import dataclass

from filot_preflight.manifest_checks import AlarmSpec
from filot_preflight.net.aws_facts import AwsTrouble


@dataclass(frozen=True)
class Alarm:
    """One metric alarm: name, metrics, state and since when, its actions."""

    name: str
    metrics: tuple[str, ...]
    state: str
    state_since: float | None
    actions: tuple[str, ...]
    actions_enabled: bool


@dataclass(frozen=True)
class Facts:
    """The required alarms (manifest) and the alarms found, or why CloudWatch could not be asked."""

    required: tuple[AlarmSpec, ...]
    insufficient_max_h: int
    now: float
    alarms: tuple[Alarm, ...] = ()
    skip_reason: str = ""
    trouble: AwsTrouble | None = None
    calls: int = 0
    region: str = ""
