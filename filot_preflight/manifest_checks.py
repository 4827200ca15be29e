"""The manifest's `checks:` section: the settings each subsystem checker reads (all optional, with defaults).

`StrictModel` is the base of every manifest model, here and in `manifest.py`. Import these from
`filot_preflight.manifest`, which re-exports them; a new setting is a field with a default here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

_TABLE_NAME = r"^([A-Za-z_][A-Za-z0-9_$]*\.)?[A-Za-z_][A-Za-z0-9_$]*$"


class StrictModel(BaseModel):
    """Base of the manifest models: an unknown key is an error (a typo must not pass silently); frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class QueueSettings(StrictModel):
    """The OCR job queue shared by backend and GPU worker."""

    layout: Literal["list", "stream", "bullmq"] = "list"
    prefix: str = Field(
        default="bull", min_length=1, pattern=r"^[^\s]+$",
        description="BullMQ key prefix (the library's `prefix` option); layout bullmq only",
    )
    queue_key_vars: list[str] = Field(default_factory=list, description="Variables naming queue keys")
    dead_letter_var: str | None = None
    heartbeat_key_var: str | None = None
    heartbeat_max_age_s: int = 60
    oldest_job_max_age_s: int = 900
    dead_letter_max: int = 0
    job_timestamp_field: str = Field(
        default="enqueued_at", description="JSON field of a job holding its enqueue time (unix seconds)"
    )


class TemporalSettings(StrictModel):
    """Optional Temporal Cloud; when not configured, the Redis queue is the fallback."""

    address_var: str = "TEMPORAL_ADDRESS"
    poller_max_age_s: int = 120
    cert_expiry_warn_days: int = 30


class Buli2Signature(StrictModel):
    """The callback signature scheme: HMAC over '{timestamp}.{body}' by default."""

    algorithm: Literal["sha256", "sha512"] = "sha256"
    header: str = "X-BULI2-Signature"
    timestamp_header: str = "X-BULI2-Timestamp"
    message: str = "{timestamp}.{body}"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = Field(default="", description="e.g. 'sha256=' before the digest")
    tolerance_s: int = 300


class Buli2Settings(StrictModel):
    """The BULI2 manual-review partner API."""

    health_path: str = "/v1/health"
    api_key_header: str = "X-API-Key"
    callback_path: str = "/api/webhooks/buli2"
    signature: Buli2Signature = Buli2Signature()


class AwsSettings(StrictModel):
    """AWS Secrets Manager and ECS."""

    rotation_max_age_days: int = 180


class PostgresSettings(StrictModel):
    """Neon Postgres."""

    latest_migration: str | None = None
    migrations_table: str = "schema_migrations"
    migrations_column: str = "version"
    tables: list[Annotated[str, StringConstraints(pattern=_TABLE_NAME)]] = Field(
        default_factory=list,
        description="Tables the app writes ([schema.]table): the role needs INSERT, UPDATE and DELETE on each; "
        "empty = every table of the role's schema",
        max_length=1000,
    )


class BackendSettings(StrictModel):
    """The Express API."""

    health_path: str = "/health"
    ready_path: str = "/ready"


class R2Settings(StrictModel):
    """Cloudflare R2 canary settings."""

    canary_prefix: Annotated[str, Field(
        pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/$",
        description="Folder of the canary objects, e.g. '_preflight/' (never empty; keys add 'preflight-canary-')",
    )] = "_preflight/"

    @field_validator("canary_prefix")
    @classmethod
    def _plain_folder(cls, v: str) -> str:
        # '.' and '..' segments name no folder of their own; an empty prefix is refused by the pattern.
        if any(part in {".", ".."} for part in v.split("/")[:-1]):
            raise ValueError("must be a plain folder such as '_preflight/', without '.' or '..' parts")
        return v
    presign_expiry_s: int = 300


class CodeSettings(StrictModel):
    """Source audits (mock_code, env_drift). Lists are globs; `extra_*` add to the built-in defaults."""

    test_paths: list[str] | None = Field(
        default=None, description="Replaces the built-in test-path globs (e.g. '**/__tests__/**')"
    )
    extra_test_paths: list[str] = Field(default_factory=list, description="Added to the test-path globs")
    skip_dirs: list[str] = Field(default_factory=list, description="Directory names never scanned")
    ignore_vars: list[str] = Field(
        default_factory=list, description="Platform variables the code may read without a manifest entry"
    )
    implicit_reads: list[str] = Field(
        default_factory=list, description="Manifest variables read by libraries, not by the code"
    )
    max_file_kb: int = 1024


class EcsServicesSettings(StrictModel):
    """The deployed ECS services (post-deployment checks `ecs_services` and `autoscaling`)."""

    cluster: str | None = Field(default=None, description="ECS cluster; default: the value of `cluster_var`")
    cluster_var: str = Field(default="ECS_CLUSTER", description="Variable naming the cluster")
    service_names: dict[str, str] = Field(
        default_factory=dict, description="Manifest service -> ECS service name (default: its ecs_family)"
    )
    stopped_window_min: int = Field(default=60, ge=1, description="How far back a stopped task with an error counts")


class AutoscalingSettings(StrictModel):
    """Application Auto Scaling of the ECS services."""

    min_capacity: dict[str, int] = Field(
        default_factory=lambda: {"backend": 1}, description="Service -> lowest allowed MinCapacity"
    )
    workload_metric_services: list[str] = Field(
        default_factory=lambda: ["gpu-worker"],
        description="Services whose scaling policy must follow queue depth or CPU/GPU utilisation",
    )
    workload_metrics: list[str] = Field(
        default_factory=lambda: ["ApproximateNumberOfMessagesVisible", "QueueDepth", "OcrQueueDepth",
                                 "OldestJobAgeSeconds", "CPUUtilization", "GPUUtilization",
                                 "ECSServiceAverageCPUUtilization"],
        description="Metric names (or predefined metric types) that count as queue depth or CPU/GPU",
    )


class AlarmSpec(StrictModel):
    """One alarm the release needs: found by name, or by the metric it watches."""

    id: str = Field(description="Short name used in results, e.g. backend_errors")
    description: str = ""
    names: list[str] = Field(default_factory=list, description="Alarm names that satisfy it (any of them)")
    metrics: list[str] = Field(default_factory=list, description="Metric names that satisfy it (any alarm on one)")


class AlarmsSettings(StrictModel):
    """CloudWatch alarms of the deployment."""

    required: list[AlarmSpec] = Field(default_factory=list)
    insufficient_data_max_h: int = Field(default=24, ge=1, description="INSUFFICIENT_DATA for longer warns")


class RotatedSecret(StrictModel):
    """A Secrets Manager secret that must rotate automatically within `period_days`."""

    id: str
    period_days: int = Field(default=90, ge=1)


class RotationSettings(StrictModel):
    """Which secrets rotate (the seed's rotation policy)."""

    secrets: list[RotatedSecret] = Field(default_factory=list)


class SmokeSettings(StrictModel):
    """`preflight smoke`: the synthetic OCR job, enqueued the way the backend enqueues a document."""

    job_name: str = Field(default="ocr", min_length=1, description="BullMQ job name the backend adds (layout bullmq)")
    document_field: str = Field(
        default="documentKey", min_length=1, description="Job data field holding the document's R2 object key"
    )
    wait_s: float = Field(default=120.0, gt=0, le=3600, description="How long to wait for the worker's result")


class Checks(StrictModel):
    """Per-subsystem settings that the checkers read."""

    queue: QueueSettings = QueueSettings()
    temporal: TemporalSettings = TemporalSettings()
    buli2: Buli2Settings = Buli2Settings()
    aws: AwsSettings = AwsSettings()
    postgres: PostgresSettings = PostgresSettings()
    backend: BackendSettings = BackendSettings()
    r2: R2Settings = R2Settings()
    code: CodeSettings = CodeSettings()
    ecs: EcsServicesSettings = EcsServicesSettings()
    autoscaling: AutoscalingSettings = AutoscalingSettings()
    alarms: AlarmsSettings = AlarmsSettings()
    rotation: RotationSettings = RotationSettings()
    smoke: SmokeSettings = SmokeSettings()
