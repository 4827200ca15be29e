"""ECS task definitions: secrets come from Secrets Manager ARNs of the right account, region and path.

Task definitions come from JSON files (`--task-def PATH`: no network, so the checker runs under
--offline) or, when no file is given, live by family (`services[].ecs_family`) through
DescribeTaskDefinition. Per container: every secret the service consumes is in `secrets[]` with
`arn:aws:secretsmanager:<region>:<AWS_ACCOUNT_ID>:secret:<id>[-XXXXXX][:<json-key>::]`, nothing
secret sits in plain `environment`, images are pinned; per task: an execution role is set and
every ARN names AWS_ACCOUNT_ID (the seed's "Verify AWS_ACCOUNT_ID in ECS task definitions").
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from filot_preflight.checkers.base import CheckContext, Checker, results_for
from filot_preflight.checkers.ecs_taskdefs.arns import parse_arn, partition_of, resolve_secret_id
from filot_preflight.checkers.ecs_taskdefs.probe import (
    Container,
    Expect,
    Facts,
    SecretSpec,
    TaskDef,
    TaskDefFileError,
    expectations,
    load_files,
    parse_taskdef,
    probe,
)
from filot_preflight.models import CheckResult, Status
from filot_preflight.net import libraries as libs
from filot_preflight.net.aws import AwsProblem

__all__ = [
    "EcsTaskDefsChecker",
    "Facts",
    "TaskDefFileError",
    "expectations",
    "judge",
    "judge_taskdef",
    "load_files",
    "parse_arn",
    "parse_taskdef",
    "probe",
    "resolve_secret_id",
]

NAME = "ecs_taskdefs"
SUBSYSTEM = "aws"
_r = results_for(NAME, SUBSYSTEM)
_SECRETISH = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|PRIVATE|CREDENTIAL|_KEY$|_DSN$|DATABASE_URL|REDIS_URL")


# --- judge ------------------------------------------------------------------------------------------


def judge(facts: Facts) -> list[CheckResult]:
    """Pure: results per task definition and container, plus one for where the definitions came from."""
    e = facts.expect
    if facts.mode == "none":
        return [_r("source", Status.SKIP, f"no task definitions checked: {facts.skip_reason}",
                   remediation="Pass --task-def FILE (aws ecs describe-task-definition output or the "
                   "register input), or configure AWS to fetch them by family.")]
    out: list[CheckResult] = []
    if facts.problem is not None:
        p = facts.problem
        out.append(_r("source", Status.FAIL, f"cannot fetch task definitions: {p.kind.replace('_', ' ')}",
                      detail=p.message, remediation=p.remedy, evidence={"kind": p.kind, "code": p.code}))
    else:
        out.append(_r("source", Status.PASS, f"{len(facts.taskdefs)} task definitions read ({facts.mode})",
                      evidence={"mode": facts.mode, "families": [t.family for t in facts.taskdefs],
                                "calls": facts.calls}))
    for family, why in facts.not_found:
        if facts.mode == "files":
            out.append(_r("family", Status.SKIP, f"{family}: not checked ({why})", target=family))
        else:
            out.append(_r("family", Status.FAIL, f"task definition family {family} not found", target=family,
                          detail=why, remediation=f"Register {family} in region {e.region or '?'} "
                          "(aws ecs register-task-definition) or fix services[].ecs_family in the manifest."))
    for td in facts.taskdefs:
        out.extend(judge_taskdef(td, e, facts.real_arns))
    if facts.taskdefs:
        out.append(_arn_check(facts))
        out.extend(_role_access(facts))
    return out


def _role_access(facts: Facts) -> list[CheckResult]:
    """The execution role's permission to read each referenced secret, where IAM could be read."""
    if facts.arns_unchecked:
        return [_r("secret_access", Status.SKIP, "execution roles' permission to read the secrets not checked: "
                   f"{facts.arns_unchecked}", remediation="Run without --offline, with credentials that may read "
                   "Secrets Manager and IAM (secretsmanager:ListSecrets, iam:GetRolePolicy, ...).")]
    out = []
    for ra in facts.role_access:
        target = f"{ra.family}/{ra.role}"
        if ra.error:
            out.append(_r("secret_access", Status.SKIP, f"{ra.family}: role {ra.role}'s permission to read the "
                          f"secrets not checked (IAM: {ra.error})", target=target,
                          remediation="Allow this principal iam:ListRolePolicies, iam:GetRolePolicy, "
                          "iam:ListAttachedRolePolicies, iam:GetPolicy and iam:GetPolicyVersion, or check with "
                          "aws iam simulate-principal-policy."))
            continue
        denied = sorted(v for v, ok in ra.verdicts if ok is False)
        unsure = sorted(v for v, ok in ra.verdicts if ok is None)
        ev: dict[str, Any] = {"role": ra.role, "denied": denied, "undecided": unsure}
        if denied:
            out.append(_r("secret_access", Status.FAIL, f"{ra.family}: execution role {ra.role} may not "
                          f"secretsmanager:GetSecretValue {len(denied)} referenced secrets: {', '.join(denied)}",
                          target=target, evidence=ev, remediation=f"Add to {ra.role} a statement "
                          '{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": [<the '
                          "secrets' ARNs>]} (and kms:Decrypt for a customer-managed key); without it the task "
                          "fails to start."))
        elif unsure:
            out.append(_r("secret_access", Status.WARN, f"{ra.family}: role {ra.role}'s policies use conditions "
                          f"or negations: access to {len(unsure)} secrets cannot be decided here", target=target,
                          evidence=ev, remediation=f"Check with aws iam simulate-principal-policy --policy-source-arn "
                          f"<{ra.role}'s ARN> --action-names secretsmanager:GetSecretValue --resource-arns ..."))
        else:
            out.append(_r("secret_access", Status.PASS, f"{ra.family}: execution role {ra.role} may read all "
                          f"{len(ra.verdicts)} secret references", target=target, evidence=ev))
    return out


def judge_taskdef(td: TaskDef, e: Expect, real: dict[str, str] | None = None) -> list[CheckResult]:
    """Every rule for one task definition; `real`: secret id -> the ARN Secrets Manager returns, when known."""
    real = real or {}
    out: list[CheckResult] = []
    service = e.family_service.get(td.family) or next(
        (c.name for c in td.containers if c.name in e.consumed), None)
    if service is None:
        out.append(_r("family", Status.WARN, f"{td.family} is not a manifest service's ecs_family",
                      target=td.family, remediation="Add ecs_family to the service in the manifest so its "
                      "secrets can be checked, or pass the right --task-def file."))
    if td.execution_role:
        out.append(_r("execution_role", Status.PASS, f"{td.family}: executionRoleArn set", target=td.family))
    else:
        out.append(_r("execution_role", Status.FAIL, f"{td.family}: no executionRoleArn", target=td.family,
                      remediation="Set executionRoleArn to a role with secretsmanager:GetSecretValue on "
                      "filot/prod/* (and kms:Decrypt); without it ECS cannot inject secrets."))
    out.extend(_images(td))
    out.extend(_plain_env(td, e))
    app = _app_container(td, service) if service else None
    if app is not None and service is not None:
        out.extend(_consumed(td, app, e.consumed.get(service, ())))
    out.extend(_refs(td, e, real))
    out.append(_account(td, e, real))
    return out


def _app_container(td: TaskDef, service: str) -> Container | None:
    by_name = {c.name: c for c in td.containers}
    if service in by_name or td.family in by_name:
        return by_name.get(service) or by_name[td.family]
    if len(td.containers) == 1:
        return td.containers[0]
    return next((c for c in td.containers if c.secrets), td.containers[0] if td.containers else None)


def _images(td: TaskDef) -> list[CheckResult]:
    bad = []
    for c in td.containers:
        last = c.image.rsplit("/", 1)[-1]
        if "@sha256:" in c.image:
            continue
        tag = last.split(":", 1)[1] if ":" in last else ""
        if tag and tag != "latest":
            continue
        why = "uses :latest" if tag else "has no tag (means :latest)"
        bad.append(_r("image", Status.FAIL, f"{td.family}/{c.name}: image {why}", target=f"{td.family}/{c.name}",
                      evidence={"image": c.image},
                      remediation="Pin the image to an immutable digest (repo@sha256:...) or at least a "
                      "release tag; enable ECR tag immutability."))
    if bad:
        return bad
    digests = sum("@sha256:" in c.image for c in td.containers)
    return [_r("image", Status.PASS, f"{td.family}: images pinned ({digests}/{len(td.containers)} by digest)",
               target=td.family, detail="" if digests == len(td.containers)
               else "Tags are mutable; a digest (repo@sha256:...) pins exactly what was tested.")]


def _plain_env(td: TaskDef, e: Expect) -> list[CheckResult]:
    bad = []
    for c in td.containers:
        names = sorted({n for n in c.env_names if n in e.secret_names
                        or (n not in e.known_names and _SECRETISH.search(n.upper()))}
                       | set(c.env_holding_secret_values))
        if names:
            bad.append(_r("plain_env", Status.FAIL,
                          f"{td.family}/{c.name}: secret in plain environment: {', '.join(names)}",
                          target=f"{td.family}/{c.name}", evidence={"variables": names},
                          remediation="Move each to secrets[] with valueFrom the Secrets Manager ARN, delete "
                          "it from environment, and rotate it (it is visible to anyone who can read the "
                          "task definition)."))
    return bad or [_r("plain_env", Status.PASS, f"{td.family}: no secret in plain environment", target=td.family)]


def _consumed(td: TaskDef, app: Container, wanted: tuple[SecretSpec, ...]) -> list[CheckResult]:
    have = {n for n, _ in app.secrets}
    present = have | set(app.env_names)
    missing = [s.variable for s in wanted if s.required and s.variable not in have]
    target = f"{td.family}/{app.name}"
    if missing:
        return [_r("secrets", Status.FAIL, f"{target}: {len(missing)} secrets not in secrets[]: "
                   f"{', '.join(missing)}", target=target, evidence={"missing": missing},
                   remediation="Add each to containerDefinitions[].secrets as {name, valueFrom: "
                   "arn:aws:secretsmanager:<region>:<account>:secret:<id>[:<json-key>::]}.")]
    return [_r("secrets", Status.PASS, f"{target}: all {len([s for s in wanted if s.required])} required "
               "secrets come from secrets[]", target=target,
               evidence={"optional_present": sorted(s.variable for s in wanted
                                                   if not s.required and s.variable in present)})]


def _refs(td: TaskDef, e: Expect, real: dict[str, str]) -> list[CheckResult]:
    """Each secrets[] entry of a manifest variable, read as ECS reads it, points at its secret, key and region."""
    out = []
    for c in td.containers:
        for var, value_from in c.secrets:
            spec = e.refs.get(var)
            if spec is None or spec.secret_id is None:
                continue
            problem = _ref_problem(value_from, spec, e, real.get(spec.secret_id), var in e.pinned)
            if problem:
                key = f":{spec.key}::" if spec.key else ""
                arn = real.get(spec.secret_id) or (f"arn:{partition_of(e.region or '')}:secretsmanager:"
                                                   f"{e.region or '<region>'}:{e.account or '<AWS_ACCOUNT_ID>'}:"
                                                   f"secret:{spec.secret_id}")
                tail = " (the ARN Secrets Manager returns)" if spec.secret_id in real else \
                    " (the -XXXXXX suffix may follow the id: aws secretsmanager describe-secret --query ARN)"
                out.append(_r("secret_ref", Status.FAIL, f"{td.family}/{c.name}: {var} {problem}",
                              target=f"{td.family}/{c.name}/{var}", evidence={"valueFrom": value_from},
                              remediation=f"valueFrom for {var}: {arn}{key}{tail}, then register a new revision."))
    return out


def _ref_problem(value_from: str, spec: SecretSpec, e: Expect, real: str | None, pinned: bool) -> str:
    arn = parse_arn(value_from)
    if arn is None:
        if value_from.startswith("arn:"):
            return "valueFrom is not a well-formed ARN"
        return "valueFrom is a bare name, which ECS reads as an SSM parameter, not a Secrets Manager secret"
    if arn.service != "secretsmanager":
        return f"valueFrom is a {arn.service} ARN, expected Secrets Manager ({spec.secret_id})"
    if arn.malformed:
        return (f"valueFrom has {arn.fields} ':'-fields; ECS takes 7 (arn:...:secret:NAME) or 10 "
                "(arn:...:secret:NAME:json-key:version-stage:version-id)")
    if arn.region and arn.partition != partition_of(arn.region):
        return f"names partition {arn.partition}, but region {arn.region} is in partition {partition_of(arn.region)}"
    found = resolve_secret_id(arn.name, e.secret_ids)
    if found != spec.secret_id:
        return f"points to secret {found}, expected {spec.secret_id}"
    if real is not None and arn.base not in (real, real[: -7] if _has_suffix(real) else real):
        return (f"names {arn.base.rsplit(':', 1)[-1]}, but Secrets Manager's ARN of {spec.secret_id} is "
                f"{real.rsplit(':', 1)[-1]} (a stale suffix after re-creation, or a lookalike secret)")
    if (arn.key or None) != spec.key:
        if spec.key is None:
            return f"selects JSON key {arn.key!r} of a plain secret"
        if not arn.key:
            return f"injects the whole JSON secret; add the key suffix :{spec.key}::"
        return f"selects JSON key {arn.key!r}, expected {spec.key!r}"
    if (arn.stage or arn.version_id) and not pinned:
        what = f"version stage {arn.stage}" if arn.stage else f"version id {arn.version_id}"
        return (f"pins {what}: after a rotation ECS keeps injecting that version, not AWSCURRENT "
                "(leave both fields empty, or mark aws_secret.pinned: true in the manifest)")
    if e.region and arn.region != e.region:
        return f"points to region {arn.region}, expected {e.region} (AWS_REGION)"
    return ""


def _has_suffix(arn: str) -> bool:
    return len(arn) > 7 and arn[-7] == "-"


def _arn_check(facts: Facts) -> CheckResult:
    """Whether the references were compared with the ARNs Secrets Manager returns, and which secrets it lacks."""
    if facts.arns_unchecked:
        return _r("secret_arns", Status.SKIP, f"references not compared with Secrets Manager's ARNs: "
                  f"{facts.arns_unchecked}", remediation="Run without --offline, with AWS credentials and region "
                  "(or --aws-endpoint) that may call secretsmanager:ListSecrets, to compare every valueFrom with "
                  "the real ARN.")
    if facts.absent_secrets:
        names = sorted(facts.absent_secrets)
        return _r("secret_arns", Status.FAIL, f"{len(names)} referenced secrets not found in Secrets Manager: "
                  f"{', '.join(names)}", evidence={"absent": [f"{k}: {v}" for k, v in sorted(
                      facts.absent_secrets.items())]},
                  remediation="Create each secret (preflight secrets generate --put) or fix valueFrom; "
                  "ECS fails the task start when a secret cannot be read.")
    return _r("secret_arns", Status.PASS, f"{len(facts.real_arns)} referenced secrets compared with the ARN "
              "Secrets Manager returns", evidence={"secrets": sorted(facts.real_arns), "calls": facts.arn_calls})


def _account(td: TaskDef, e: Expect, real: dict[str, str] | None = None) -> CheckResult:
    """The seed's check: every ARN in the task definition names AWS_ACCOUNT_ID.

    Which side to fix: when the real account is known (the secrets' ARNs from Secrets Manager, the registered
    taskDefinitionArn), it decides; without it, ARNs that all agree on another account make the variable the odd
    one out."""
    seen: dict[str, list[str]] = {}
    for label, value in [("executionRoleArn", td.execution_role), ("taskRoleArn", td.task_role)] + [
        (var, vf) for c in td.containers for var, vf in c.secrets
    ]:
        arn = parse_arn(value)
        if arn is not None and arn.account:
            seen.setdefault(arn.account, []).append(label)
    if e.account is None:
        return _r("account", Status.SKIP, f"{td.family}: AWS_ACCOUNT_ID not set; account not verified",
                  target=td.family, evidence={"accounts_found": sorted(seen)},
                  remediation="Set AWS_ACCOUNT_ID (aws sts get-caller-identity --query Account).")
    wrong = {a: where for a, where in seen.items() if a != e.account}
    # Where the secrets really are (Secrets Manager's ARNs) and where the task definition is registered.
    known = [*(real or {}).values(), td.arn]
    actual = {a.account for v in known if v and (a := parse_arn(v)) is not None and a.account}
    variable_wrong = len(seen) == 1 and (not actual or actual == set(wrong))
    if wrong and variable_wrong:  # every ARN agrees on one account, and it is where the secrets are
        (found, where), n = next(iter(wrong.items())), len(next(iter(wrong.values())))
        return _r("account", Status.FAIL, f"{td.family}: all {n} ARNs name account {found}, but AWS_ACCOUNT_ID "
                  f"is {e.account}", target="AWS_ACCOUNT_ID",
                  evidence={"expected": e.account, "found": [found], "in": sorted(where), "family": td.family},
                  remediation=f"Set AWS_ACCOUNT_ID to {found} (check with: aws sts get-caller-identity --query "
                  f"Account). Only if {e.account} really is the production account, replace {found} in the "
                  f"{n} ARNs of {td.family} and register a new revision.")
    if wrong:
        found = ", ".join(sorted(wrong))
        where = sorted({w for ws in wrong.values() for w in ws})
        places = ", ".join(where[:5]) + (f" and {len(where) - 5} more ARNs" if len(where) > 5 else "")
        return _r("account", Status.FAIL, f"{td.family}: references account {found}, expected {e.account}",
                  target=td.family, evidence={"expected": e.account, "found": sorted(wrong), "in": where},
                  remediation=f"Replace account {found} with {e.account} in {places} (evidence.in lists all) "
                  "and register a new revision (or fix AWS_ACCOUNT_ID if the task definition is right).")
    return _r("account", Status.PASS, f"{td.family}: every ARN names account {e.account}", target=td.family,
              evidence={"account": e.account, "arns": sum(len(w) for w in seen.values())})


class EcsTaskDefsChecker(Checker):
    """ECS task definitions reference every secret by ARN of the right account/region; no plain secrets."""

    name = NAME
    subsystem = SUBSYSTEM
    description = "ECS task definitions: secrets by ARN (account, region, path), no plain secrets, pinned images"
    needs = ("AWS_ACCOUNT_ID", "AWS_REGION")
    network = False  # with --task-def files it needs none; under --offline without files it SKIPs
    libraries = libs.AWS

    def libraries_for(self, ctx: CheckContext) -> tuple[str, ...]:
        """AWS only when the run may reach it (offline, the files are judged alone)."""
        return () if ctx.options.offline else self.libraries

    async def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Probe (files or live, in a daemon thread), then judge."""
        try:
            facts = await asyncio.wait_for(ctx.blocking(probe, ctx), ctx.budget().bound())
        except TimeoutError:  # boto3's own timeouts did not fire first (a slow setup, a stuck DNS lookup)
            problem = AwsProblem("timeout", f"no answer within --timeout {ctx.options.timeout:g}s")
            facts = Facts(expectations(ctx), "live", problem=problem)
        except TaskDefFileError as err:  # the CLI validates files first; this is the backstop
            return [_r("file", Status.ERROR, str(err), remediation="Fix the task definition file's JSON.")]
        return judge(facts)
