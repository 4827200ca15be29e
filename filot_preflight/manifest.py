"""The manifest: every production variable of the system, and the settings of each subsystem check.

Load with `load(path)`; errors name the file, line/column (syntax) or the field path (schema).
The per-subsystem settings (`checks:`) are defined in `manifest_checks` and reading YAML/JSON text in
`manifest_parse`; import the models from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import regex
from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator

from filot_preflight.errors import ManifestError
from filot_preflight.fileio import read_limited

# Re-exported: the settings models are imported from here (`from filot_preflight.manifest import R2Settings`).
from filot_preflight.manifest_checks import AwsSettings as AwsSettings
from filot_preflight.manifest_checks import BackendSettings as BackendSettings
from filot_preflight.manifest_checks import Buli2Settings as Buli2Settings
from filot_preflight.manifest_checks import Buli2Signature as Buli2Signature
from filot_preflight.manifest_checks import Checks as Checks
from filot_preflight.manifest_checks import CodeSettings as CodeSettings
from filot_preflight.manifest_checks import PostgresSettings as PostgresSettings
from filot_preflight.manifest_checks import QueueSettings as QueueSettings
from filot_preflight.manifest_checks import R2Settings as R2Settings
from filot_preflight.manifest_checks import StrictModel as _Model
from filot_preflight.manifest_checks import TemporalSettings as TemporalSettings
from filot_preflight.manifest_parse import parse, short
from filot_preflight.resources import data_path

_NAME = r"^[A-Z][A-Z0-9_]*$"


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
    """A value matching a regular expression (full match), run by `regex` with a time bound."""

    kind: Literal["regex"] = "regex"
    pattern: str
    hint: str = Field(default="", description="Human description of the pattern, used in messages")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        # An invalid pattern passed `manifest validate` and only surfaced as a vague result at run time.
        try:
            regex.compile(v)
        except (regex.error, RecursionError, OverflowError) as e:
            raise ValueError(f"invalid regular expression: {e}") from None
        return v


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
    pinned: bool = Field(default=False, description="valueFrom pins a version stage or id on purpose (ECS then "
                         "keeps injecting that version after a rotation)")


class Generate(_Model):
    """How `preflight secrets generate` makes a new value with a CSPRNG."""

    # 0 or -1 made an empty secret and 2e9 tried to allocate gigabytes: 16 bytes (128 bits) to 1 KiB.
    bytes: Annotated[int, Field(ge=16, le=1024)] = 48
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
    reader: Literal["node-dotenv", "python-dotenv", "docker-env", "ecs"] = Field(
        default="python-dotenv",
        description="How the service reads its configuration: npm dotenv (node-dotenv), python-dotenv, "
        "Docker --env-file / ECS environmentFiles (docker-env), or only the injected environment (ecs)",
    )
    override: bool = Field(
        default=False, description="dotenv's override option: files beat the environment and the last file wins"
    )


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
        # FiLot's is ~20 KB; megabytes of YAML take seconds and GBs to parse
        text = read_limited(p, MAX_MANIFEST_BYTES, "manifest", ManifestError).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError(f"{p}: cannot read manifest: {e.__class__.__name__}: {short(e)}") from None
    data = parse(p, text)
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


def json_schema() -> dict[str, Any]:
    """The manifest's JSON Schema (committed as manifests/manifest.schema.json)."""
    schema = Manifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "filot-preflight manifest"
    return schema
