"""valueFrom as ECS reads it (pure): pinned versions, partitions, field counts, lookalike names, real ARNs."""

from __future__ import annotations

import pytest

from filot_preflight import manifest
from filot_preflight.checkers.ecs_taskdefs import Facts, expectations, judge, judge_taskdef, parse_taskdef
from filot_preflight.checkers.ecs_taskdefs.arns import parse_arn, partition_of
from filot_preflight.models import Status
from tests.test_ecs_taskdefs_judge import ACCOUNT, EXPECT, REGION, _set_secret, ctx, good_taskdef, mutate, only

BASE = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret"


def refs(change, expect=EXPECT, real=None):
    td = parse_taskdef("td.json", mutate(good_taskdef(), change), set())
    return only(judge_taskdef(td, expect, real), "ecs_taskdefs.secret_ref")


def test_parse_all_ten_fields() -> None:
    a = parse_arn(f"{BASE}:filot/prod/r2-AbC123:secret_access_key:AWSPREVIOUS:")
    assert a is not None and (a.name, a.key, a.stage, a.version_id, a.fields) == (
        "filot/prod/r2-AbC123", "secret_access_key", "AWSPREVIOUS", "", 10)
    b = parse_arn(f"{BASE}:filot/prod/jwt-secret-AbC123:::0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0")
    assert b is not None and b.version_id.startswith("0b1c") and not b.malformed
    assert parse_arn(f"{BASE}:filot/prod/jwt-secret-AbC123:value").malformed  # 8 fields: ECS refuses it
    assert partition_of("cn-north-1") == "aws-cn" and partition_of("eu-central-1") == "aws"
    assert partition_of("us-gov-west-1") == "aws-us-gov"


@pytest.mark.parametrize(("var", "value_from", "needle"), [
    ("CF_R2_SECRET_ACCESS_KEY", f"{BASE}:filot/prod/r2-AbC123:secret_access_key:AWSPREVIOUS:", "version stage AWSPREVIOUS"),
    ("JWT_SECRET", f"{BASE}:filot/prod/jwt-secret-AbC123:::0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", "version id 0b1c"),
    ("JWT_SECRET", f"arn:aws-cn:secretsmanager:{REGION}:{ACCOUNT}:secret:filot/prod/jwt-secret-AbC123",
     "partition aws-cn"),
    ("JWT_SECRET", f"{BASE}:filot/prod/jwt-secret-AbC123:value", "ECS takes 7"),
])
def test_reference_fails(var: str, value_from: str, needle: str) -> None:
    (r,) = refs(_set_secret(var, value_from))
    assert r.status is Status.FAIL and needle in r.summary, r.summary
    assert r.remediation


def test_pinned_on_purpose_passes() -> None:
    m = manifest.load()
    variables = [v.model_copy(update={"aws_secret": v.aws_secret.model_copy(update={"pinned": True})})
                 if v.name == "JWT_SECRET" and v.aws_secret else v for v in m.variables]
    pinned = m.model_copy(update={"variables": variables})
    c = ctx()
    c.manifest = pinned
    expect = expectations(c)
    assert "JWT_SECRET" in expect.pinned
    assert refs(_set_secret("JWT_SECRET", f"{BASE}:filot/prod/jwt-secret-AbC123::AWSPENDING:"), expect) == []


def test_real_arn_decides_and_is_the_fix() -> None:
    real = {"filot/prod/jwt-secret": f"{BASE}:filot/prod/jwt-secret-Zz9Yy8"}
    (stale,) = refs(lambda td: None, real=real)  # good_taskdef uses suffix AbC123: stale once compared
    assert "a stale suffix" in stale.summary and stale.target.endswith("/JWT_SECRET")
    assert f"{BASE}:filot/prod/jwt-secret-Zz9Yy8" in stale.remediation
    (look,) = refs(_set_secret("JWT_SECRET", f"{BASE}:filot/prod/jwt-secret-backup"), real=real)
    assert look.status is Status.FAIL and "filot/prod/jwt-secret-Zz9Yy8" in look.remediation
    assert refs(_set_secret("JWT_SECRET", real["filot/prod/jwt-secret"]), real=real) == []
    assert refs(_set_secret("JWT_SECRET", f"{BASE}:filot/prod/jwt-secret"), real=real) == []  # partial ARN


def test_offline_a_lookalike_cannot_be_told_from_a_suffix() -> None:
    # '-backup' is six characters, as valid a random suffix as '-msaori' (a real one moto made): only the ARN
    # Secrets Manager returns can tell them apart, so offline the reference is not failed, and secret_arns says why.
    assert refs(_set_secret("JWT_SECRET", f"{BASE}:filot/prod/jwt-secret-backup")) == []


def test_arn_comparison_is_reported() -> None:
    td = parse_taskdef("td.json", good_taskdef(), set())
    (skip,) = only(judge(Facts(EXPECT, "files", (td,))), "ecs_taskdefs.secret_arns")
    assert skip.status is Status.SKIP and "--offline" in skip.summary and "secretsmanager:ListSecrets" in skip.remediation
    gone = Facts(EXPECT, "live", (td,), arns_unchecked="", absent_secrets={"filot/prod/jwt-secret": "NotFound"})
    (fail,) = only(judge(gone), "ecs_taskdefs.secret_arns")
    assert fail.status is Status.FAIL and "filot/prod/jwt-secret" in fail.summary
