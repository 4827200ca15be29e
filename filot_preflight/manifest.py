"""The manifest: every production variable of the system, and the settings of each subsystem check.

Load with `load(path)`; errors name the file, line/column (syntax) or the field path (schema).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from filot_preflight.errors import ManifestError
from filot_preflight.resources import data_path

_NAME = r"^[A-Z][A-Z0-9_]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- format rules (a discriminated union on `kind`) -------------------------------------------


class UrlFormat(_Model):
    """A URL. `schemes` are allowed in production; `tls_param` names a query parameter that must ask for TLS."""

    kind: Literal["url"] = "url"
    schemes: list[str]
    tls_param: str | None = Field(default=None, description="e.g. 'sslmode' for Postgres DSNs")
    public: bool = Field(default=True, description="localhost / private addresses are wrong in production")


class IntFormat(_Model):
    """An integer within bounds."""

    kind: Literal["int"] = "int"
    min: int | None = None
    max: int | None = None


class EnumFormat(_Model):
    """One of a fixed set of values."""

    kind: Literal["enum"] = "enum"
    values: list[str]


class RegexFormat(_Model):
    """A value matching a regular expression (full match)."""

    kind: Literal["regex"] = "regex"
    pattern: str
    hint: str = Field(default="", description="Human description of the pattern, used in messages")


class SecretFormat(_Model):
    """Random secret material: minimum length of the decoded bytes and minimum entropy."""

    kind: Literal["secret"] = "secret"
    min_bytes: int = 32
    encoding: Literal["base64", "hex", "any"] = "any"
    test_prefixes: list[str] = Field(default_factory=list, description="prefixes of test keys, e.g. sk_test_")


class HostPortFormat(_Model):
    """host:port, as Temporal addresses are written."""

    kind: Literal["hostport"] = "hostport"
    public: bool = True


Format = Annotated[
    UrlFormat | IntFormat | EnumFormat | RegexFormat | SecretFormat | HostPortFormat,
    Field(discriminator="kind"),
]


class AwsSecretRef(_Model):
    """Where a secret lives in AWS Secrets Manager; `key` when one JSON secret holds several values."""

    id: str
    key: str | None = None


class Generate(_Model):
    """How `preflight secrets generate` makes a new value with a CSPRNG."""

    bytes: int = 48
    encoding: Literal["base64", "hex", "urlsafe"] = "base64"


class Variable(_Model):
    """One environment variable of the system."""

    name: Annotated[str, Field(pattern=_NAME)]
    section: str
    description: str
    secret: bool = False
    required: bool = True
    required_if: str | None = Field(
        default=None, description="Name of a variable; when it is set, this one is required"
    )
    format: Format | None = None
    example: str | None = Field(default=None, description="A non-secret example; never a real value")
    default: str | None = None
    consumers: list[str] = Field(default_factory=lambda: ["backend"])
    aws_secret: AwsSecretRef | None = None
    obtain: str = Field(default="", description="How to obtain it: a recipe or who to ask")
    generate: Generate | None = None
    verified_by: str | None = Field(
        default=None, description="Checker whose live probe confirms the value ('needs verification')"
    )

    def is_required(self, present: set[str]) -> bool:
        """Required outright, or because the variable it depends on is set."""
        if self.required_if is not None:
            return self.required_if in present
        return self.required


class Section(_Model):
    """A group of variables (Security, Database, ...)."""

    id: str
    title: str
    description: str = ""


class Service(_Model):
    """A deployable that consumes variables (backend, gpu-worker)."""

    name: str
    description: str = ""
    ecs_family: str | None = None


class QueueSettings(_Model):
    """The OCR job queue shared by backend and GPU worker."""

    layout: Literal["list", "stream", "bullmq"] = "list"
    queue_key_vars: list[str] = Field(default_factory=list, description="Variables naming queue keys")
    dead_letter_var: str | None = None
    heartbeat_key_var: str | None = None
    heartbeat_max_age_s: int = 60
    oldest_job_max_age_s: int = 900
    dead_letter_max: int = 0
    job_timestamp_field: str = Field(
        default="enqueued_at", description="JSON field of a job holding its enqueue time (unix seconds)"
    )


class TemporalSettings(_Model):
    """Optional Temporal Cloud; when not configured, the Redis queue is the fallback."""

    address_var: str = "TEMPORAL_ADDRESS"
    poller_max_age_s: int = 120
    cert_expiry_warn_days: int = 30


class Buli2Signature(_Model):
    """The callback signature scheme: HMAC over '{timestamp}.{body}' by default."""

    algorithm: Literal["sha256", "sha512"] = "sha256"
    header: str = "X-BULI2-Signature"
    timestamp_header: str = "X-BULI2-Timestamp"
    message: str = "{timestamp}.{body}"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = Field(default="", description="e.g. 'sha256=' before the digest")
    tolerance_s: int = 300


class Buli2Settings(_Model):
    """The BULI2 manual-review partner API."""

    health_path: str = "/v1/health"
    api_key_header: str = "X-API-Key"
    callback_path: str = "/api/webhooks/buli2"
    signature: Buli2Signature = Buli2Signature()


class AwsSettings(_Model):
    """AWS Secrets Manager and ECS."""

    rotation_max_age_days: int = 180


class PostgresSettings(_Model):
    """Neon Postgres."""

    latest_migration: str | None = None
    migrations_table: str = "schema_migrations"
    migrations_column: str = "version"


class BackendSettings(_Model):
    """The Express API."""

    health_path: str = "/health"
    ready_path: str = "/ready"


class R2Settings(_Model):
    """Cloudflare R2 canary settings."""

    canary_prefix: str = "_preflight/"
    presign_expiry_s: int = 300


class CodeSettings(_Model):
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


class Checks(_Model):
    """Per-subsystem settings that the checkers read."""

    queue: QueueSettings = QueueSettings()
    temporal: TemporalSettings = TemporalSettings()
    buli2: Buli2Settings = Buli2Settings()
    aws: AwsSettings = AwsSettings()
    postgres: PostgresSettings = PostgresSettings()
    backend: BackendSettings = BackendSettings()
    r2: R2Settings = R2Settings()
    code: CodeSettings = CodeSettings()


def _number_as_text(v: Any) -> Any:
    # `version: 1` and `version: 2024.11` are natural in YAML; keep them as written text.
    return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


class Manifest(_Model):
    """The whole manifest."""

    name: str
    version: Annotated[str, BeforeValidator(_number_as_text)]
    environment: str = "production"
    description: str = ""
    services: list[Service]
    sections: list[Section]
    variables: list[Variable]
    checks: Checks = Checks()

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        names = [v.name for v in self.variables]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate variable names: {', '.join(dupes)}")
        sections = {s.id for s in self.sections}
        services = {s.name for s in self.services}
        for i, v in enumerate(self.variables):
            if v.section not in sections:
                raise ValueError(f"variables[{i}] ({v.name}): unknown section {v.section!r}")
            unknown = set(v.consumers) - services
            if unknown:
                raise ValueError(f"variables[{i}] ({v.name}): unknown consumer {sorted(unknown)[0]!r}")
            if v.required_if and v.required_if not in names:
                raise ValueError(f"variables[{i}] ({v.name}): required_if names unknown {v.required_if!r}")
        return self

    def variable(self, name: str) -> Variable:
        """The variable called `name` (KeyError if absent)."""
        for v in self.variables:
            if v.name == name:
                return v
        raise KeyError(name)

    def has(self, name: str) -> bool:
        """Whether the manifest declares `name`."""
        return any(v.name == name for v in self.variables)

    def secrets(self) -> list[Variable]:
        """The secret variables, in manifest order."""
        return [v for v in self.variables if v.secret]

    def consumed_by(self, service: str) -> list[Variable]:
        """Variables that `service` reads."""
        return [v for v in self.variables if service in v.consumers]


DEFAULT_MANIFEST = "filot.yaml"
MAX_MANIFEST_BYTES = 2 * 1024 * 1024


def default_path() -> Path:
    """The FiLot manifest shipped with the package."""
    return data_path("manifests") / DEFAULT_MANIFEST


def load(path: Path | str | None = None) -> Manifest:
    """Read and validate a YAML or JSON manifest; raise ManifestError naming the place of any problem."""
    p = Path(path) if path is not None else default_path()
    try:
        size = p.stat().st_size
        if size > MAX_MANIFEST_BYTES:  # FiLot's is ~20 KB; megabytes of YAML take seconds and GBs to parse
            raise ManifestError(f"{p}: manifest is {size} bytes; the limit is {MAX_MANIFEST_BYTES}")
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError(f"{p}: cannot read manifest: {e.__class__.__name__}: {_short(e)}") from None
    data = _parse(p, text)
    if not isinstance(data, dict):
        raise ManifestError(f"{p}: manifest must be a mapping at the top level, got {type(data).__name__}")
    try:
        return Manifest.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        # repr() for a key with a newline or control character: the error stays one line
        loc = ".".join(str(x) if str(x).isprintable() else repr(str(x)) for x in err["loc"]) or "(top level)"
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise ManifestError(f"{p}: {loc}: {err['msg']}{more}") from None


def _parse(p: Path, text: str) -> Any:
    if p.suffix.lower() == ".json":
        try:
            return json.loads(text, object_pairs_hook=_unique_pairs)
        except json.JSONDecodeError as e:
            raise ManifestError(f"{p}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
        except (ValueError, RecursionError) as e:  # duplicate key, deep nesting, an int of > 4300 digits
            raise ManifestError(f"{p}: invalid JSON: {_short(e)}") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - safe loader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"{mark.line + 1}:{mark.column + 1}" if mark else "?"
        raise ManifestError(f"{p}:{where}: invalid YAML: {e.problem or e}") from None
    except (yaml.YAMLError, ValueError, RecursionError) as e:
        raise ManifestError(f"{p}: invalid YAML: {_short(e)}") from None


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON objects reject duplicate keys, as the YAML loader does (json.loads would keep the last)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys: a silently overridden variable is a manifest bug."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        try:
            dup = key in seen
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "unhashable key", key_node.start_mark
            ) from None
        if dup:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _short(e: BaseException) -> str:
    return re.sub(r"\s+", " ", str(e))[:200]


def json_schema() -> dict[str, Any]:
    """The manifest's JSON Schema (committed as manifests/manifest.schema.json)."""
    schema = Manifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "filot-preflight manifest"
    return schema
