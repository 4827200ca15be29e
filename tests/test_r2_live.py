"""The r2 checker against the sandbox's SeaweedFS: an S3 API over HTTPS that really checks SigV4 signatures.

(moto would not do: it accepts any signature, so a wrong secret or a tampered presigned URL would pass.)
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from filot_preflight.checkers.base import CheckContext
from filot_preflight.checkers.r2 import R2Checker
from filot_preflight.checkers.r2 import probe as _r2_probe
from filot_preflight.models import CheckResult, Status
from filot_preflight.net.tls import client_context
from filot_preflight.sandbox.base import SandboxContext
from tests._timing import within

if TYPE_CHECKING:
    from fixtures_r2 import R2Buckets

TIMEOUT = 3.0
FAULT_TIMEOUT = 1.0
ORIGIN = "https://app.preflight-test.example"  # the CORS origin of r2_buckets.ok
PREFIX = "_preflight/"


def text_of(results: list[CheckResult]) -> str:
    return "\n".join(f"{r.id} {r.target} {r.summary} {r.detail} {r.remediation} {r.evidence}" for r in results)


def run(ctx: CheckContext) -> tuple[dict[str, CheckResult], list[CheckResult], float]:
    t0 = time.monotonic()
    results = asyncio.run(R2Checker().run(ctx))
    elapsed = time.monotonic() - t0
    by_id = {r.id: r for r in results}
    assert len(by_id) == len(results), "one result per id"
    for r in results:
        if r.status in (Status.WARN, Status.FAIL, Status.ERROR):
            assert r.remediation, f"{r.id} has no fix"
        assert "X-Amz-Signature" not in text_of([r]) and "X-Amz-Credential" not in text_of([r])
    return by_id, results, elapsed


@pytest.fixture
def r2(r2_buckets: R2Buckets, sandbox_ctx: SandboxContext,
       preflight_ctx: Callable[..., CheckContext]) -> Callable[..., CheckContext]:
    """Context factory: `r2(bucket=..., APP_ORIGIN=..., timeout=..., ...)`; values override the sandbox's."""

    def make(values: dict[str, str] | None = None, **options: Any) -> CheckContext:
        env = {k: v for k, v in r2_buckets.env.items() if k.startswith("CF_R2_")}
        env.update({"CF_R2_BUCKET": r2_buckets.ok, "APP_ORIGIN": ORIGIN, "CF_R2_PRESIGN_EXPIRY_SECONDS": "900"})
        env.update(values or {})
        env = {k: v for k, v in env.items() if v}
        opts = {"timeout": TIMEOUT, "ca_file": sandbox_ctx.certs.ca_pem, "allow_loopback": True, **options}
        return preflight_ctx(env, **opts)

    return make


def test_healthy_bucket_round_trip_and_nothing_left(r2: Callable[..., CheckContext], r2_buckets: R2Buckets) -> None:
    ctx = r2()
    res, results, elapsed = run(ctx)
    assert {r.status for r in results} == {Status.PASS}, [(r.id, r.summary) for r in results]
    assert set(res) == {
        "r2.host", "r2.presign_expiry", "r2.endpoint", "r2.clock", "r2.bucket", "r2.canary_put", "r2.canary_get",
        "r2.canary_cleanup", "r2.cors", "r2.anonymous_list",
    }
    assert str(res["r2.canary_put"].evidence["key"]).startswith(PREFIX)
    assert res["r2.anonymous_list"].evidence["http_status"] == 403
    assert abs(res["r2.clock"].evidence["skew_s"]) < 60  # type: ignore[arg-type]
    assert r2_buckets.keys(r2_buckets.ok, PREFIX) == []
    assert r2_buckets.env["CF_R2_SECRET_ACCESS_KEY"] not in text_of(results)
    within(elapsed, TIMEOUT, "healthy r2")
    # The presigned URLs were taught to the redactor: a minted URL's query is masked wherever it shows up.
    assert ctx.redactor.redact(f"https://h/{PREFIX}?X-Amz-Signature=abcd1234") == f"https://h/{PREFIX}?X-Amz-Signature=***"


def test_tampered_presigned_url_is_rejected_by_the_server(r2_buckets: R2Buckets, sandbox_ctx: SandboxContext) -> None:
    # The property that makes the canary test meaningful: this server checks presigned signatures.
    key = f"{PREFIX}tamper-{uuid.uuid4().hex}"
    r2_buckets.client.put_object(Bucket=r2_buckets.ok, Key=key, Body=b"canary")
    try:
        url = r2_buckets.client.generate_presigned_url("get_object", Params={"Bucket": r2_buckets.ok, "Key": key},
                                                       ExpiresIn=60)
        sig = url.rsplit("X-Amz-Signature=", 1)[1]
        tampered = url.replace(sig, ("0" if sig[0] != "0" else "1") + sig[1:])
        other_key = url.replace(key, key + "x")
        with httpx.Client(verify=client_context([sandbox_ctx.certs.ca_pem]), timeout=5) as http:
            assert http.get(url).content == b"canary"
            for bad in (tampered, other_key):
                r = http.get(bad)
                assert r.status_code == 403 and "SignatureDoesNotMatch" in r.text
            put_url = r2_buckets.client.generate_presigned_url(
                "put_object", Params={"Bucket": r2_buckets.ok, "Key": key}, ExpiresIn=60)
            assert http.put(put_url.replace(key, key + "-evil"), content=b"x").status_code == 403
    finally:
        r2_buckets.client.delete_object(Bucket=r2_buckets.ok, Key=key)
    assert r2_buckets.keys(r2_buckets.ok, PREFIX) == []


def test_wrong_secret_key(r2: Callable[..., CheckContext], r2_buckets: R2Buckets) -> None:
    wrong = "f" * 64
    res, results, _ = run(r2({"CF_R2_SECRET_ACCESS_KEY": wrong}))
    assert res["r2.secret_key"].status is Status.FAIL
    assert res["r2.secret_key"].evidence["s3_error"] == "SignatureDoesNotMatch"
    assert "r2.access_key" not in res and "r2.canary_put" not in res
    assert wrong not in text_of(results)
    assert r2_buckets.keys(r2_buckets.ok, PREFIX) == []


def test_wrong_access_key(r2: Callable[..., CheckContext]) -> None:
    res, _, _ = run(r2({"CF_R2_ACCESS_KEY_ID": "0" * 32}))
    assert res["r2.access_key"].status is Status.FAIL
    assert "r2.secret_key" not in res


def test_missing_bucket(r2: Callable[..., CheckContext]) -> None:
    res, _, _ = run(r2({"CF_R2_BUCKET": f"no-such-bucket-{uuid.uuid4().hex[:8]}"}))
    assert res["r2.bucket"].status is Status.FAIL
    assert res["r2.bucket"].evidence["s3_error"] == "NoSuchBucket"


def test_missing_cors_and_origin_not_allowed(r2: Callable[..., CheckContext], r2_buckets: R2Buckets) -> None:
    res, _, _ = run(r2({"CF_R2_BUCKET": r2_buckets.nocors}))
    assert res["r2.cors_missing"].status is Status.FAIL
    assert res["r2.canary_get"].status is Status.PASS  # the rest of the probe still ran
    res, _, _ = run(r2({"APP_ORIGIN": "https://evil.example"}))
    assert res["r2.cors_origin"].status is Status.FAIL
    assert r2_buckets.keys(r2_buckets.nocors, PREFIX) == [] and r2_buckets.keys(r2_buckets.ok, PREFIX) == []


def test_stale_canary_of_a_killed_run_is_removed(r2: Callable[..., CheckContext], r2_buckets: R2Buckets) -> None:
    # A run killed between PUT and DELETE left its canary; its key carries its (old) creation time and the
    # canary metadata. Only such objects are removed.
    now = int(time.time())
    meta = {"Metadata": {"preflight": "canary"}}
    stale = f"{PREFIX}preflight-canary-{now - 7200}-{uuid.uuid4().hex}"
    fresh = f"{PREFIX}preflight-canary-{now}-{uuid.uuid4().hex}"  # another run's canary, in flight: keep it
    outside = f"documents/preflight-canary-{now - 7200}-{uuid.uuid4().hex}"  # not under the prefix: never touched
    for key in (stale, fresh, outside):
        r2_buckets.client.put_object(Bucket=r2_buckets.ok, Key=key, Body=b"left behind", **meta)
    try:
        res, _, _ = run(r2())
        assert res["r2.canary_stale"].status is Status.PASS
        assert res["r2.canary_stale"].evidence == {"found": 1, "deleted": 1}
        assert r2_buckets.keys(r2_buckets.ok, PREFIX) == [fresh]
        assert r2_buckets.keys(r2_buckets.ok, "documents/") == [outside]
    finally:
        for key in (fresh, outside):
            r2_buckets.client.delete_object(Bucket=r2_buckets.ok, Key=key)


def test_a_custom_prefix_never_deletes_real_documents(r2: Callable[..., CheckContext],
                                                      r2_buckets: R2Buckets) -> None:
    # Issue 14 item 5: with `canary_prefix: docs/`, keys starting with digits (and old objects) were deleted as
    # "stale canaries". Now: only keys with the marker and random id, and only with the canary metadata.
    now = int(time.time())
    docs = ["docs/1700000000-invoice.pdf", "docs/2024-contract.pdf",
            f"docs/preflight-canary-{now - 7200}-{uuid.uuid4().hex}"]  # named like one, without our metadata
    for key in docs:
        r2_buckets.client.put_object(Bucket=r2_buckets.ok, Key=key, Body=b"a real document")
    ctx = r2()
    custom = ctx.manifest.model_copy(update={"checks": ctx.manifest.checks.model_copy(update={
        "r2": ctx.manifest.checks.r2.model_copy(update={"canary_prefix": "docs/"})})})
    try:
        res, _, _ = run(dataclasses.replace(ctx, manifest=custom))
        assert res["r2.canary_cleanup"].status is Status.PASS
        assert sorted(r2_buckets.keys(r2_buckets.ok, "docs/")) == sorted(docs)
        assert "preflight-canary-" in str(res["r2.canary_put"].evidence["key"])
    finally:
        for key in docs:
            r2_buckets.client.delete_object(Bucket=r2_buckets.ok, Key=key)


def test_canary_is_deleted_when_a_step_fails(r2: Callable[..., CheckContext], r2_buckets: R2Buckets,
                                             sandbox_ctx: SandboxContext) -> None:
    # The network drops after the upload: the GET fails, the canary must still be deleted (finally).
    def drop_get(request: httpx.Request) -> None:
        if request.method == "GET":
            raise httpx.ConnectError("simulated network drop", request=request)

    ctx = r2()
    creds = (r2_buckets.env["CF_R2_ACCESS_KEY_ID"], r2_buckets.env["CF_R2_SECRET_ACCESS_KEY"])
    bundle = _r2_probe.ca_bundle(sandbox_ctx.certs.ca_pem)  # the probe's own client and trust
    client = _r2_probe.s3_client(r2_buckets.env["CF_R2_ENDPOINT"], creds, ctx.options, bundle)
    rec: dict[str, Any] = {}
    verify = client_context([sandbox_ctx.certs.ca_pem])
    try:
        with httpx.Client(verify=verify, timeout=5, event_hooks={"request": [drop_get]}) as http:
            _r2_probe._canary(client, http, r2_buckets.ok, ctx.manifest.checks.r2, ctx.redactor, rec)
    finally:
        os.unlink(bundle)
    assert rec["put_status"] == 200
    assert "simulated network drop" in rec["get_error"]
    assert rec["deleted"] is True
    assert r2_buckets.keys(r2_buckets.ok, PREFIX) == []


def test_endpoint_refused(r2: Callable[..., CheckContext], closed_port: int) -> None:
    res, _, elapsed = run(r2({"CF_R2_ENDPOINT": f"https://127.0.0.1:{closed_port}"}, timeout=FAULT_TIMEOUT))
    assert res["r2.endpoint"].status is Status.FAIL
    assert res["r2.endpoint"].evidence["error_kind"] == "refused"
    within(elapsed, FAULT_TIMEOUT + 0.5, "r2 refused")


def test_silent_endpoint_within_the_bound(r2: Callable[..., CheckContext], silent_port: int) -> None:
    res, _, elapsed = run(r2({"CF_R2_ENDPOINT": f"https://127.0.0.1:{silent_port}"}, timeout=FAULT_TIMEOUT))
    assert res["r2.endpoint"].status is Status.FAIL
    within(elapsed, FAULT_TIMEOUT + 0.5, "a silent host")  # the checker's budget, --timeout


def test_unknown_ca(r2: Callable[..., CheckContext]) -> None:
    res, _, _ = run(r2(ca_file=None))
    assert res["r2.tls"].status is Status.FAIL
    assert res["r2.tls"].evidence["error_kind"] == "tls_ca"


def test_presign_expiry_beyond_seven_days(r2: Callable[..., CheckContext]) -> None:
    res, _, _ = run(r2({"CF_R2_PRESIGN_EXPIRY_SECONDS": "604801"}))
    assert res["r2.presign_expiry"].status is Status.FAIL
    assert res["r2.canary_get"].status is Status.PASS


def test_endpoint_from_account_id_hides_the_account(r2: Callable[..., CheckContext]) -> None:
    account = "0123456789abcdef0123456789abcdef"
    res, results, _ = run(r2({"CF_R2_ENDPOINT": "", "CF_R2_ACCOUNT_ID": account}, timeout=FAULT_TIMEOUT))
    assert res["r2.endpoint"].target == "CF_R2_ACCOUNT_ID"
    assert res["r2.endpoint"].evidence["endpoint"] == "https://<CF_R2_ACCOUNT_ID>.r2.cloudflarestorage.com"
    assert account not in text_of(results)


def test_missing_ca_file_is_a_finding_not_a_crash(r2: Callable[..., CheckContext], tmp_path: Path) -> None:
    res, _, _ = run(r2(ca_file=tmp_path / "missing-ca.pem"))
    assert res["r2.endpoint"].status is Status.FAIL
    assert res["r2.endpoint"].evidence["error_kind"] == "client"
