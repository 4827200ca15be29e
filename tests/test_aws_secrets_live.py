"""aws_secrets checker against the sandbox's moto: a correct deployment, a broken one, an unusable AWS."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from filot_preflight import manifest as manifest_mod
from filot_preflight.checkers.aws_secrets import AwsSecretsChecker, judge, probe
from filot_preflight.models import Status
from filot_preflight.runner import run_checks
from filot_preflight.sandbox.base import free_port


def run(ctx):
    return asyncio.run(run_checks([AwsSecretsChecker()], ctx, handle_signals=False)).results


def by_target(results, rid):
    return {r.target: r.status for r in results if r.id == rid}


def assert_no_secret_leaks(results, store):
    text = json.dumps([r.model_dump(mode="json") for r in results])
    secret_names = {v.name for v in manifest_mod.load().secrets()}
    for v in store.values:
        plain = v.value.get_secret_value()
        if v.name in secret_names and len(plain) >= 8:
            assert plain not in text, v.name


def test_seeded_sandbox_passes(moto_aws):
    ctx = moto_aws.context()
    res = run(ctx)
    bad = [(r.id, r.target, r.summary) for r in res if r.status not in (Status.PASS, Status.SKIP)]
    assert not bad
    config = next(r for r in res if r.id == "aws_secrets.config")
    n_ids = len({v.aws_secret.id for v in ctx.manifest.variables if v.aws_secret})
    assert config.evidence["calls"] == 1 and config.evidence["secrets"] == n_ids
    exists = next(r for r in res if r.id == "aws_secrets.exists")
    assert exists.status is Status.PASS and exists.evidence["count"] == n_ids
    assert_no_secret_leaks(res, ctx.values)


def test_broken_deployment_gets_one_result_per_problem(moto_aws, scratch_region):
    sm = moto_aws.client("secretsmanager", scratch_region)
    sm.create_secret(Name="filot/prod/jwt-secret", SecretString="j" * 64)
    sm.create_secret(Name="filot/prod/r2", SecretString=json.dumps({"account_id": "a" * 32}))
    sm.create_secret(Name="filot/prod/session-secret")  # no value yet
    sm.create_secret(Name="filot/prod/stack-auth", SecretString="not json at all")
    ctx = moto_aws.context(aws_region=scratch_region)
    res = run(ctx)
    exists = by_target(res, "aws_secrets.exists")
    assert exists["filot/prod/database-url"] is Status.FAIL
    assert exists["filot/prod/buli2"] is Status.FAIL
    assert exists["filot/prod/sentry-dsn"] is Status.SKIP  # optional
    assert "filot/prod/jwt-secret" not in exists
    assert by_target(res, "aws_secrets.current_version") == {"filot/prod/session-secret": Status.FAIL}
    keys = by_target(res, "aws_secrets.json_key")
    assert keys["filot/prod/r2#access_key_id"] is Status.FAIL
    assert keys["filot/prod/r2#secret_access_key"] is Status.FAIL
    assert keys["filot/prod/stack-auth#project_id"] is Status.FAIL
    assert "filot/prod/r2#account_id" not in keys
    for r in res:
        if r.status is Status.FAIL:
            assert r.remediation, r.id
    assert_no_secret_leaks(res, ctx.values)


def test_stale_secret_warns_with_its_age(moto_aws):
    ctx = moto_aws.context()
    facts = probe(ctx)
    later = datetime.now(UTC) + timedelta(days=400)
    res = judge(facts, ctx.manifest.checks.aws, now=later)
    stale = by_target(res, "aws_secrets.rotation")
    assert stale["filot/prod/jwt-secret"] is Status.WARN
    assert "filot/prod/aws-account-id" not in stale  # holds no secret: no rotation expected
    warn = next(r for r in res if r.id == "aws_secrets.rotation" and r.target == "filot/prod/jwt-secret")
    assert warn.evidence["age_days"] >= 400 and "preflight secrets generate JWT_SECRET --put" in warn.remediation


def test_missing_credentials_is_one_failure_not_one_per_secret(moto_aws, clean_aws_env):
    res = run(moto_aws.context(values=moto_aws.values(with_keys=False)))
    assert [(r.id, r.status) for r in res] == [("aws_secrets.config", Status.FAIL)]
    assert "AWS_ACCESS_KEY_ID" in res[0].remediation and res[0].evidence["kind"] == "no_credentials"


def test_unreachable_endpoint_is_one_failure_within_the_budget(moto_aws):
    ctx = moto_aws.context(aws_endpoint=f"https://127.0.0.1:{free_port()}", timeout=2)
    res = run(ctx)
    assert [(r.id, r.status) for r in res] == [("aws_secrets.config", Status.FAIL)]
    assert res[0].evidence["kind"] == "unreachable" and res[0].duration_ms < 3000
