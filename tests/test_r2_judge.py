"""The r2 checker's pure parts: judge tables and CORS origin matching (no I/O)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from filot_preflight.checkers.r2 import AUTH_FAILURES, TLS_FAILURES, UNREACHABLE, CorsRule, R2Facts, judge
from filot_preflight.manifest import R2Settings
from filot_preflight.models import CheckResult, Status

DOCS = Path(__file__).resolve().parents[1] / "docs" / "checks" / "r2.md"
SETTINGS = R2Settings()
ORIGIN = "https://app.filot.example.com"
GOOD_RULE = CorsRule((ORIGIN,), ("GET", "PUT", "HEAD"), ("*",))
KEY = "_preflight/1700000000-0123456789abcdef"
HEALTHY = R2Facts(
    endpoint_var="CF_R2_ACCOUNT_ID", endpoint_shown="https://<CF_R2_ACCOUNT_ID>.r2.cloudflarestorage.com",
    presign_expiry="900", presign_expiry_default="900", app_origin=ORIGIN, bucket="filot-documents-prod",
    reachable=True, bucket_ok=True, skew_s=0.4, canary_key=KEY, put_status=200, get_status=200, get_match=True,
    deleted=True, cors="ok", cors_rules=(GOOD_RULE,), anon_status=403,
)
EMITTED: set[str] = set()


def run(facts: R2Facts) -> dict[str, CheckResult]:
    results = judge(facts, SETTINGS)
    for r in results:
        EMITTED.add(r.id)
        assert r.subsystem == "r2"
        if r.status in (Status.WARN, Status.FAIL, Status.ERROR):
            assert r.remediation, f"{r.id} has no fix"
        for text in (r.summary, r.detail, r.remediation, str(r.evidence)):
            assert "X-Amz-Signature" not in text
    by_id = {r.id: r for r in results}
    assert len(by_id) == len(results), "one result per id"
    return by_id


def statuses(facts: R2Facts) -> dict[str, Status]:
    return {rid: r.status for rid, r in run(facts).items()}


def test_healthy_all_pass() -> None:
    assert statuses(HEALTHY) == {
        "r2.presign_expiry": Status.PASS, "r2.endpoint": Status.PASS, "r2.clock": Status.PASS,
        "r2.bucket": Status.PASS, "r2.canary_put": Status.PASS, "r2.canary_get": Status.PASS,
        "r2.canary_cleanup": Status.PASS, "r2.cors": Status.PASS, "r2.anonymous_list": Status.PASS,
    }


def test_missing_configuration_fails_alone() -> None:
    res = run(R2Facts(missing=("CF_R2_BUCKET", "CF_R2_ACCOUNT_ID")))
    assert list(res) == ["r2.config"]
    assert res["r2.config"].status is Status.FAIL
    assert "CF_R2_ACCOUNT_ID" in res["r2.config"].summary


@pytest.mark.parametrize(
    ("value", "expected"),
    [("900", Status.PASS), (None, Status.PASS), ("86400", Status.PASS), ("86401", Status.WARN),
     ("604800", Status.WARN), ("604801", Status.FAIL), ("0", Status.FAIL), ("-5", Status.FAIL),
     ("15m", Status.FAIL)],
)
def test_presign_expiry(value: str | None, expected: Status) -> None:
    r = run(replace(HEALTHY, presign_expiry=value))["r2.presign_expiry"]
    assert r.status is expected
    assert r.target == "CF_R2_PRESIGN_EXPIRY_SECONDS"


def test_plain_http_endpoint_fails_and_is_not_probed() -> None:
    facts = R2Facts(endpoint_var="CF_R2_ENDPOINT", endpoint_shown="http://r2.example", endpoint_https=False,
                    presign_expiry_default="900", bucket="b")
    assert statuses(facts) == {"r2.endpoint": Status.FAIL, "r2.presign_expiry": Status.PASS}


@pytest.mark.parametrize(
    ("kind", "allow", "expected"),
    [("loopback", False, Status.FAIL), ("private", False, Status.FAIL), ("loopback", True, Status.PASS)],
)
def test_local_endpoint(kind: str, allow: bool, expected: Status) -> None:
    r = run(replace(HEALTHY, host_kind=kind, allow_loopback=allow))["r2.host"]
    assert r.status is expected
    assert r.evidence.get("loopback_allowed", False) is allow


def test_insecure_and_account_mismatch_warn() -> None:
    got = statuses(replace(HEALTHY, insecure=True, endpoint_account_mismatch=True))
    assert got["r2.insecure"] is Status.WARN and got["r2.endpoint_account"] is Status.WARN


@pytest.mark.parametrize("kind", sorted(UNREACHABLE))
def test_unreachable_endpoint(kind: str) -> None:
    facts = replace(HEALTHY, reachable=False, error_kind=kind, error="boom", bucket_ok=None, skew_s=None)
    got = statuses(facts)
    assert got == {"r2.presign_expiry": Status.PASS, "r2.endpoint": Status.FAIL}


@pytest.mark.parametrize("kind", sorted(TLS_FAILURES))
def test_tls_failures(kind: str) -> None:
    facts = replace(HEALTHY, reachable=False, error_kind=kind, bucket_ok=None)
    res = run(facts)
    assert res["r2.tls"].status is Status.FAIL and res["r2.tls"].summary == TLS_FAILURES[kind]
    assert "r2.canary_put" not in res


@pytest.mark.parametrize("code", sorted(AUTH_FAILURES))
def test_bucket_request_errors_have_their_own_ids(code: str) -> None:
    facts = replace(HEALTHY, bucket_ok=False, s3_error=code, error=f"{code}: message")
    res = run(facts)
    rid = AUTH_FAILURES[code][0]
    assert res[rid].status is Status.FAIL
    assert res[rid].evidence["s3_error"] == code
    assert not {"r2.canary_put", "r2.cors", "r2.anonymous_list"} & set(res)


def test_wrong_secret_and_wrong_access_key_are_told_apart() -> None:
    secret = statuses(replace(HEALTHY, bucket_ok=False, s3_error="SignatureDoesNotMatch"))
    access = statuses(replace(HEALTHY, bucket_ok=False, s3_error="InvalidAccessKeyId"))
    assert "r2.secret_key" in secret and "r2.access_key" not in secret
    assert "r2.access_key" in access and "r2.secret_key" not in access


def test_unknown_bucket_error() -> None:
    got = statuses(replace(HEALTHY, bucket_ok=False, s3_error="PermanentRedirect"))
    assert got["r2.bucket"] is Status.FAIL


@pytest.mark.parametrize(
    ("skew", "code", "expected"),
    [(0.4, None, Status.PASS), (-59.0, None, Status.PASS), (61.0, None, Status.WARN), (-600.0, None, Status.WARN),
     (None, None, Status.SKIP), (-1200.0, "RequestTimeTooSkewed", Status.FAIL)],
)
def test_clock(skew: float | None, code: str | None, expected: Status) -> None:
    facts = replace(HEALTHY, skew_s=skew, s3_error=code, bucket_ok=code is None)
    res = run(facts)
    assert res["r2.clock"].status is expected
    if code:
        assert "r2.bucket" not in res  # the skew is the cause; one result says so


def test_canary_put_failure_still_reports_cleanup() -> None:
    facts = replace(HEALTHY, put_status=403, put_error="AccessDenied", get_status=None, get_match=None)
    got = statuses(facts)
    assert got["r2.canary_put"] is Status.FAIL and "r2.canary_get" not in got
    assert got["r2.canary_cleanup"] is Status.PASS


@pytest.mark.parametrize("error", [None, "ReadTimeout: timed out"])
def test_a_timed_out_put_says_it_timed_out_not_a_permission_problem(error: str | None) -> None:
    r = run(replace(HEALTHY, put_status=None, put_error=error, get_status=None, get_match=None))["r2.canary_put"]
    assert r.status is Status.FAIL and "timed out" in r.summary and "None" not in r.summary
    assert "permission" not in r.remediation.lower() and "Object Write" not in r.remediation
    assert "--timeout" in r.remediation


@pytest.mark.parametrize(
    ("status", "match", "error"), [(200, False, None), (403, False, "AccessDenied"), (None, None, "ReadTimeout: x")]
)
def test_canary_get_failures(status: int | None, match: bool | None, error: str | None) -> None:
    r = run(replace(HEALTHY, get_status=status, get_match=match, get_error=error))["r2.canary_get"]
    assert r.status is Status.FAIL


def test_canary_left_behind_names_the_key() -> None:
    r = run(replace(HEALTHY, deleted=False, delete_error="AccessDenied: no delete"))["r2.canary_cleanup"]
    assert r.status is Status.FAIL and KEY in r.remediation
    r = run(replace(HEALTHY, deleted=None, timed_out=True))["r2.canary_cleanup"]
    assert r.status is Status.FAIL and "not confirmed" in r.summary


def test_stale_canaries() -> None:
    assert statuses(replace(HEALTHY, stale_found=2, stale_deleted=2))["r2.canary_stale"] is Status.PASS
    assert "r2.canary_stale" not in statuses(HEALTHY)
    got = statuses(replace(HEALTHY, stale_found=1, stale_error="AccessDenied"))
    assert got["r2.canary_stale"] is Status.WARN


@pytest.mark.parametrize(
    ("rules", "cors", "rid", "expected"),
    [
        ((GOOD_RULE,), "ok", "r2.cors", Status.PASS),
        ((CorsRule(("*",), ("PUT", "GET"), ("content-type",)),), "ok", "r2.cors", Status.PASS),
        ((CorsRule(("https://*.filot.example.com",), ("PUT", "GET"), ("*",)),), "ok", "r2.cors", Status.PASS),
        ((CorsRule(("https://other.example",), ("PUT", "GET"), ("*",)),), "ok", "r2.cors_origin", Status.FAIL),
        ((CorsRule((ORIGIN,), ("GET",), ("*",)),), "ok", "r2.cors", Status.FAIL),
        ((CorsRule((ORIGIN,), ("PUT",), ("*",)),), "ok", "r2.cors", Status.WARN),
        ((CorsRule((ORIGIN,), ("PUT", "GET"), ()),), "ok", "r2.cors", Status.WARN),
        # two rules for the origin together cover what is needed
        ((CorsRule((ORIGIN,), ("PUT",), ("*",)), CorsRule((ORIGIN,), ("GET",), ())), "ok", "r2.cors", Status.PASS),
        ((), "missing", "r2.cors_missing", Status.FAIL),
        ((), "unsupported", "r2.cors", Status.SKIP),
        ((), "error", "r2.cors", Status.FAIL),
        ((), None, "r2.cors", Status.SKIP),
    ],
)
def test_cors(rules: tuple[CorsRule, ...], cors: str | None, rid: str, expected: Status) -> None:
    res = run(replace(HEALTHY, cors=cors, cors_rules=rules, cors_error="NotImplemented: x"))
    assert res[rid].status is expected


def test_cors_without_app_origin_is_a_skip_with_reason() -> None:
    r = run(replace(HEALTHY, app_origin=None))["r2.cors"]
    assert r.status is Status.SKIP and "APP_ORIGIN" in r.summary


@pytest.mark.parametrize(
    ("origin", "pattern", "allowed"),
    [(ORIGIN, ORIGIN, True), (ORIGIN, ORIGIN.upper(), True), (ORIGIN, "*", True),
     (ORIGIN, "https://*.example.com", True), (ORIGIN, "https://*.other.com", False),
     (ORIGIN, "http://app.filot.example.com", False), ("https://x.com", "https://x.com*", True),
     ("https://a.b", "https://*a.b", True), ("https://a.b", "https://a*.a.b", False)],
)
def test_cors_origin_matching(origin: str, pattern: str, allowed: bool) -> None:
    assert CorsRule((pattern,), ("PUT",)).allows_origin(origin) is allowed


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [(403, None, Status.PASS), (401, None, Status.PASS), (400, None, Status.PASS), (200, None, Status.FAIL),
     (404, None, Status.WARN), (None, "ConnectError: x", Status.WARN), (None, None, Status.SKIP)],
)
def test_anonymous_listing(status: int | None, error: str | None, expected: Status) -> None:
    assert run(replace(HEALTHY, anon_status=status, anon_error=error))["r2.anonymous_list"].status is expected


def test_time_limit() -> None:
    assert statuses(replace(HEALTHY, timed_out=True))["r2.incomplete"] is Status.FAIL
    never = replace(HEALTHY, reachable=None, bucket_ok=None, timed_out=True)
    assert statuses(never)["r2.endpoint"] is Status.FAIL


def test_every_emitted_id_is_documented() -> None:
    # Runs last in this module (pytest keeps file order): EMITTED holds every id the tables produced.
    known = {v[0] for v in AUTH_FAILURES.values()}
    documented = set(re.findall(r"^#+\s+`?(r2\.[a-z_]+)`?", DOCS.read_text(), re.M))
    missing = (EMITTED | known) - documented
    assert not missing, f"undocumented ids: {sorted(missing)}"


def test_a_rejected_credential_targets_its_variable_not_the_bucket() -> None:
    secret = run(replace(HEALTHY, bucket_ok=False, s3_error="SignatureDoesNotMatch"))["r2.secret_key"]
    access = run(replace(HEALTHY, bucket_ok=False, s3_error="InvalidAccessKeyId"))["r2.access_key"]
    assert secret.target == "CF_R2_SECRET_ACCESS_KEY" and access.target == "CF_R2_ACCESS_KEY_ID"
