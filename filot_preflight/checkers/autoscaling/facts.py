"""What the autoscaling probe found: plain data (the judge imports these, never the probe)."""

from __future__ import annotations

from dataclasses import dataclass

from filot_preflight.net.aws_facts import AwsTrouble


@dataclass(frozen=True)
class Policy:
    """A scaling policy and the metrics it scales on (names or predefined metric types)."""

    name: str
    type: str
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class Target:
    """One service's scalable target (None fields: not registered)."""

    service: str
    resource_id: str
    registered: bool
    min_capacity: int = 0
    max_capacity: int = 0
    policies: tuple[Policy, ...] = ()


@dataclass(frozen=True)
class Facts:
    """Targets per service, the manifest's expectations, or why AWS could not be asked."""

    cluster: str | None
    targets: tuple[Target, ...] = ()
    min_capacity: tuple[tuple[str, int], ...] = ()
    workload_services: tuple[str, ...] = ()
    workload_metrics: tuple[str, ...] = ()
    skip_reason: str = ""
    trouble: AwsTrouble | None = None
    calls: int = 0
    region: str = ""
    now: float = 0.0
