"""What the rotation probe found: plain data (the judge imports these, never the probe)."""

from __future__ import annotations

from dataclasses import dataclass

from filot_preflight.net.aws_facts import AwsTrouble


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
