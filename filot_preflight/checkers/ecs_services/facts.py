"""What the ecs_services probe found: plain data (the judge imports these, never the probe)."""

from __future__ import annotations

from dataclasses import dataclass, field

from filot_preflight.net.aws_facts import AwsTrouble


@dataclass(frozen=True)
class TaskDefRef:
    """A task definition: family, revision (None: a file without one) and its secrets (name, valueFrom)."""

    family: str
    revision: int | None
    secrets: tuple[tuple[str, str], ...]
    origin: str  # running | latest | file


@dataclass(frozen=True)
class Deployment:
    """One entry of a service's `deployments[]`."""

    status: str
    rollout_state: str
    reason: str
    task_definition: str
    created_at: float | None
    failed_tasks: int


@dataclass(frozen=True)
class StoppedTask:
    """A stopped task: why it stopped, when (None when ECS did not say)."""

    task_id: str
    reason: str
    stop_code: str
    stopped_at: float | None
    container_reasons: tuple[str, ...]


@dataclass(frozen=True)
class ServiceFacts:
    """What ECS says about one manifest service."""

    service: str
    ecs_name: str
    found: bool = False
    status: str = ""
    desired: int = 0
    running: int = 0
    pending: int = 0
    running_td: TaskDefRef | None = None
    reference_td: TaskDefRef | None = None
    deployments: tuple[Deployment, ...] = ()
    circuit_breaker: tuple[bool, bool] | None = None  # (enable, rollback); None: not configured
    stopped: tuple[StoppedTask, ...] = ()
    missing_reason: str = ""


@dataclass(frozen=True)
class Facts:
    """The cluster and each service, or why ECS could not be asked."""

    cluster: str | None
    cluster_var: str
    window_min: int
    now: float
    services: tuple[ServiceFacts, ...] = ()
    skip_reason: str = ""
    trouble: AwsTrouble | None = None
    calls: int = 0
    region: str = ""
    files: bool = False  # the reference task definitions came from --task-def files
    wanted: tuple[tuple[str, str], ...] = field(default=())  # (manifest service, ECS service name)
