"""ecs_taskdefs: ARN parsing and the pure judge (table tests, no I/O); the samples here are shared."""

import copy
from typing import Any

import pytest
from pydantic import SecretStr

from filot_preflight import manifest
from filot_preflight.checkers.base import CheckContext, Options
from filot_preflight.checkers.ecs_taskdefs import (
    Facts,
    expectations,
    judge,
    judge_taskdef,
    parse_arn,
    parse_taskdef,
    resolve_secret_id,
)
from filot_preflight.models import Status
from filot_preflight.redact import Redactor
from filot_preflight.sources import Value, ValueStore

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "999988887777"
REGION = "eu-central-1"
FAMILIES = {"backend": "filot-backend", "gpu-worker": "filot-gpu-worker"}
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/filot-api@sha256:" + "ab" * 32


def arn(secret_id: str, key: str | None = None, *, account: str = ACCOUNT, region: str = REGION) -> str:
    """A Secrets Manager ARN as ECS wants it, with the random 6-character suffix."""
    tail = f":{key}::" if key else ""
    return f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_id}-AbC123{tail}"


def good_taskdef(service: str = "backend", account: str = ACCOUNT) -> dict[str, Any]:
    """A register-task-definition input that passes every rule for `service`."""
    m = manifest.load()
    secrets = [
        {"name": v.name, "valueFrom": arn(v.aws_secret.id, v.aws_secret.key, account=account)}
        for v in m.consumed_by(service)
        if v.secret and v.required and v.aws_secret
    ]
    env = [{"name": "NODE_ENV", "value": "production"}, {"name": "AWS_ACCOUNT_ID", "value": account},
           {"name": "OCR_QUEUE_KEY", "value": "filot:ocr:jobs"}]
    return {
        "family": FAMILIES[service],
        "executionRoleArn": f"arn:aws:iam::{account}:role/filot-ecs-execution",
        "taskRoleArn": f"arn:aws:iam::{account}:role/{FAMILIES[service]}-task",
        "containerDefinitions": [
            {"name": service, "image": IMAGE, "essential": True, "secrets": secrets, "environment": env}
        ],
    }


def mutate(td: dict[str, Any], fn: Any) -> dict[str, Any]:
    """A deep copy of `td` changed by `fn(copy)`."""
    out = copy.deepcopy(td)
    fn(out)
    return out


def ctx(options: Options | None = None, values: dict[str, str] | None = None) -> CheckContext:
    """A CheckContext with the FiLot manifest and AWS_ACCOUNT_ID / AWS_REGION values."""
    vals = {"AWS_ACCOUNT_ID": ACCOUNT, "AWS_REGION": REGION} if values is None else values
    store = ValueStore([Value(k, SecretStr(v), "file", f"test.env:{i}") for i, (k, v) in enumerate(vals.items())])
    return CheckContext(manifest.load(), store, options or Options(), Redactor())

EXPECT = expectations(ctx())


def results_for(td, secret_values=frozenset(), expect=EXPECT):
    return judge_taskdef(parse_taskdef("td.json", td, set(secret_values)), expect)


def statuses(results):
    out = {}
    for r in results:
        out.setdefault(r.id, set()).add(r.status)
    return out


def only(results, rid):
    return [r for r in results if r.id == rid]


@pytest.mark.parametrize("service", ["backend", "gpu-worker"])
def test_good_taskdef_passes_everything(service):
    res = results_for(good_taskdef(service))
    assert all(r.status is Status.PASS for r in res), [(r.id, r.summary) for r in res if r.status is not Status.PASS]
    assert set(statuses(res)) == {
        "ecs_taskdefs.execution_role", "ecs_taskdefs.image", "ecs_taskdefs.plain_env",
        "ecs_taskdefs.secrets", "ecs_taskdefs.account",
    }


def _set_secret(name, value_from):
    def fn(td):
        for s in td["containerDefinitions"][0]["secrets"]:
            if s["name"] == name:
                s["valueFrom"] = value_from
    return fn


def _drop_secret(name):
    def fn(td):
        c = td["containerDefinitions"][0]
        c["secrets"] = [s for s in c["secrets"] if s["name"] != name]
    return fn


def _add_env(name, value="x"):
    def fn(td):
        td["containerDefinitions"][0]["environment"].append({"name": name, "value": value})
    return fn


def _image(image):
    def fn(td):
        td["containerDefinitions"][0]["image"] = image
    return fn


def _no_role(td):
    del td["executionRoleArn"]


@pytest.mark.parametrize(
    ("change", "rid", "status", "needle"),
    [
        (_drop_secret("JWT_SECRET"), "ecs_taskdefs.secrets", Status.FAIL, "JWT_SECRET"),
        (_set_secret("JWT_SECRET", arn("filot/prod/session-secret")), "ecs_taskdefs.secret_ref", Status.FAIL,
         "expected filot/prod/jwt-secret"),
        (_set_secret("CF_R2_ACCESS_KEY_ID", arn("filot/prod/r2", "secret_access_key")), "ecs_taskdefs.secret_ref",
         Status.FAIL, "expected 'access_key_id'"),
        (_set_secret("CF_R2_ACCESS_KEY_ID", arn("filot/prod/r2")), "ecs_taskdefs.secret_ref", Status.FAIL,
         "whole JSON"),
        (_set_secret("JWT_SECRET", arn("filot/prod/jwt-secret", "value")), "ecs_taskdefs.secret_ref", Status.FAIL,
         "plain secret"),
        (_set_secret("JWT_SECRET", arn("filot/prod/jwt-secret", region="us-east-1")), "ecs_taskdefs.secret_ref",
         Status.FAIL, "region us-east-1, expected eu-central-1"),
        (_set_secret("JWT_SECRET", "filot/prod/jwt-secret"), "ecs_taskdefs.secret_ref", Status.FAIL, "bare name"),
        (_set_secret("JWT_SECRET", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/filot/jwt"), "ecs_taskdefs.secret_ref",
         Status.FAIL, "ssm ARN"),
        (_set_secret("JWT_SECRET", arn("filot/prod/jwt-secret", account=OTHER_ACCOUNT)), "ecs_taskdefs.account",
         Status.FAIL, f"references account {OTHER_ACCOUNT}, expected {ACCOUNT}"),
        (_add_env("JWT_SECRET"), "ecs_taskdefs.plain_env", Status.FAIL, "JWT_SECRET"),
        (_add_env("STRIPE_API_KEY"), "ecs_taskdefs.plain_env", Status.FAIL, "STRIPE_API_KEY"),
        (_image("filot/api:latest"), "ecs_taskdefs.image", Status.FAIL, ":latest"),
        (_image("filot/api"), "ecs_taskdefs.image", Status.FAIL, "no tag"),
        (_image("registry:5000/filot/api"), "ecs_taskdefs.image", Status.FAIL, "no tag"),
        (_image("filot/api:1.4.2"), "ecs_taskdefs.image", Status.PASS, "0/1 by digest"),
        (_no_role, "ecs_taskdefs.execution_role", Status.FAIL, "no executionRoleArn"),
    ],
)
def test_rule_table(change, rid, status, needle):
    res = only(results_for(mutate(good_taskdef(), change)), rid)
    assert [r.status for r in res] == [status]
    assert needle in res[0].summary
    if status is not Status.PASS:
        assert res[0].remediation


def test_wrong_account_in_execution_role_names_expected_and_found():
    td = mutate(good_taskdef("gpu-worker"),
                lambda t: t.update(executionRoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/x"))
    (r,) = only(results_for(td), "ecs_taskdefs.account")
    assert r.status is Status.FAIL
    assert r.evidence["expected"] == ACCOUNT and r.evidence["found"] == [OTHER_ACCOUNT]
    assert r.evidence["in"] == ["executionRoleArn"]
    assert ACCOUNT in r.remediation and OTHER_ACCOUNT in r.remediation


def test_account_unknown_is_a_skip_with_reason():
    expect = expectations(ctx(values={"AWS_REGION": REGION}))
    (r,) = only(results_for(good_taskdef(), expect=expect), "ecs_taskdefs.account")
    assert r.status is Status.SKIP and "AWS_ACCOUNT_ID not set" in r.summary


def test_env_value_equal_to_a_known_secret_is_caught_under_any_name():
    td = mutate(good_taskdef(), _add_env("HARMLESS_LOOKING", "s3cr3t-value-123"))
    (r,) = only(results_for(td, {"s3cr3t-value-123"}), "ecs_taskdefs.plain_env")
    assert r.status is Status.FAIL and r.evidence["variables"] == ["HARMLESS_LOOKING"]
    assert "s3cr3t" not in str(r.model_dump())


def test_manifest_non_secrets_ending_in_key_are_not_flagged():
    (r,) = only(results_for(good_taskdef()), "ecs_taskdefs.plain_env")  # OCR_QUEUE_KEY is in environment
    assert r.status is Status.PASS


def test_optional_secret_may_be_absent_but_must_be_right_when_present():
    td = mutate(good_taskdef(), lambda t: t["containerDefinitions"][0]["secrets"].append(
        {"name": "SENTRY_DSN", "valueFrom": arn("filot/prod/sentry-dsn", account=ACCOUNT, region="us-west-2")}))
    res = results_for(td)
    assert statuses(only(res, "ecs_taskdefs.secrets")) == {"ecs_taskdefs.secrets": {Status.PASS}}
    assert [r.status for r in only(res, "ecs_taskdefs.secret_ref")] == [Status.FAIL]


def test_unknown_family_warns_but_still_checks_generic_rules():
    td = mutate(good_taskdef(), lambda t: (t.update(family="something-else"),
                                           t["containerDefinitions"][0].update(name="app", image="x:latest")))
    st = statuses(results_for(td))
    assert st["ecs_taskdefs.family"] == {Status.WARN}
    assert st["ecs_taskdefs.image"] == {Status.FAIL}
    assert "ecs_taskdefs.secrets" not in st


@pytest.mark.parametrize(
    ("value", "service", "account", "region", "name", "key"),
    [
        (arn("filot/prod/r2", "account_id"), "secretsmanager", ACCOUNT, REGION, "filot/prod/r2-AbC123", "account_id"),
        ("arn:aws:secretsmanager:eu-west-1:111122223333:secret:a/b-xYz789", "secretsmanager", "111122223333",
         "eu-west-1", "a/b-xYz789", ""),
        ("arn:aws:secretsmanager:eu-west-1:111122223333:secret:a/b:k:AWSPREVIOUS:", "secretsmanager",
         "111122223333", "eu-west-1", "a/b", "k"),
        ("arn:aws-cn:ssm:cn-north-1:111122223333:parameter/x", "ssm", "111122223333", "cn-north-1",
         "parameter/x", ""),
    ],
)
def test_parse_arn(value, service, account, region, name, key):
    a = parse_arn(value)
    assert (a.service, a.account, a.region, a.name, a.key) == (service, account, region, name, key)


@pytest.mark.parametrize("value", ["", "filot/prod/jwt-secret", "arn:aws:secretsmanager:x", "ARN:aws:a:b:c:d"])
def test_parse_arn_rejects_non_arns(value):
    assert parse_arn(value) is None


@pytest.mark.parametrize(
    ("name", "resolved"),
    [
        ("filot/prod/database-url", "filot/prod/database-url"),
        ("filot/prod/database-url-AbC123", "filot/prod/database-url"),
        # ends like a suffix ("-direct" is 6 letters) but is its own manifest id: exact match wins
        ("filot/prod/database-url-direct", "filot/prod/database-url-direct"),
        ("filot/prod/database-url-direct-Zz9Zz9", "filot/prod/database-url-direct"),
        ("filot/prod/unknown-AbC123", "filot/prod/unknown-AbC123"),
    ],
)
def test_resolve_secret_id_tolerates_the_random_suffix(name, resolved):
    assert resolve_secret_id(name, EXPECT.secret_ids) == resolved


def test_database_url_pointing_at_the_direct_secret_is_caught():
    td = mutate(good_taskdef(), _set_secret("DATABASE_URL", arn("filot/prod/database-url-direct")))
    (r,) = only(results_for(td), "ecs_taskdefs.secret_ref")
    assert "points to secret filot/prod/database-url-direct" in r.summary


def test_judge_without_source_skips_with_reason():
    (r,) = judge(Facts(EXPECT, "none", skip_reason="--offline and no --task-def file given"))
    assert r.id == "ecs_taskdefs.source" and r.status is Status.SKIP and "--offline" in r.summary
    assert "--task-def" in r.remediation


def test_files_mode_reports_unchecked_families_as_skips():
    td = parse_taskdef("b.json", good_taskdef(), set())
    res = judge(Facts(EXPECT, "files", (td,), (("filot-gpu-worker", "no --task-def file for this family"),)))
    fam = only(res, "ecs_taskdefs.family")
    assert [r.status for r in fam] == [Status.SKIP] and fam[0].target == "filot-gpu-worker"


def test_live_mode_missing_family_fails():
    res = judge(Facts(EXPECT, "live", (), (("filot-backend", "ClientException: Unable to describe"),)))
    assert [r.status for r in only(res, "ecs_taskdefs.family")] == [Status.FAIL]


def test_only_aws_account_id_wrong_and_every_arn_agreeing_fixes_the_variable_not_the_arns():
    # the task definition names OTHER_ACCOUNT everywhere; AWS_ACCOUNT_ID says ACCOUNT
    (r,) = only(results_for(good_taskdef(account=OTHER_ACCOUNT)), "ecs_taskdefs.account")
    assert r.status is Status.FAIL and r.target == "AWS_ACCOUNT_ID"
    assert r.remediation.startswith(f"Set AWS_ACCOUNT_ID to {OTHER_ACCOUNT}")
    assert "all" in r.summary and f"AWS_ACCOUNT_ID is {ACCOUNT}" in r.summary


def test_every_arn_agreeing_on_the_wrong_account_fixes_the_arns_when_secrets_manager_says_so():
    """The secrets' real ARNs (from Secrets Manager) are in AWS_ACCOUNT_ID's account: the 25 ARNs are the wrong side."""
    td = parse_taskdef("td.json", good_taskdef(account=OTHER_ACCOUNT), set())
    real = {"filot/prod/jwt-secret": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:filot/prod/jwt-secret-AbCdEf"}
    (r,) = only(judge_taskdef(td, EXPECT, real), "ecs_taskdefs.account")
    assert r.status is Status.FAIL and r.target == td.family
    assert r.remediation.startswith(f"Replace account {OTHER_ACCOUNT} with {ACCOUNT}")
    # ...and where they are in the other account, the variable is
    real = {k: v.replace(f":{ACCOUNT}:", f":{OTHER_ACCOUNT}:") for k, v in real.items()}
    (r,) = only(judge_taskdef(td, EXPECT, real), "ecs_taskdefs.account")
    assert r.target == "AWS_ACCOUNT_ID"
