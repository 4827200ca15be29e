"""The buli2 checker against real HTTPS apps on loopback: the sandbox BULI2 and backend, and fault apps."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from filot_preflight.checkers.base import CheckContext
from filot_preflight.checkers.buli2 import Buli2Checker
from filot_preflight.models import CheckResult, Status
from tests._timing import within

if TYPE_CHECKING:
    from fixtures_http_faults import HttpFaults

TIMEOUT = 3.0  # healthy paths never wait for it
SHORT = 0.8  # for servers that never answer: the tests wait this long
Ctx = Callable[..., CheckContext]
CALLBACK_PATH = "/api/webhooks/buli2"


def run(ctx: CheckContext, faults: HttpFaults) -> tuple[dict[str, CheckResult], float]:
    t0 = time.monotonic()
    results = asyncio.run(Buli2Checker().run(ctx))
    elapsed = time.monotonic() - t0
    by_id = {r.id: r for r in results}
    assert len(by_id) == len(results), "one result per id"
    for r in results:
        assert r.status == Status.PASS or r.remediation, f"{r.id} ({r.status}) has no fix"
    assert_no_secrets(results, faults)
    return by_id, elapsed


def assert_no_secrets(results: list[CheckResult], faults: HttpFaults) -> None:
    """No API key, signature secret or computed HMAC (64 hex digits) anywhere in any result."""
    text = json.dumps([r.model_dump(mode="json") for r in results])
    assert faults.api_key not in text
    assert faults.signature_secret not in text
    assert not re.search(r"[0-9a-fA-F]{64}", text), "a computed signature leaked"


def check(faults: HttpFaults, http_ctx: Ctx, env: dict[str, str] | None = None, **opts: object) -> tuple[
    dict[str, CheckResult], float
]:
    options: dict[str, object] = {"timeout": TIMEOUT, "ca_file": faults.ca_pem, "allow_loopback": True} | opts
    return run(http_ctx(faults.buli2_env(**(env or {})), **options), faults)


def statuses(got: dict[str, CheckResult]) -> dict[str, Status]:
    return {k: r.status for k, r in got.items()}


def test_sandbox_apps_pass_and_signed_callback_is_skipped(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults, http_ctx)
    assert statuses(got) == {
        "buli2.api_url": Status.PASS,
        "buli2.api_key": Status.PASS,
        "buli2.auth_enforced": Status.PASS,
        "buli2.callback_url": Status.PASS,
        "buli2.signature_scheme": Status.PASS,
        "buli2.callback_unsigned": Status.PASS,
        "buli2.callback_tampered": Status.PASS,
        "buli2.callback_signed": Status.SKIP,
    }
    assert "--send-signed-callback" in got["buli2.callback_signed"].summary
    assert got["buli2.auth_enforced"].evidence["status"] == 401
    assert got["buli2.callback_tampered"].evidence["status"] == 401
    assert got["buli2.callback_url"].evidence["addresses"] == ["127.0.0.1"]


def test_signed_callback_is_sent_only_with_the_flag_and_accepted(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    open_cb = http_faults.open_app.url(CALLBACK_PATH)
    before = len(http_faults.open_app.posts)
    check(http_faults, http_ctx, {"BULI2_CALLBACK_URL": open_cb})
    sent = [json.loads(b) for b in http_faults.open_app.posts[before:]]
    assert len(sent) == 2 and all(d["preflight_probe"] is True for d in sent)  # unsigned + tampered only
    got, _ = check(http_faults, http_ctx, send_signed_callback=True)
    assert got["buli2.callback_signed"].status == Status.PASS
    assert got["buli2.callback_signed"].evidence["status"] == 200


def test_loopback_callback_fails_in_production(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults, http_ctx, allow_loopback=False)
    assert got["buli2.callback_url"].status == Status.FAIL
    assert "loopback" in got["buli2.callback_url"].summary
    assert got["buli2.api_url"].status == Status.FAIL


def test_wrong_api_key(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults, http_ctx, {"BULI2_API_KEY": "wrong-key-" + "x" * 30})
    key = got["buli2.api_key"]
    assert key.status == Status.FAIL and key.evidence["status"] == 401
    assert "production key" in key.remediation and key.target == "BULI2_API_KEY"
    assert got["buli2.auth_enforced"].status == Status.PASS


def test_auth_not_enforced_is_detected(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults, http_ctx, {"BULI2_API_URL": http_faults.open_app.url()})
    assert got["buli2.auth_enforced"].status == Status.FAIL
    assert got["buli2.api_key"].status == Status.WARN


def test_webhook_with_verification_disabled_is_detected(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults, http_ctx, {"BULI2_CALLBACK_URL": http_faults.open_app.url(CALLBACK_PATH)})
    for rid in ("buli2.callback_unsigned", "buli2.callback_tampered"):
        assert got[rid].status == Status.FAIL, rid
        assert "signature verification is off" in got[rid].summary
        assert got[rid].evidence["status"] == 200


def test_backend_with_another_secret_refuses_the_signed_callback(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    cb = f"{http_faults.other_secret_backend_url}{CALLBACK_PATH}"
    got, _ = check(http_faults, http_ctx, {"BULI2_CALLBACK_URL": cb}, send_signed_callback=True)
    assert got["buli2.callback_unsigned"].status == Status.PASS
    assert got["buli2.callback_tampered"].status == Status.PASS
    signed = got["buli2.callback_signed"]
    assert signed.status == Status.FAIL and "REFUSED a correctly signed" in signed.summary


def test_wrong_callback_route(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults, http_ctx, {"BULI2_CALLBACK_URL": f"{http_faults.backend_url}/webhooks/other"})
    assert got["buli2.callback_unsigned"].status == Status.FAIL
    assert got["buli2.callback_unsigned"].evidence["status"] == 404
    assert got["buli2.callback_url"].status == Status.WARN  # path differs from checks.buli2.callback_path


def test_webhook_that_crashes(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults, http_ctx, {"BULI2_CALLBACK_URL": http_faults.unhealthy_app.url(CALLBACK_PATH)})
    assert got["buli2.callback_unsigned"].status == Status.FAIL
    assert got["buli2.callback_unsigned"].evidence["status"] == 500


def test_api_key_is_never_sent_over_plain_http(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    before = len(http_faults.plain_app.get_headers)
    got, _ = check(http_faults, http_ctx, {"BULI2_API_URL": http_faults.plain_app.url()})
    seen = http_faults.plain_app.get_headers[before:]
    assert seen and not [h for h in seen if "x-api-key" in h]
    assert got["buli2.api_url"].status == Status.FAIL
    assert got["buli2.api_key"].status == Status.SKIP and "plain http" in got["buli2.api_key"].summary
    assert got["buli2.auth_enforced"].status == Status.FAIL  # the open app answers without a key


def test_http_callback_url(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults, http_ctx, {"BULI2_CALLBACK_URL": http_faults.plain_app.url(CALLBACK_PATH)})
    assert got["buli2.callback_url"].status == Status.FAIL and "plain http" in got["buli2.callback_url"].summary


def test_refused_and_dns_failures(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    env = {
        "BULI2_API_URL": f"https://127.0.0.1:{http_faults.closed_port}",
        "BULI2_CALLBACK_URL": f"https://no-such-host.invalid{CALLBACK_PATH}",
    }
    got, _ = check(http_faults, http_ctx, env, send_signed_callback=True)
    assert got["buli2.api_key"].evidence["error_kind"] == "refused"
    assert got["buli2.auth_enforced"].status == Status.SKIP
    assert got["buli2.callback_url"].status == Status.FAIL
    assert got["buli2.callback_url"].evidence["error_kind"] == "dns"
    assert got["buli2.callback_unsigned"].evidence["error_kind"] == "dns"
    assert got["buli2.callback_tampered"].status == Status.SKIP
    assert got["buli2.callback_signed"].status == Status.FAIL


def test_servers_that_never_answer_are_bounded(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    silent = f"https://127.0.0.1:{http_faults.silent_port}"
    env = {"BULI2_API_URL": silent, "BULI2_CALLBACK_URL": f"{silent}{CALLBACK_PATH}"}
    got, elapsed = check(http_faults, http_ctx, env, timeout=SHORT)
    within(elapsed, SHORT + 0.5, "buli2 against silent servers")  # every step concurrent, in one budget
    assert got["buli2.api_key"].evidence["error_kind"] == "connect_timeout"
    assert got["buli2.callback_unsigned"].evidence["error_kind"] == "connect_timeout"
    assert f"{SHORT:g}s" in got["buli2.api_key"].summary


def test_tls_errors(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    env = {"BULI2_API_URL": http_faults.expired_app.url(),
           "BULI2_CALLBACK_URL": http_faults.wrong_host_app.url(CALLBACK_PATH)}
    got, _ = check(http_faults, http_ctx, env)
    assert got["buli2.api_key"].evidence["error_kind"] == "cert_expired"
    assert got["buli2.callback_unsigned"].evidence["error_kind"] == "hostname_mismatch"


def test_unknown_ca_and_insecure(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults, http_ctx, ca_file=None)
    assert got["buli2.api_key"].evidence["error_kind"] == "unknown_ca"
    got, _ = check(http_faults, http_ctx, ca_file=None, insecure=True)
    assert got["buli2.insecure"].status == Status.WARN
    assert got["buli2.api_key"].status == Status.PASS


def test_missing_variables_skip_with_reasons(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got = run(http_ctx({}, timeout=TIMEOUT), http_faults)[0]
    assert all(r.status == Status.SKIP for r in got.values()), statuses(got)
    assert "BULI2_API_URL" in got["buli2.api_url"].summary


def test_a_message_without_body_never_sends_a_signed_callback(http_faults: HttpFaults) -> None:
    # Issue 14 item 7: with `message: "{timestamp}"` the "tampered" probe was a correctly signed callback,
    # sent without --send-signed-callback. The open app accepts anything: it would have answered 200.
    from tests._contexts import build_context
    from tests.fixtures_http_faults import _manifest

    m = _manifest()
    sig = m.checks.buli2.signature.model_copy(update={"message": "{timestamp}"})
    checks = m.checks.model_copy(update={"buli2": m.checks.buli2.model_copy(update={"signature": sig})})
    env = http_faults.buli2_env(BULI2_CALLBACK_URL=http_faults.open_app.url(CALLBACK_PATH))
    ctx = build_context(env, manifest=m.model_copy(update={"checks": checks}), timeout=TIMEOUT,
                        ca_file=http_faults.ca_pem, allow_loopback=True)
    got, _ = run(ctx, http_faults)
    assert got["buli2.signature_scheme"].status == Status.FAIL
    tampered = got["buli2.callback_tampered"]
    assert tampered.status == Status.SKIP and "does not include {body}" in tampered.summary
    assert got["buli2.callback_signed"].status == Status.SKIP
