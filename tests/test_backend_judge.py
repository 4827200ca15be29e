"""Table tests of backend.judge (pure: facts in, results out) and of the shared HTTP helpers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from filot_preflight.checkers.backend import BackendFacts, CertFacts, judge
from filot_preflight.manifest import BackendSettings
from filot_preflight.models import CheckResult, Status
from filot_preflight.net.http_probe import (
    HttpOutcome,
    _stage_kind,
    _unhealthy,
    failure_text,
    join_url,
    safe_url,
    url_problem,
)

OK = HttpOutcome(True, status=200, elapsed_ms=12.5, body_bytes=15, is_json=True)
CERT = CertFacts(tcp_ok=True, verified=True, not_after="2030-01-01", days_left=400.0, issuer="R3", tls_version="TLSv1.3")
GOOD = BackendFacts(url="https://api.example.com", url_problem=None, health=OK, ready=OK, cert=CERT)


def by_id(facts: BackendFacts) -> dict[str, CheckResult]:
    results = judge(facts, BackendSettings())
    out = {r.id: r for r in results}
    assert len(out) == len(results), "one result per id"
    for r in results:
        if r.status not in (Status.PASS,):
            assert r.remediation, f"{r.id} ({r.status}) has no fix"
    return out


CASES: list[tuple[str, BackendFacts, dict[str, Status]]] = [
    ("all good", GOOD, {"backend.url": Status.PASS, "backend.health": Status.PASS, "backend.ready": Status.PASS,
                        "backend.tls_cert": Status.PASS}),
    ("missing url", BackendFacts(url="", url_problem="missing"),
     {"backend.url": Status.SKIP, "backend.health": Status.SKIP, "backend.tls_cert": Status.SKIP}),
    ("malformed url", BackendFacts(url="", url_problem="malformed"),
     {"backend.url": Status.FAIL, "backend.ready": Status.SKIP}),
    ("plain http, even with loopback allowed", replace(GOOD, url_problem="not_https", allow_loopback=True, cert=None),
     {"backend.url": Status.FAIL, "backend.health": Status.PASS, "backend.tls_cert": Status.SKIP}),
    ("loopback host in production", replace(GOOD, host_kind="loopback"), {"backend.url": Status.FAIL}),
    ("loopback host allowed", replace(GOOD, host_kind="loopback", allow_loopback=True), {"backend.url": Status.PASS}),
    ("private host", replace(GOOD, host_kind="private"), {"backend.url": Status.FAIL}),
    ("insecure", replace(GOOD, insecure=True), {"backend.insecure": Status.WARN, "backend.health": Status.PASS}),
    ("health not json", replace(GOOD, health=replace(OK, is_json=False)), {"backend.health": Status.FAIL}),
    ("ready 503", replace(GOOD, ready=replace(OK, status=503, unhealthy_keys=("database",))),
     {"backend.ready": Status.FAIL, "backend.health": Status.PASS}),
    ("health 404", replace(GOOD, health=replace(OK, status=404)), {"backend.health": Status.FAIL}),
    ("health 401", replace(GOOD, health=replace(OK, status=401)), {"backend.health": Status.FAIL}),
    ("health redirect", replace(GOOD, health=replace(OK, status=301, location="https://x/login")),
     {"backend.health": Status.FAIL}),
    ("refused", replace(GOOD, health=HttpOutcome(False, error_kind="refused"),
                        ready=HttpOutcome(False, error_kind="refused"),
                        cert=CertFacts(tcp_ok=False, verified=False, error_kind="refused")),
     {"backend.health": Status.FAIL, "backend.ready": Status.FAIL, "backend.tls_cert": Status.SKIP}),
    ("expiring soon", replace(GOOD, cert=replace(CERT, days_left=12.0)), {"backend.tls_cert": Status.WARN}),
    ("expired", replace(GOOD, cert=CertFacts(True, False, "cert_expired", "2020-01-01", -30.0)),
     {"backend.tls_cert": Status.FAIL}),
    ("expired, even with --insecure", replace(GOOD, insecure=True, cert=CertFacts(True, False, "cert_expired",
                                                                                  "2020-01-01", -30.0)),
     {"backend.tls_cert": Status.FAIL, "backend.insecure": Status.WARN}),
    ("unknown ca", replace(GOOD, cert=CertFacts(True, False, "unknown_ca", "2030-01-01", 400.0)),
     {"backend.tls_cert": Status.FAIL}),
    ("unknown ca under --insecure", replace(GOOD, insecure=True,
                                           cert=CertFacts(True, False, "unknown_ca", "2030-01-01", 400.0)),
     {"backend.tls_cert": Status.WARN}),
    ("hostname mismatch", replace(GOOD, cert=CertFacts(True, False, "hostname_mismatch", "2030-01-01", 400.0)),
     {"backend.tls_cert": Status.FAIL}),
    ("not tls, even under --insecure", replace(GOOD, insecure=True, cert=CertFacts(True, False, "not_tls")),
     {"backend.tls_cert": Status.FAIL}),
]


@pytest.mark.parametrize(("name", "facts", "expected"), CASES, ids=[c[0] for c in CASES])
def test_judge_table(name: str, facts: BackendFacts, expected: dict[str, Status]) -> None:
    got = by_id(facts)
    assert {k: got[k].status for k in expected} == expected
    for r in got.values():
        assert r.subsystem == "backend"


def test_insecure_warn_only_when_insecure() -> None:
    assert "backend.insecure" not in by_id(GOOD)


def test_pass_evidence_has_latency_status_and_size() -> None:
    ev = by_id(GOOD)["backend.health"].evidence
    assert ev["latency_ms"] == 12.5 and ev["status"] == 200 and ev["body_bytes"] == 15


def test_ready_failure_names_failing_components() -> None:
    r = by_id(replace(GOOD, ready=replace(OK, status=503, unhealthy_keys=("database",))))["backend.ready"]
    assert "database" in r.summary and r.evidence["unhealthy"] == ["database"]


KINDS = ["dns", "refused", "connect_timeout", "handshake_timeout", "read_timeout", "timeout", "unknown_ca",
         "hostname_mismatch", "cert_expired", "not_tls", "reset", "ca_file"]


def test_every_error_kind_has_its_own_summary_and_fix() -> None:
    texts = [failure_text(k, "health", "API_BASE_URL", 2.0) for k in KINDS]
    assert len({s for s, _ in texts}) == len(KINDS)
    assert len({f for _, f in texts}) == len(KINDS)
    assert "--ca-file" in failure_text("unknown_ca", "x", "V", 1)[1]
    assert "2s" in failure_text("read_timeout", "x", "V", 2)[0]


def test_unknown_error_kind_still_has_a_fix() -> None:
    summary, fix = failure_text("other", "health", "API_BASE_URL", 2.0)
    assert summary and "API_BASE_URL" in fix


@pytest.mark.parametrize(
    ("url", "problem"),
    [("https://api.example.com", None), ("http://api.example.com", "not_https"), ("", "missing"),
     (None, "missing"), ("api.example.com", "malformed"), ("https://", "malformed"), ("https://h:99999", "malformed"),
     ("ftp://h", "malformed")],
)
def test_url_problem(url: str | None, problem: str | None) -> None:
    assert url_problem(url) == problem


def test_safe_url_drops_credentials_and_query() -> None:
    assert safe_url("https://user:pw@api.example.com:8443/v1?token=abc#x") == "https://api.example.com:8443/v1"
    assert join_url("https://h/v2/", "/health") == "https://h/v2/health"


@pytest.mark.parametrize(
    ("doc", "bad"),
    [({"status": "ok"}, ()), ({"db": "down", "redis": "ok"}, ("db",)), ({"checks": {"db": {"status": "fail"}}}, ("db",)),
     ({"db": False, "x": True}, ("db",)), ([1, 2], ()), (None, ())],
)
def test_unhealthy_components(doc: object, bad: tuple[str, ...]) -> None:
    assert _unhealthy(doc) == bad


def test_every_emitted_id_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "checks" / "backend.md").read_text()
    ids = {r.id for _, facts, _ in CASES for r in judge(facts, BackendSettings())}
    assert ids == {"backend.url", "backend.insecure", "backend.health", "backend.ready", "backend.tls_cert"}
    assert not [i for i in ids if f"## {i}\n" not in doc]


@pytest.mark.parametrize(("event", "kind"), [
    ("pool", "connect_timeout"),
    ("connection.connect_tcp.started", "connect_timeout"),
    ("connection.start_tls.started", "connect_timeout"),
    ("connection.start_tls.failed", "connect_timeout"),
    ("connection.connect_tcp.failed", "connect_timeout"),
    ("connection.start_tls.complete", "read_timeout"),
    ("connection.connect_tcp.complete", "read_timeout"),
    ("http11.send_request_headers.started", "read_timeout"),
    ("http11.receive_response_headers.started", "read_timeout"),
    ("http11.receive_response_headers.failed", "read_timeout"),
    ("http11.receive_response_headers.complete", "timeout"),
    ("http11.receive_response_body.started", "timeout"),
])
def test_a_request_stopped_by_its_whole_time_bound_is_named_by_its_stage(event: str, kind: str) -> None:
    """httpcore's last trace event says how far the request got when the budget ran out (on a busy machine
    that bound can fire before httpx's own phase timeout): connecting, waiting for the answer, or reading it."""
    assert _stage_kind(event) == kind
