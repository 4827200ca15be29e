"""ecs_taskdefs' probe: task definitions from JSON files or DescribeTaskDefinition, ARN parsing, and
what the manifest and values expect. The judge (pure) is in ecs_taskdefs.py.

Environment values are compared with known secret values here and dropped: the facts hold names only.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from filot_preflight.checkers.base import CheckContext
from filot_preflight.checkers.ecs_taskdefs.arns import fetch_arns, parse_arn, resolve_secret_id
from filot_preflight.checkers.ecs_taskdefs.iam import may_read, read_role_policies, role_name
from filot_preflight.manifest import Manifest
from filot_preflight.net.aws import AwsAccess, AwsProblem, classify, make_client
from filot_preflight.taskdefs import MAX_FILE_BYTES as MAX_FILE_BYTES
from filot_preflight.taskdefs import TaskDefFileError as TaskDefFileError
from filot_preflight.taskdefs import load_files as load_files


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
    arn: str = ""  # taskDefinitionArn, when registered: it names the account the task really runs in


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
    pinned: frozenset[str] = frozenset()  # variables whose aws_secret is pinned to a version on purpose


@dataclass(frozen=True)
class RoleAccess:
    """Whether a task definition's execution role may read each secret it references (from IAM's documents)."""

    family: str
    role: str
    verdicts: tuple[tuple[str, bool | None], ...] = ()  # (variable, allowed?) None = IAM alone can tell
    error: str = ""  # why the role's policies could not be read


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
    real_arns: dict[str, str] = field(default_factory=dict)  # secret id -> the ARN Secrets Manager returns
    absent_secrets: dict[str, str] = field(default_factory=dict)  # secret id -> why DescribeSecret failed
    arn_calls: int = 0  # DescribeSecret calls (`calls` counts DescribeTaskDefinition)
    role_access: tuple[RoleAccess, ...] = ()  # per task definition, when IAM could be asked
    arns_unchecked: str = "no AWS access in this run (--offline)"  # "" once compared


# --- files -----------------------------------------------------------------------------------------


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
                   str(td.get("taskRoleArn") or ""), str(td.get("taskDefinitionArn") or ""))


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
        pinned=frozenset(v.name for v in m.variables if v.aws_secret is not None and v.aws_secret.pinned),
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
        facts = Facts(expect, "files", tds, missing)
        # Files are read without AWS, but the references they hold are only proven against Secrets Manager:
        # compare whenever the run may reach AWS (a run without access says so in ecs_taskdefs.secret_arns).
        return facts if ctx.options.offline else _with_real_arns(ctx, facts)
    if ctx.options.offline:
        return Facts(expectations(ctx), "none", skip_reason="--offline and no --task-def file given")
    facts = _probe_live(ctx)
    return _with_real_arns(ctx, facts) if facts.problem is None and facts.taskdefs else facts


def _with_real_arns(ctx: CheckContext, facts: Facts) -> Facts:
    """The ARN Secrets Manager returns for every secret id the task definitions reference (DescribeSecret),
    and what each execution role may read of them.

    The roles' policies do not depend on the ARNs, so IAM is read beside the Secrets Manager lookup
    (each role in its own thread) instead of after it: on the critical path of a full check these were
    five round trips in a row.
    """
    arns = [parse_arn(vf) for td in facts.taskdefs for c in td.containers for _, vf in c.secrets]
    names = {a.name for a in arns if a is not None and a.service == "secretsmanager"}
    wanted = sorted({resolve_secret_id(n, facts.expect.secret_ids) for n in names if n}
                    & set(facts.expect.secret_ids))
    access = AwsAccess.from_options(ctx.options, ctx.values)
    try:
        aws = make_client("secretsmanager", access)
    except Exception as e:  # noqa: BLE001 - not configured: the comparison is said to be unchecked
        p = classify(e)
        return replace(facts, arns_unchecked=f"Secrets Manager not usable ({p.kind}: {p.message})")
    role_names = sorted({n for td in facts.taskdefs if td.execution_role for n in [role_name(td.execution_role)] if n})
    pool = ThreadPoolExecutor(max_workers=1 + len(role_names), thread_name_prefix="iam")
    try:
        roles = _read_roles(pool, access, role_names)
        try:
            found, absent = fetch_arns(aws.client, wanted)
        except Exception as e:  # noqa: BLE001 - denied or unreachable: unchecked, said so
            p = classify(e)
            return replace(facts, arns_unchecked=f"ListSecrets failed ({p.code or p.kind}: {p.message})"[:300])
        # Each IAM call is bounded by the client's connect and read timeouts, so this wait is too.
        docs = {name: f.result() for name, f in roles.items()}
    finally:
        # Not waiting when the lookup failed: the IAM calls are bounded by the client's timeouts and end
        # on their own; their answer is no longer needed.
        pool.shutdown(wait=False, cancel_futures=True)
    access_rows = tuple(_role_access(td, facts.expect, found, docs) for td in facts.taskdefs if td.execution_role)
    return replace(facts, real_arns=found, absent_secrets=absent, arns_unchecked="", arn_calls=aws.counter.calls,
                   role_access=access_rows)


RoleDocs = list[dict[str, Any]] | Exception


def _read_roles(pool: ThreadPoolExecutor, access: AwsAccess, names: list[str]) -> dict[str, Future[RoleDocs]]:
    """Start reading each role's policies (IAM, read-only; once per role: services often share one)."""
    if not names:
        return {}
    client: Future[Any] = pool.submit(lambda: make_client("iam", access).client)
    return {name: pool.submit(_policies_or_error, client, name) for name in names}


def _policies_or_error(client: Future[Any], name: str) -> RoleDocs:
    try:
        # The same access works for Secrets Manager: a client that cannot be built is IAM's failure.
        return read_role_policies(client.result(), name)
    except Exception as e:  # noqa: BLE001 - a fact: IAM not readable from here
        return e


def _role_access(td: TaskDef, expect: Expect, real: dict[str, str], roles: dict[str, RoleDocs]) -> RoleAccess:
    """Evaluate GetSecretValue on each reference of `td` with its execution role's policies."""
    name = role_name(td.execution_role)
    if name is None:
        return RoleAccess(td.family, td.execution_role, error="executionRoleArn is not an IAM role ARN")
    docs = roles[name]
    if isinstance(docs, Exception):
        p = classify(docs)
        return RoleAccess(td.family, name, error=f"{p.code or p.kind}: {p.message}"[:300])
    verdicts = []
    for c in td.containers:
        for var, value_from in c.secrets:
            arn = parse_arn(value_from)
            if arn is None or arn.service != "secretsmanager":
                continue
            sid = resolve_secret_id(arn.name, expect.secret_ids)
            verdicts.append((var, may_read(docs, real.get(sid) or arn.base)))
    return RoleAccess(td.family, name, tuple(verdicts))


def _probe_live(ctx: CheckContext) -> Facts:
    access = AwsAccess.from_options(ctx.options, ctx.values)
    try:
        aws = make_client("ecs", access)
    except Exception as e:  # noqa: BLE001 - not configured: SKIP, aws_secrets reports how to configure
        p = classify(e)
        if p.kind == "host_refused":  # configured, but the endpoint's host is refused: a FAIL, nothing sent
            return Facts(expectations(ctx), "live", problem=p)
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
