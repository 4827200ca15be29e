"""What the post-deployment AWS checkers share on the judge side (pure): why AWS could not be asked.

The probes turn an `net.aws.AwsProblem` into an `AwsTrouble` (plain strings), so a judge never
imports the client code. `source_parts` gives the `<checker>.source` result's fields for any checker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from filot_preflight.models import EvidenceValue, Status


@dataclass(frozen=True)
class AwsTrouble:
    """AWS could not be asked. `configured=False`: no region/credentials (a SKIP); else the call failed (a FAIL)."""

    kind: str
    message: str
    code: str
    remedy: str
    configured: bool = True


@dataclass(frozen=True)
class SourceParts:
    """The fields of a `<checker>.source` result."""

    status: Status
    summary: str
    detail: str = ""
    remediation: str = ""
    evidence: dict[str, EvidenceValue] | None = None


def source_parts(what: str, trouble: AwsTrouble | None, skip_reason: str, calls: int, region: str) -> SourceParts:
    """SKIP when not asked (offline, not configured), FAIL when the API failed, else PASS with the call count."""
    if skip_reason:
        return SourceParts(Status.SKIP, f"{what} not checked: {skip_reason}",
                           remediation="Configure AWS (--aws-region, credentials; see aws_secrets.config) and run "
                           "--phase postdeploy against the deployed environment.")
    if trouble is not None:
        return SourceParts(Status.FAIL, f"cannot read {what}: {trouble.kind.replace('_', ' ')}", detail=trouble.message,
                           remediation=trouble.remedy, evidence={"kind": trouble.kind, "code": trouble.code,
                                                                 "calls": calls})
    return SourceParts(Status.PASS, f"{what} read from region {region}", evidence={"region": region, "calls": calls})


def age_text(seconds: float) -> str:
    """A short human age: 45s, 12m, 3h, 2d."""
    s = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def epoch(value: object) -> float | None:
    """A boto3 timestamp (datetime, or epoch seconds) as epoch seconds; None when absent."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
