"""aws_source against moto's server: batched reads, per-secret facts, configuration problems, the one write."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import botocore.client
import pytest
from pydantic import SecretStr

from filot_preflight import manifest as manifest_mod
from filot_preflight.errors import UsageError
from filot_preflight.manifest import AwsSecretRef, Manifest, Section, Service, Variable
from filot_preflight.net.secrets_manager import BATCH_SIZE, AwsUnavailable, put_generated, read_secrets
from filot_preflight.sandbox.base import free_port
from tests._timing import within


@pytest.fixture
def api_calls(monkeypatch):
    """Every AWS operation any client makes, counted where botocore sends it (independent of aws_source)."""
    seen: Counter[str] = Counter()
    real = botocore.client.BaseClient._make_api_call

    def counting(self, operation_name, api_params):
        seen[operation_name] += 1
        return real(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return seen


def synthetic_manifest(ids: list[str]) -> Manifest:
    """A manifest with one secret variable per id."""
    return Manifest(
        name="bulk", version="1", services=[Service(name="backend")], sections=[Section(id="s", title="S")],
        variables=[
            Variable(name=f"SECRET_{i}", section="s", description="d", secret=True, aws_secret=AwsSecretRef(id=sid))
            for i, sid in enumerate(ids)
        ],
    )


def test_seeded_secrets_are_read_in_one_batch_with_provenance(moto_aws, api_calls):
    m = manifest_mod.load()
    store = moto_aws.values()
    read = read_secrets(m, moto_aws.options(), store)
    assert read.problem is None
    ids = {v.aws_secret.id for v in m.variables if v.aws_secret}
    assert set(read.facts) == ids and len(ids) <= BATCH_SIZE
    assert api_calls == {"BatchGetSecretValue": 1} and read.calls == 1
    got = {v.name: v for v in read.values}
    for var in m.variables:
        expected = store.get(var.name)
        if var.aws_secret is None or expected is None:
            continue
        assert got[var.name].value.get_secret_value() == expected.value.get_secret_value()
        assert got[var.name].source == "aws"
        suffix = f"#{var.aws_secret.key}" if var.aws_secret.key else ""
        assert got[var.name].origin == f"aws:{var.aws_secret.id}{suffix}"
    r2 = read.facts["filot/prod/r2"]
    assert r2.found and r2.has_current and r2.is_json and r2.created is not None
    assert set(r2.keys) == {"account_id", "access_key_id", "secret_access_key"}
    assert "SecretStr" not in repr(read) and "AwsRead(" in repr(read)


def test_1000_secrets_cost_about_n_over_20_calls(moto_aws, scratch_region, api_calls):
    """1000 ids -> 50 BatchGetSecretValue calls; 900 of them missing adds at most 5 ListSecrets, not 900 calls."""
    sm = moto_aws.client("secretsmanager", scratch_region)
    ids = [f"bulk/{i:04d}" for i in range(1000)]
    stored = ids[::10]  # 100 exist, spread over every batch
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda sid: sm.create_secret(Name=sid, SecretString=json.dumps({"v": sid})), stored))
    api_calls.clear()
    t0 = time.perf_counter()
    # The deadline for new batches is half the --timeout; this test counts calls, so its timeout is generous.
    read = read_secrets(synthetic_manifest(ids), moto_aws.options(aws_region=scratch_region, timeout=60),
                        moto_aws.values())
    elapsed = time.perf_counter() - t0
    assert read.problem is None
    assert api_calls["BatchGetSecretValue"] == 50  # 1000 / 20, never one call per secret
    assert api_calls["ListSecrets"] <= 5 and set(api_calls) <= {"BatchGetSecretValue", "ListSecrets"}
    assert read.calls == sum(api_calls.values())
    assert {sid for sid, f in read.facts.items() if f.has_current} == set(stored)
    assert {sid for sid, f in read.facts.items() if not f.found} == set(ids) - set(stored)
    assert len(read.values) == 100
    print(f"1000 secrets: {dict(api_calls)}, {elapsed:.2f}s")


def test_missing_versionless_and_non_json_secrets_are_facts(moto_aws, scratch_region):
    sm = moto_aws.client("secretsmanager", scratch_region)
    sm.create_secret(Name="t/plain", SecretString="not json")
    sm.create_secret(Name="t/json", SecretString=json.dumps({"a": "1"}))
    sm.create_secret(Name="t/empty")  # exists, but no version holds AWSCURRENT
    m = Manifest(
        name="t", version="1", services=[Service(name="backend")], sections=[Section(id="s", title="S")],
        variables=[
            Variable(name="A", section="s", description="d", secret=True, aws_secret=AwsSecretRef(id="t/json", key="a")),
            Variable(name="B", section="s", description="d", secret=True, aws_secret=AwsSecretRef(id="t/json", key="b")),
            Variable(name="C", section="s", description="d", secret=True, aws_secret=AwsSecretRef(id="t/plain", key="c")),
            Variable(name="D", section="s", description="d", secret=True, aws_secret=AwsSecretRef(id="t/empty")),
            Variable(name="E", section="s", description="d", secret=True, aws_secret=AwsSecretRef(id="t/nothing")),
        ],
    )
    read = read_secrets(m, moto_aws.options(aws_region=scratch_region), moto_aws.values())
    f = read.facts
    assert read.problem is None
    assert f["t/json"].has_key("a") and not f["t/json"].has_key("b")
    assert f["t/plain"].has_current and not f["t/plain"].is_json
    assert f["t/empty"].found and not f["t/empty"].has_current and f["t/empty"].error_code == "NoCurrentVersion"
    assert not f["t/nothing"].found and f["t/nothing"].error_code == "ResourceNotFoundException"
    assert {v.name for v in read.values} == {"A"}


def test_no_credentials_is_a_fact_before_any_call(moto_aws, clean_aws_env, api_calls):
    read = read_secrets(manifest_mod.load(), moto_aws.options(), moto_aws.values(with_keys=False))
    assert read.problem is not None and read.problem.kind == "no_credentials"
    assert "AWS_ACCESS_KEY_ID" in read.problem.remedy
    assert not api_calls and read.calls == 0


def test_no_region_is_a_fact(moto_aws, clean_aws_env):
    values = moto_aws.values()
    values.values = [v for v in values.values if v.name != "AWS_REGION"]
    read = read_secrets(manifest_mod.load(), moto_aws.options(aws_region=None), values)
    assert read.problem is not None and read.problem.kind == "no_region"


def test_unreachable_endpoint_is_a_fact_within_the_timeout(moto_aws):
    t0 = time.perf_counter()
    read = read_secrets(manifest_mod.load(), moto_aws.options(aws_endpoint=f"https://127.0.0.1:{free_port()}",
                                                             timeout=2), moto_aws.values())
    assert read.problem is not None and read.problem.kind == "unreachable"
    within(time.perf_counter() - t0, 2.5, "an unreachable AWS endpoint")  # --timeout 2


def test_untrusted_certificate_is_a_tls_fact(moto_aws, clean_aws_env):
    values = moto_aws.values()
    values.values = [v for v in values.values if v.name != "AWS_CA_BUNDLE"]
    read = read_secrets(manifest_mod.load(), moto_aws.options(ca_file=None), values)
    assert read.problem is not None and read.problem.kind == "tls"
    assert "--ca-file" in read.problem.remedy


def test_env_file_settings_reach_moto_without_flags(moto_aws, clean_aws_env):
    """`preflight check --env-file sandbox.env --source aws`: endpoint, CA bundle and keys from the file."""
    options = moto_aws.options(aws_endpoint=None, aws_region=None, ca_file=None)
    read = read_secrets(manifest_mod.load(), options, moto_aws.values())
    assert read.problem is None and read.credentials == "env-file"
    assert read.endpoint == moto_aws.endpoint and read.region == moto_aws.region
    assert all(f.has_current for f in read.facts.values())


def test_process_env_endpoint_is_honoured_natively(moto_aws, clean_aws_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_aws.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_aws.keys["AWS_ACCESS_KEY_ID"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_aws.keys["AWS_SECRET_ACCESS_KEY"])
    monkeypatch.setenv("AWS_CA_BUNDLE", str(moto_aws.ca_file))
    options = moto_aws.options(aws_endpoint=None, ca_file=None)
    read = read_secrets(manifest_mod.load(), options, moto_aws.values(with_keys=False))
    assert read.problem is None and read.credentials == "env" and read.endpoint == moto_aws.endpoint


# --- put_generated ------------------------------------------------------------------------------


def test_put_creates_then_refuses_to_overwrite(moto_aws, scratch_region):
    m, opts, vals = manifest_mod.load(), moto_aws.options(aws_region=scratch_region), moto_aws.values()
    sm = moto_aws.client("secretsmanager", scratch_region)
    first = put_generated(m, "JWT_SECRET", SecretStr("first-value"), opts, values=vals)
    assert (first.action, first.secret_id, first.key) == ("created", "filot/prod/jwt-secret", None)
    with pytest.raises(UsageError, match="already holds a value; pass --overwrite") as err:
        put_generated(m, "JWT_SECRET", "second-value", opts, values=vals)
    assert "second-value" not in str(err.value) and "first-value" not in str(err.value)
    assert sm.get_secret_value(SecretId="filot/prod/jwt-secret")["SecretString"] == "first-value"
    again = put_generated(m, "JWT_SECRET", "second-value", opts, overwrite=True, values=vals)
    assert again.action == "updated"
    assert sm.get_secret_value(SecretId="filot/prod/jwt-secret")["SecretString"] == "second-value"
    previous = sm.get_secret_value(SecretId="filot/prod/jwt-secret", VersionStage="AWSPREVIOUS")
    assert previous["SecretString"] == "first-value"


def test_put_merges_a_json_key_and_refuses_an_existing_one(moto_aws, scratch_region):
    m, opts, vals = manifest_mod.load(), moto_aws.options(aws_region=scratch_region), moto_aws.values()
    sm = moto_aws.client("secretsmanager", scratch_region)
    sm.create_secret(Name="filot/prod/buli2", SecretString=json.dumps({"api_key": "from-the-team"}))
    res = put_generated(m, "BULI2_SIGNATURE_SECRET", "sig", opts, values=vals)
    assert (res.action, res.key) == ("updated", "signature_secret")
    stored = json.loads(sm.get_secret_value(SecretId="filot/prod/buli2")["SecretString"])
    assert stored == {"api_key": "from-the-team", "signature_secret": "sig"}
    with pytest.raises(UsageError, match="already holds key 'signature_secret'"):
        put_generated(m, "BULI2_SIGNATURE_SECRET", "sig2", opts, values=vals)
    put_generated(m, "BULI2_SIGNATURE_SECRET", "sig2", opts, overwrite=True, values=vals)
    stored = json.loads(sm.get_secret_value(SecretId="filot/prod/buli2")["SecretString"])
    assert stored == {"api_key": "from-the-team", "signature_secret": "sig2"}


def test_put_into_a_secret_without_value_and_into_non_json(moto_aws, scratch_region):
    m, opts, vals = manifest_mod.load(), moto_aws.options(aws_region=scratch_region), moto_aws.values()
    sm = moto_aws.client("secretsmanager", scratch_region)
    sm.create_secret(Name="filot/prod/session-secret")  # exists, no value yet
    assert put_generated(m, "SESSION_SECRET", "s", opts, values=vals).action == "updated"
    sm.create_secret(Name="filot/prod/stack-auth", SecretString="oops, not json")
    with pytest.raises(UsageError, match="not a JSON object"):
        put_generated(m, "STACK_SECRET_SERVER_KEY", "ssk_x", opts, values=vals)


def test_put_rejects_unknown_or_unmapped_variables(moto_aws):
    m = manifest_mod.load()
    with pytest.raises(UsageError, match="not a variable"):
        put_generated(m, "NOPE", "x", moto_aws.options())
    with pytest.raises(UsageError, match="no aws_secret"):
        put_generated(m, "LOG_LEVEL", "x", moto_aws.options())


def test_put_without_credentials_is_one_line_with_the_fix(moto_aws, clean_aws_env):
    with pytest.raises(AwsUnavailable, match="cannot write filot/prod/jwt-secret: .*AWS_ACCESS_KEY_ID"):
        put_generated(manifest_mod.load(), "JWT_SECRET", "x", moto_aws.options(), values=moto_aws.values(with_keys=False))
