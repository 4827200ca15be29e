"""The backend checker against real HTTPS servers on loopback: the sandbox backend and every fault mode."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from filot_preflight.checkers.backend import BackendChecker
from filot_preflight.checkers.base import CheckContext
from filot_preflight.models import CheckResult, Status
from tests._timing import within

if TYPE_CHECKING:
    from fixtures_http_faults import HttpFaults

TIMEOUT = 3.0  # healthy paths never wait for it
SHORT = 0.8  # for servers that never answer: the tests wait this long
Ctx = Callable[..., CheckContext]


def run(ctx: CheckContext) -> tuple[dict[str, CheckResult], float]:
    t0 = time.monotonic()
    results = asyncio.run(BackendChecker().run(ctx))
    elapsed = time.monotonic() - t0
    by_id = {r.id: r for r in results}
    assert len(by_id) == len(results), "one result per id"
    for r in results:
        assert r.status == Status.PASS or r.remediation, f"{r.id} ({r.status}) has no fix"
    return by_id, elapsed


def check(url: str, faults: HttpFaults, http_ctx: Ctx, **opts: object) -> tuple[dict[str, CheckResult], float]:
    options: dict[str, object] = {"timeout": TIMEOUT, "ca_file": faults.ca_pem, "allow_loopback": True} | opts
    return run(http_ctx({"API_BASE_URL": url}, **options))


def test_sandbox_backend_passes(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults.backend_url, http_faults, http_ctx)
    assert {k: r.status for k, r in got.items()} == {
        "backend.url": Status.PASS,
        "backend.health": Status.PASS,
        "backend.ready": Status.PASS,
        "backend.tls_cert": Status.PASS,
    }
    health = got["backend.health"].evidence
    assert health["status"] == 200 and health["json"] is True
    assert isinstance(health["latency_ms"], float) and isinstance(health["body_bytes"], int) and health["body_bytes"] > 0
    cert = got["backend.tls_cert"].evidence
    assert isinstance(cert["days_left"], float) and 300 < cert["days_left"] < 366
    assert got["backend.url"].evidence["loopback_allowed"] is True


def test_loopback_is_a_fail_in_production(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults.backend_url, http_faults, http_ctx, allow_loopback=False)
    assert got["backend.url"].status == Status.FAIL
    assert "--allow-loopback" in got["backend.url"].remediation


def test_non_json_health_and_503_ready_fail(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults.unhealthy_app.url(), http_faults, http_ctx)
    assert got["backend.health"].status == Status.FAIL and "not with JSON" in got["backend.health"].summary
    ready = got["backend.ready"]
    assert ready.status == Status.FAIL and ready.evidence["status"] == 503
    assert ready.evidence["unhealthy"] == ["database"]


def test_redirect_fails_without_leaking_the_query(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults.redirect_app.url(), http_faults, http_ctx)
    r = got["backend.health"]
    assert r.status == Status.FAIL and r.evidence["location"] == "https://login.example.invalid/sso"
    assert "s3cr3t-redirect-token" not in str([x.model_dump() for x in got.values()])


def test_expired_certificate(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults.expired_app.url(), http_faults, http_ctx)
    cert = got["backend.tls_cert"]
    assert cert.status == Status.FAIL and "expired" in cert.summary
    assert isinstance(cert.evidence["days_left"], float) and cert.evidence["days_left"] < 0
    assert got["backend.health"].evidence["error_kind"] == "cert_expired"


def test_expired_certificate_fails_even_with_insecure(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults.expired_app.url(), http_faults, http_ctx, insecure=True)
    assert got["backend.tls_cert"].status == Status.FAIL
    assert got["backend.insecure"].status == Status.WARN
    assert got["backend.health"].status == Status.PASS  # the app itself answers


def test_certificate_expiring_soon_warns(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults.expiring_app.url(), http_faults, http_ctx)
    cert = got["backend.tls_cert"]
    assert cert.status == Status.WARN and "expires in" in cert.summary


def test_hostname_mismatch(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults.wrong_host_app.url(), http_faults, http_ctx)
    assert got["backend.tls_cert"].status == Status.FAIL
    assert got["backend.tls_cert"].evidence["error_kind"] == "hostname_mismatch"
    assert got["backend.health"].evidence["error_kind"] == "hostname_mismatch"
    assert "subjectAltName" in got["backend.health"].remediation


def test_unknown_ca_without_ca_file(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults.backend_url, http_faults, http_ctx, ca_file=None)
    assert got["backend.tls_cert"].status == Status.FAIL
    assert got["backend.health"].evidence["error_kind"] == "unknown_ca"
    assert "--ca-file" in got["backend.health"].remediation


def test_insecure_accepts_unknown_ca_with_warnings(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults.backend_url, http_faults, http_ctx, ca_file=None, insecure=True)
    assert got["backend.insecure"].status == Status.WARN
    assert got["backend.tls_cert"].status == Status.WARN
    assert got["backend.health"].status == Status.PASS


def test_refused(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(f"https://127.0.0.1:{http_faults.closed_port}", http_faults, http_ctx)
    assert got["backend.health"].status == Status.FAIL
    assert got["backend.health"].evidence["error_kind"] == "refused"
    assert got["backend.tls_cert"].status == Status.SKIP


def test_dns_failure(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check("https://no-such-host.invalid", http_faults, http_ctx)
    assert got["backend.health"].evidence["error_kind"] == "dns"
    assert "DNS" in got["backend.health"].remediation


def test_server_that_never_answers_is_bounded(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, elapsed = check(f"https://127.0.0.1:{http_faults.silent_port}", http_faults, http_ctx, timeout=SHORT)
    within(elapsed, SHORT + 0.5, "backend against a silent server")  # the checker's budget, --timeout
    assert got["backend.health"].evidence["error_kind"] == "connect_timeout", (got["backend.health"].detail, got["backend.health"].evidence)
    assert got["backend.tls_cert"].evidence["error_kind"] == "handshake_timeout"
    assert got["backend.tls_cert"].status == Status.FAIL


def test_plain_http_server_that_never_answers_is_a_read_timeout(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, elapsed = check(f"http://127.0.0.1:{http_faults.silent_port}", http_faults, http_ctx, timeout=SHORT)
    within(elapsed, SHORT + 0.5, "backend against a silent plain-http server")
    assert got["backend.health"].evidence["error_kind"] == "read_timeout"
    assert "never answers" in got["backend.health"].remediation


def test_server_that_trickles_bytes_is_bounded(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, elapsed = check(f"http://127.0.0.1:{http_faults.trickle_port}", http_faults, http_ctx, timeout=SHORT)
    within(elapsed, SHORT + 0.5, "backend against a silent plain-http server")
    assert got["backend.health"].evidence["error_kind"] == "timeout"


def test_runner_sees_no_checker_timeout_for_silent_servers(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    from filot_preflight.checkers.buli2 import Buli2Checker
    from filot_preflight.runner import run_checks

    silent = f"https://127.0.0.1:{http_faults.silent_port}"
    env = http_faults.buli2_env(BULI2_API_URL=silent, BULI2_CALLBACK_URL=f"{silent}/api/webhooks/buli2")
    ctx = http_ctx({**env, "API_BASE_URL": silent}, timeout=SHORT, ca_file=http_faults.ca_pem, allow_loopback=True)
    outcome = asyncio.run(run_checks([BackendChecker(), Buli2Checker()], ctx, handle_signals=False))
    ids = {r.id for r in outcome.results}
    assert "backend.health" in ids and "buli2.api_key" in ids
    assert not [i for i in ids if i.endswith((".timeout", ".crashed", ".unfinished"))], ids


def test_plain_http_is_a_fail_even_when_it_answers(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got, _ = check(http_faults.plain_app.url(), http_faults, http_ctx)
    assert got["backend.url"].status == Status.FAIL
    assert got["backend.health"].status == Status.PASS
    assert got["backend.tls_cert"].status == Status.SKIP


def test_https_url_on_a_plain_http_port(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    url = http_faults.plain_app.url().replace("http://", "https://")
    got, _ = check(url, http_faults, http_ctx)
    assert got["backend.tls_cert"].evidence["error_kind"] == "not_tls"
    assert got["backend.health"].status == Status.FAIL


def test_missing_variable_skips_with_reason(http_faults: HttpFaults, http_ctx: Ctx) -> None:
    got = run(http_ctx({}, timeout=TIMEOUT))[0]
    assert all(r.status == Status.SKIP for r in got.values())
    assert "API_BASE_URL" in got["backend.url"].summary
