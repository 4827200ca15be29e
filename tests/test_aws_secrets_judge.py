"""aws_secrets.judge: pure table tests (no I/O)."""

from datetime import UTC, datetime, timedelta

import pytest

from filot_preflight import manifest
from filot_preflight.checkers.aws_secrets import Facts, SecretRef, judge, refs_of
from filot_preflight.manifest import AwsSettings
from filot_preflight.models import Status
from filot_preflight.net.secrets_manager import AwsProblem, AwsRead, SecretFact

NOW = datetime(2025, 1, 1, tzinfo=UTC)
SETTINGS = AwsSettings(rotation_max_age_days=180)


def ref(var, sid, key=None, required=True, secret=True, generate=True):
    return SecretRef(var, sid, key, required, secret, generate, "From the vendor dashboard.")


def fact(sid, *, keys=None, age_days=10, **kw):
    base = dict(found=True, has_current=True, created=NOW - timedelta(days=age_days))
    if keys is not None:
        base.update(is_json=True, keys=tuple(keys))
    base.update(kw)
    return SecretFact(sid, **base)


def run(refs, facts, problem=None, insecure=False):
    read = AwsRead(facts={f.secret_id: f for f in facts}, calls=1, problem=problem, region="eu-central-1")
    return judge(Facts(read, tuple(refs), insecure), SETTINGS, NOW)


def by_id(results):
    out = {}
    for r in results:
        out.setdefault(r.id, []).append(r)
    return out


JWT = ref("JWT_SECRET", "filot/prod/jwt-secret")
R2_KEY = ref("CF_R2_ACCESS_KEY_ID", "filot/prod/r2", key="access_key_id", generate=False)
R2_SEC = ref("CF_R2_SECRET_ACCESS_KEY", "filot/prod/r2", key="secret_access_key", generate=False)
SENTRY = ref("SENTRY_DSN", "filot/prod/sentry-dsn", required=False, generate=False)
ACCOUNT = ref("AWS_ACCOUNT_ID", "filot/prod/aws-account-id", secret=False, generate=False)


@pytest.mark.parametrize(
    ("refs", "facts", "expect"),
    [
        # everything present and fresh: only passes
        (
            [JWT, R2_KEY, R2_SEC],
            [fact("filot/prod/jwt-secret"), fact("filot/prod/r2", keys=["access_key_id", "secret_access_key"])],
            {"aws_secrets.config": Status.PASS, "aws_secrets.exists": Status.PASS,
             "aws_secrets.json_key": Status.PASS, "aws_secrets.rotation": Status.PASS},
        ),
        # missing required secret
        (
            [JWT],
            [SecretFact("filot/prod/jwt-secret", found=False, error_code="ResourceNotFoundException")],
            {"aws_secrets.config": Status.PASS, "aws_secrets.exists": Status.FAIL},
        ),
        # missing optional secret: a SKIP saying why, not a failure
        (
            [SENTRY],
            [SecretFact("filot/prod/sentry-dsn", found=False, error_code="ResourceNotFoundException")],
            {"aws_secrets.config": Status.PASS, "aws_secrets.exists": Status.SKIP},
        ),
        # exists without a current version
        (
            [JWT],
            [SecretFact("filot/prod/jwt-secret", found=True, error_code="NoCurrentVersion")],
            {"aws_secrets.config": Status.PASS, "aws_secrets.current_version": Status.FAIL},
        ),
        # JSON key missing
        (
            [R2_KEY, R2_SEC],
            [fact("filot/prod/r2", keys=["access_key_id"])],
            {"aws_secrets.config": Status.PASS, "aws_secrets.exists": Status.PASS,
             "aws_secrets.json_key": Status.FAIL, "aws_secrets.rotation": Status.PASS},
        ),
        # stale secret
        (
            [JWT],
            [fact("filot/prod/jwt-secret", age_days=400)],
            {"aws_secrets.config": Status.PASS, "aws_secrets.exists": Status.PASS,
             "aws_secrets.rotation": Status.WARN},
        ),
        # a non-secret value (account id) does not need rotation
        (
            [ACCOUNT],
            [fact("filot/prod/aws-account-id", age_days=4000)],
            {"aws_secrets.config": Status.PASS, "aws_secrets.exists": Status.PASS},
        ),
        # access denied on one secret
        (
            [JWT],
            [SecretFact("filot/prod/jwt-secret", found=True, error_code="AccessDeniedException", error_message="no")],
            {"aws_secrets.config": Status.PASS, "aws_secrets.read": Status.FAIL},
        ),
        # binary value
        (
            [JWT],
            [fact("filot/prod/jwt-secret", binary=True)],
            {"aws_secrets.config": Status.PASS, "aws_secrets.exists": Status.PASS,
             "aws_secrets.binary": Status.WARN, "aws_secrets.rotation": Status.PASS},
        ),
    ],
)
def test_judge_table(refs, facts, expect):
    got = {rid: {r.status for r in rs} for rid, rs in by_id(run(refs, facts)).items()}
    assert got == {k: {v} for k, v in expect.items()}


def test_plain_secret_that_is_not_json_fails_its_key():
    res = by_id(run([R2_KEY], [fact("filot/prod/r2")]))
    (r,) = res["aws_secrets.json_key"]
    assert r.status is Status.FAIL and "not a JSON object" in r.summary
    assert r.target == "filot/prod/r2#access_key_id"


@pytest.mark.parametrize(
    ("kind", "fix"),
    [
        ("no_credentials", "AWS_ACCESS_KEY_ID"),
        ("no_region", "--aws-region"),
        ("unreachable", "AWS_ENDPOINT_URL"),
        ("auth", "refresh"),
        ("access_denied", "BatchGetSecretValue"),
    ],
)
def test_configuration_problem_is_one_failure_with_the_fix(kind, fix):
    refs = [JWT, R2_KEY, R2_SEC, SENTRY]
    res = run(refs, [], problem=AwsProblem(kind, "boom"))
    assert [r.id for r in res] == ["aws_secrets.config"]
    assert res[0].status is Status.FAIL and fix in res[0].remediation
    assert res[0].evidence["secrets"] == 3


def test_insecure_warns():
    res = by_id(run([JWT], [fact("filot/prod/jwt-secret")], insecure=True))
    assert res["aws_secrets.insecure"][0].status is Status.WARN


def test_remediation_names_the_concrete_fix():
    res = by_id(run([JWT, R2_KEY], [SecretFact("filot/prod/jwt-secret", found=False), fact("filot/prod/r2", keys=[])]))
    assert "preflight secrets generate JWT_SECRET --put" in res["aws_secrets.exists"][0].remediation
    key_fix = res["aws_secrets.json_key"][0].remediation
    assert "access_key_id" in key_fix and "aws secretsmanager put-secret-value" in key_fix
    stale = by_id(run([JWT], [fact("filot/prod/jwt-secret", age_days=181)]))["aws_secrets.rotation"][0]
    assert stale.evidence["age_days"] == 181 and stale.evidence["max_age_days"] == 180


def test_every_non_pass_has_a_remediation_or_reason():
    facts = [
        SecretFact("filot/prod/jwt-secret", found=False),
        fact("filot/prod/r2", keys=["x"], age_days=999),
        SecretFact("filot/prod/sentry-dsn", found=True, error_code="NoCurrentVersion"),
    ]
    for r in run([JWT, R2_KEY, R2_SEC, SENTRY], facts):
        if r.status in (Status.FAIL, Status.WARN):
            assert r.remediation
        if r.status is Status.SKIP:
            assert "optional" in r.summary


def test_refs_follow_the_manifest():
    m = manifest.load()
    refs = refs_of(m, present=set())
    ids = {r.secret_id for r in refs}
    assert "filot/prod/r2" in ids and len([r for r in refs if r.secret_id == "filot/prod/r2"]) == 3
    temporal_ns = next(r for r in refs if r.variable == "TEMPORAL_NAMESPACE")
    assert not temporal_ns.required
    assert next(r for r in refs_of(m, {"TEMPORAL_ADDRESS"}) if r.variable == "TEMPORAL_NAMESPACE").required
