"""ecs_taskdefs' probe: task definitions from JSON files or DescribeTaskDefinition, ARN parsing, and
what the manifest and values expect. The judge (pure) is in ecs_taskdefs.py.

Environment values are compared with known secret values here and dropped: the facts hold names only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filot_preflight.aws_client import AwsAccess, AwsProblem, classify, make_client
from filot_preflight.checkers.base import CheckContext
from filot_preflight.errors import PreflightError
from filot_preflight.fileio import read_limited
from filot_preflight.manifest import Manifest

MAX_FILE_BYTES = 2 * 1024 * 1024
_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")  # Secrets Manager appends 6 random characters to the ARN's name


class TaskDefFileError(PreflightError):
    """A --task-def file is unreadable, not JSON, or not a task definition. Names the file and line."""


@dataclass(frozen=True)
class Container:
    """What the judge needs of one container; environment values are never kept, only names."""

    name: str
    image: str
    secrets: tuple[tuple[str, str], ...] = ()  # (variable name, valueFrom)
    env_names: tuple[str, ...] = ()
    env_holding_secret_values: tuple[str, ...] = ()  # env names whose value equals a manifest secret


@dataclass(frozen=True)
class TaskDef:
    """One task definition (from a file or DescribeTaskDefinition)."""

    family: str
    origin: str
    containers: tuple[Container, ...]
    execution_role: str = ""
    task_role: str = ""


@dataclass(frozen=True)
class SecretSpec:
    """A manifest variable the judge expects in `secrets[]`."""

    variable: str
    secret_id: str | None
    key: str | None
    required: bool


@dataclass(frozen=True)
class Expect:
    """What the manifest and the values say a task definition must contain."""

    account: str | None
    region: str | None
    family_service: dict[str, str]
    consumed: dict[str, tuple[SecretSpec, ...]]  # service -> secret variables it reads
    refs: dict[str, SecretSpec]  # every manifest variable stored in Secrets Manager
    secret_names: frozenset[str]
    known_names: frozenset[str]
    secret_ids: frozenset[str]


@dataclass(frozen=True)
class Facts:
    """Task definitions found, or why none could be read."""

    expect: Expect
    mode: str  # files | live | none
    taskdefs: tuple[TaskDef, ...] = ()
    not_found: tuple[tuple[str, str], ...] = ()  # (family, why)
    skip_reason: str = ""
    problem: AwsProblem | None = None
    calls: int = 0


# --- files -----------------------------------------------------------------------------------------


def load_files(paths: tuple[Path, ...] | list[Path]) -> list[tuple[str, dict[str, Any]]]:
    """Read task-definition JSON files (register input, describe output, or a list); raise on bad input."""
    out: list[tuple[str, dict[str, Any]]] = []
    for p in paths:
        try:
            text = read_limited(p, MAX_FILE_BYTES, "task definition file", TaskDefFileError).decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise TaskDefFileError(f"{p}: cannot read task definition: {e.__class__.__name__}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise TaskDefFileError(f"{p}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
        except (ValueError, RecursionError) as e:  # deep nesting, an int of > 4300 digits
            raise TaskDefFileError(f"{p}: invalid JSON: {' '.join(str(e).split())[:200]}") from None
        items = data if isinstance(data, list) else [data]
        for i, item in enumerate(items):
            td = item.get("taskDefinition", item) if isinstance(item, dict) else None
            if not isinstance(td, dict) or not isinstance(td.get("containerDefinitions"), list):
                where = f"[{i}]" if isinstance(data, list) else ""
                raise TaskDefFileError(f"{p}{where}: not an ECS task definition (no containerDefinitions list)")
            out.append((str(p), td))
    return out


def parse_taskdef(origin: str, td: dict[str, Any], secret_values: set[str]) -> TaskDef:
    """Keep what the judge needs; env values are compared with known secrets here and then dropped."""
    containers = []
    for c in td.get("containerDefinitions") or []:
        if not isinstance(c, dict):
            continue
        env = [e for e in c.get("environment") or [] if isinstance(e, dict)]
        containers.append(Container(
            name=str(c.get("name", "")),
            image=str(c.get("image", "")),
            secrets=tuple((str(s.get("name", "")), str(s.get("valueFrom", "")))
                          for s in c.get("secrets") or [] if isinstance(s, dict)),
            env_names=tuple(str(e.get("name", "")) for e in env),
            env_holding_secret_values=tuple(
                str(e.get("name", "")) for e in env if str(e.get("value", "")) in secret_values),
        ))
    family = str(td.get("family") or Path(origin).stem)
    return TaskDef(family, origin, tuple(containers), str(td.get("executionRoleArn") or ""),
                   str(td.get("taskRoleArn") or ""))


# --- ARNs -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretArn:
    """A parsed `valueFrom`: service, region, account, secret name (with suffix) and JSON key."""

    service: str
    region: str
    account: str
    name: str = ""
    key: str = ""


def parse_arn(value: str) -> SecretArn | None:
    """Parse an ARN (Secrets Manager secrets in detail); None when `value` is not an ARN."""
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    _, _, service, region, account, resource = parts
    if service != "secretsmanager":
        return SecretArn(service, region, account, resource)
    res = resource.split(":")
    if len(res) < 2 or res[0] != "secret":
        return SecretArn(service, region, account, resource)
    return SecretArn(service, region, account, res[1], res[2] if len(res) > 2 else "")


def resolve_secret_id(name: str, ids: frozenset[str]) -> str:
    """The manifest id an ARN's secret name denotes: exact first, then without the random suffix.

    Exact first, because a manifest id may itself end like a suffix ('database-url' + '-direct').
    """
    if name in ids:
        return name
    stripped = _SUFFIX.sub("", name)
    return stripped if stripped in ids else name


# --- probe ------------------------------------------------------------------------------------------


def expectations(ctx: CheckContext, region: str | None = None) -> Expect:
    """What the manifest and the values say the task definitions must hold."""
    m: Manifest = ctx.manifest
    refs = {v.name: SecretSpec(v.name, v.aws_secret.id, v.aws_secret.key, v.required)
            for v in m.variables if v.aws_secret is not None}
    consumed = {
        s.name: tuple(refs.get(v.name) or SecretSpec(v.name, None, None, v.required)
                      for v in m.consumed_by(s.name) if v.secret)
        for s in m.services
    }
    return Expect(
        account=(ctx.value("AWS_ACCOUNT_ID") or "").strip() or None,
        region=(ctx.value("AWS_REGION") or "").strip() or ctx.options.aws_region or region,
        family_service={s.ecs_family: s.name for s in m.services if s.ecs_family},
        consumed=consumed,
        refs=refs,
        secret_names=frozenset(v.name for v in m.variables if v.secret),
        known_names=frozenset(v.name for v in m.variables),
        secret_ids=frozenset(r.secret_id for r in refs.values() if r.secret_id),
    )


def _secret_values(ctx: CheckContext) -> set[str]:
    names = {v.name for v in ctx.manifest.secrets()}
    return {v.value.get_secret_value() for v in ctx.values.values
            if v.name in names and len(v.value.get_secret_value()) >= 8}


def probe(ctx: CheckContext) -> Facts:
    """Files when given (no network); else live by family when AWS is configured; else a SKIP reason."""
    if ctx.options.task_defs:
        loaded = load_files(ctx.options.task_defs)
        secrets = _secret_values(ctx)
        tds = tuple(parse_taskdef(o, td, secrets) for o, td in loaded)
        have = {t.family for t in tds}
        expect = expectations(ctx)
        missing = tuple((f, "no --task-def file for this family") for f in expect.family_service
                        if f not in have)
        return Facts(expect, "files", tds, missing)
    if ctx.options.offline:
        return Facts(expectations(ctx), "none", skip_reason="--offline and no --task-def file given")
    return _probe_live(ctx)


def _probe_live(ctx: CheckContext) -> Facts:
    access = AwsAccess.from_options(ctx.options, ctx.values)
    try:
        aws = make_client("ecs", access)
    except Exception as e:  # noqa: BLE001 - not configured: SKIP, aws_secrets reports how to configure
        p = classify(e)
        return Facts(expectations(ctx), "none",
                     skip_reason=f"no --task-def file and AWS is not usable ({p.kind}: {p.message})")
    client, region, counter = aws.client, aws.region, aws.counter
    expect = expectations(ctx, region)
    secrets = _secret_values(ctx)
    tds: list[TaskDef] = []
    missing: list[tuple[str, str]] = []
    for family in expect.family_service:
        try:
            td = client.describe_task_definition(taskDefinition=family)["taskDefinition"]
        except Exception as e:  # noqa: BLE001 - a fact
            p = classify(e)
            if p.kind != "error":  # credentials / network: the whole fetch is off
                return Facts(expect, "live", tuple(tds), tuple(missing), problem=p, calls=counter.calls)
            missing.append((family, f"{p.code or p.kind}: {p.message}"))
            continue
        tds.append(parse_taskdef(f"aws:{region}:{family}", td, secrets))
    return Facts(expect, "live", tuple(tds), tuple(missing), calls=counter.calls)
