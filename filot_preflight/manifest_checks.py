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
