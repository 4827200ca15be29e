"""Against moto: every valueFrom compared with the ARN Secrets Manager returns (a stale suffix after the secret was
deleted and re-created, a lookalike partial ARN), live by family and with --task-def files plus --source aws."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import SecretStr

from filot_preflight.checkers.ecs_taskdefs import EcsTaskDefsChecker, expectations
from filot_preflight.checkers.ecs_taskdefs.arns import parse_arn, resolve_secret_id
from filot_preflight.models import CheckResult, Status
from filot_preflight.runner import run_checks
from filot_preflight.sandbox.aws_seed import grant_execution_role
from filot_preflight.sources import Value


def run(ctx: Any) -> list[CheckResult]:
    return asyncio.run(run_checks([EcsTaskDefsChecker()], ctx, handle_signals=False)).results


def seed_region(moto_aws: Any, region: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The backend task definition re-pointed at secrets created in `region`; returns it and {id: ARN}."""
    td = json.loads(next(p for p in moto_aws.taskdefs if p.name == "filot-backend.json").read_text())
    sm = moto_aws.client("secretsmanager", region)
    ids = expectations(moto_aws.context()).secret_ids
    arns: dict[str, str] = {}
    for s in td["containerDefinitions"][0]["secrets"]:
        a = parse_arn(s["valueFrom"])
        assert a is not None
        sid = resolve_secret_id(a.name, ids)
        if sid not in arns:
            arns[sid] = sm.create_secret(Name=sid, SecretString=json.dumps({"k": "v"}))["ARN"]
        s["valueFrom"] = arns[sid] + (f":{a.key}::" if a.key else "")
    return td, arns


def test_stale_suffix_and_lookalike_fail_with_the_real_arn(moto_aws: Any, scratch_region: str) -> None:
    td, arns = seed_region(moto_aws, scratch_region)
    ecs, sm = moto_aws.client("ecs", scratch_region), moto_aws.client("secretsmanager", scratch_region)
    ecs.register_task_definition(**td)
    opts = {"aws_region": scratch_region, "values": moto_aws.values({"AWS_REGION": scratch_region})}
    res = run(moto_aws.context(**opts))
    assert [r.summary for r in res if r.id == "ecs_taskdefs.secret_ref"] == []
    (compared,) = [r for r in res if r.id == "ecs_taskdefs.secret_arns"]
    assert compared.status is Status.PASS and "filot/prod/jwt-secret" in compared.evidence["secrets"]

    # Deleted and re-created: same name, new random suffix; the task definition still names the old one.
    jwt = "filot/prod/jwt-secret"
    sm.delete_secret(SecretId=jwt, ForceDeleteWithoutRecovery=True)
    new_arn = sm.create_secret(Name=jwt, SecretString="x" * 40)["ARN"]
    assert new_arn != arns[jwt]
    res = run(moto_aws.context(**opts))
    (stale,) = [r for r in res if r.id == "ecs_taskdefs.secret_ref"]
    assert stale.status is Status.FAIL and stale.target.endswith("/JWT_SECRET") and "stale suffix" in stale.summary
    assert new_arn in stale.remediation

    # A lookalike secret, referenced by partial ARN: it exists, but it is not jwt-secret.
    sm.create_secret(Name=f"{jwt}-backup", SecretString="y" * 40)
    for s in td["containerDefinitions"][0]["secrets"]:
        if s["name"] == "JWT_SECRET":
            s["valueFrom"] = new_arn.rsplit(":", 1)[0] + f":{jwt}-backup"
    ecs.register_task_definition(**td)
    res = run(moto_aws.context(**opts))
    (look,) = [r for r in res if r.id == "ecs_taskdefs.secret_ref"]
    assert look.status is Status.FAIL and new_arn in look.remediation and "jwt-secret-backup" in look.summary


def test_files_are_compared_too_unless_offline(moto_aws: Any, tmp_path: Any) -> None:
    values = moto_aws.values()
    values.add([Value("JWT_SECRET", SecretStr("from-aws-" + "z" * 32), "aws", "aws:filot/prod/jwt-secret")])
    res = run(moto_aws.context(values=values, task_defs=tuple(moto_aws.taskdefs)))
    (compared,) = [r for r in res if r.id == "ecs_taskdefs.secret_arns"]
    assert compared.status is Status.PASS and compared.evidence["calls"] >= 1
    assert not [r for r in res if r.status is Status.FAIL]
    # Without --source aws too: files hold references that only Secrets Manager can prove.
    res = run(moto_aws.context(task_defs=tuple(moto_aws.taskdefs)))
    (compared,) = [r for r in res if r.id == "ecs_taskdefs.secret_arns"]
    assert compared.status is Status.PASS and compared.evidence["calls"] >= 1
    # --offline: the comparison is said undone, never passed.
    res = run(moto_aws.context(task_defs=tuple(moto_aws.taskdefs), offline=True))
    (skipped,) = [r for r in res if r.id == "ecs_taskdefs.secret_arns"]
    assert skipped.status is Status.SKIP and "--offline" in skipped.summary


def test_execution_role_permission_read_from_iam(moto_aws: Any, scratch_region: str) -> None:
    td, arns = seed_region(moto_aws, scratch_region)
    role = f"filot-backend-{scratch_region}-execution"
    td["executionRoleArn"] = f"arn:aws:iam::{moto_aws.account}:role/{role}"
    iam = moto_aws.client("iam")
    grant_execution_role(iam, td)  # exactly the referenced secrets, as the sandbox grants them
    moto_aws.client("ecs", scratch_region).register_task_definition(**td)
    opts = {"aws_region": scratch_region, "values": moto_aws.values({"AWS_REGION": scratch_region})}
    (ok,) = [r for r in run(moto_aws.context(**opts)) if r.id == "ecs_taskdefs.secret_access"]
    assert ok.status is Status.PASS and ok.evidence["role"] == role

    # The policy loses the JWT secret: ECS could not start the task; the check names the variable.
    allowed = sorted(a for sid, a in arns.items() if sid != "filot/prod/jwt-secret")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": allowed},
        {"Effect": "Allow", "Action": "secretsmanager:Describe*", "Resource": "*"}]}
    iam.put_role_policy(RoleName=role, PolicyName="read-secrets", PolicyDocument=json.dumps(policy))
    (bad,) = [r for r in run(moto_aws.context(**opts)) if r.id == "ecs_taskdefs.secret_access"]
    assert bad.status is Status.FAIL and bad.evidence["denied"] == ["JWT_SECRET"]
    assert "secretsmanager:GetSecretValue" in bad.remediation

    # A wildcard over the prefix allows it again; an explicit Deny wins over it.
    wide = {"Effect": "Allow", "Action": "secretsmanager:*", "Resource":
            f"arn:aws:secretsmanager:{scratch_region}:{moto_aws.account}:secret:filot/prod/*"}
    deny = {"Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": arns["filot/prod/jwt-secret"]}
    iam.put_role_policy(RoleName=role, PolicyName="read-secrets", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [wide]}))
    assert [r.status for r in run(moto_aws.context(**opts)) if r.id == "ecs_taskdefs.secret_access"] == [Status.PASS]
    iam.put_role_policy(RoleName=role, PolicyName="read-secrets", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [wide, deny]}))
    (denied,) = [r for r in run(moto_aws.context(**opts)) if r.id == "ecs_taskdefs.secret_access"]
    assert denied.status is Status.FAIL and denied.evidence["denied"] == ["JWT_SECRET"]
