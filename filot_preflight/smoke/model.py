"""What `preflight smoke` reports: one entry per step, with its latency, and the verdict."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from filot_preflight.models import Status


class Step(BaseModel):
    """One step of the synthetic OCR job: what was done, how long it took, and the fix when it failed."""

    name: str
    status: Status  # pass, fail, or skip (not run: an earlier step failed)
    summary: str
    seconds: float | None = None
    remediation: str | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)


class SmokeReport(BaseModel):
    """Every step of one smoke run; `ok` only when each step passed (nothing skipped)."""

    smoke_id: str
    started_at: datetime
    finished_at: datetime | None = None
    layout: str
    steps: list[Step] = Field(default_factory=list)
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        """Whether every step ran and passed."""
        return not self.interrupted and bool(self.steps) and all(s.status is Status.PASS for s in self.steps)

    def exit_code(self) -> int:
        """0 when the whole path works, 1 when a step failed or did not run, 130 when interrupted."""
        return 130 if self.interrupted else 0 if self.ok else 1
