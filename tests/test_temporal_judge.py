"""Table tests of the temporal judge and address parsing (no I/O)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from filot_preflight.checkers.temporal import TemporalFacts, TemporalJudgeSettings, judge, parse_address
from filot_preflight.checkers.temporal.judge import Poller
from filot_preflight.models import Status
from filot_preflight.net.tls import CertInfo

NOW = datetime(2026, 1, 1, tzinfo=UTC)
S = TemporalJudgeSettings(poller_max_age_s=120, cert_expiry_warn_days=30, now=NOW)
CERT = CertInfo(NOW - timedelta(days=1), NOW + timedelta(days=300), "filot-client")
HEALTHY = TemporalFacts(
    configured=True, host="filot.a1b2c.tmprl.cloud", port=7233, namespace="filot.a1b2c", task_queue="docs",
    tls=True, auth="api_key", server_cert=CERT, tls_version="TLSv1.3", server_version="1.27.2",
    namespace_state="REGISTERED", pollers=(Poller("worker-1@host", 12.0),),
)
R = dataclasses.replace


def table(facts: TemporalFacts, s: TemporalJudgeSettings = S) -> dict[str, Status]:
    results = judge(facts, s)
    assert len({r.id for r in results}) == len(results)
    for r in results:
        assert r.status in (Status.PASS, Status.SKIP) or r.remediation, f"{r.id}: no fix"
    return {r.id: r.status for r in results}


def test_healthy_all_pass() -> None:
    assert table(HEALTHY) == {
        "temporal.tls": Status.PASS, "temporal.auth": Status.PASS, "temporal.server_cert": Status.PASS,
        "temporal.version": Status.PASS, "temporal.namespace": Status.PASS, "temporal.pollers": Status.PASS,
    }


@pytest.mark.parametrize(
    ("facts", "rid", "status"),
    [
        (R(HEALTHY, insecure=True), "temporal.tls", Status.WARN),
        (R(HEALTHY, tls=False, auth="none"), "temporal.tls", Status.FAIL),
        (R(HEALTHY, client_cert=R(CERT, not_after=NOW + timedelta(days=29)), auth="mtls"), "temporal.client_cert",
         Status.WARN),
        (R(HEALTHY, client_cert=R(CERT, not_after=NOW - timedelta(days=2)), auth="mtls"), "temporal.client_cert",
         Status.FAIL),
        (R(HEALTHY, client_cert_error="TEMPORAL_TLS_KEY is not set"), "temporal.client_cert", Status.FAIL),
        (R(HEALTHY, server_cert=R(CERT, not_after=NOW + timedelta(days=5))), "temporal.server_cert", Status.WARN),
        (R(HEALTHY, namespace=None), "temporal.namespace", Status.FAIL),
        (R(HEALTHY, namespace_error="not_found"), "temporal.namespace", Status.FAIL),
        (R(HEALTHY, namespace_error="permission"), "temporal.namespace", Status.FAIL),
        (R(HEALTHY, namespace_state="DEPRECATED"), "temporal.namespace", Status.FAIL),
        (R(HEALTHY, namespace_error="not_found"), "temporal.pollers", Status.SKIP),
        (R(HEALTHY, task_queue=None), "temporal.pollers", Status.FAIL),
        (R(HEALTHY, pollers=()), "temporal.pollers", Status.FAIL),
        (R(HEALTHY, pollers=(Poller("w", 121.0),)), "temporal.pollers", Status.FAIL),
        (R(HEALTHY, pollers=(Poller("old", 900.0), Poller("new", 3.0))), "temporal.pollers", Status.PASS),
        (R(HEALTHY, pollers=None, pollers_error="permission"), "temporal.pollers", Status.FAIL),
        (R(HEALTHY, host="127.0.0.1", host_kind="loopback"), "temporal.host", Status.FAIL),
    ],
)
def test_single_rules(facts: TemporalFacts, rid: str, status: Status) -> None:
    assert table(facts)[rid] is status


def test_stale_pollers_use_last_access_time_not_presence() -> None:
    facts = R(HEALTHY, pollers=(Poller("a", 300.0), Poller("b", 600.0)))
    r = next(r for r in judge(facts, S) if r.id == "temporal.pollers")
    assert r.status is Status.FAIL
    assert (r.evidence["pollers"], r.evidence["live_pollers"], r.evidence["youngest_poll_age_s"]) == (2, 0, 300.0)


def test_plain_to_remote_host_fails_and_nothing_else_is_claimed() -> None:
    facts = TemporalFacts(configured=True, host="x.tmprl.cloud", port=7233, namespace="n", task_queue="q")
    assert table(facts) == {"temporal.tls": Status.FAIL}


def test_plain_loopback_allowed_is_a_warn_free_pass_with_evidence() -> None:
    facts = R(HEALTHY, host="127.0.0.1", host_kind="loopback", tls=False, auth="none", server_cert=None)
    s = R(S, allow_loopback=True)
    results = {r.id: r for r in judge(facts, s)}
    assert {r.status for r in results.values()} == {Status.PASS}
    assert results["temporal.tls"].evidence["loopback_allowed"] is True
    assert "temporal.auth" not in results


@pytest.mark.parametrize(
    ("kind", "rid"),
    [
        ("dns", "temporal.unresolvable"),
        ("refused", "temporal.refused"),
        ("connect_timeout", "temporal.unreachable"),
        ("no_answer", "temporal.no_answer"),
        ("timeout", "temporal.no_answer"),
        ("tls_on_plain", "temporal.tls_on_plain"),
        ("not_tls", "temporal.tls_on_plain"),
        ("plain_on_tls", "temporal.plain_on_tls"),
        ("unknown_ca", "temporal.cert_unknown_ca"),
        ("hostname_mismatch", "temporal.cert_hostname"),
        ("cert_expired", "temporal.cert_expired"),
        ("auth", "temporal.auth"),
        ("permission", "temporal.permission"),
        ("tls_error", "temporal.tls_handshake"),
        ("other", "temporal.connection"),
    ],
)
def test_each_failure_mode_has_its_own_result(kind: str, rid: str) -> None:
    stage = "tls" if kind == "tls_error" else "connect"
    facts = R(HEALTHY, stage=stage, error_kind=kind, error="detail", server_version=None, pollers=None)
    results = judge(facts, S)
    assert [r.id for r in results] == ["temporal.tls", rid]
    assert results[1].status is Status.FAIL and results[1].detail == "detail"


def test_fallback_results() -> None:
    ok = TemporalFacts(configured=False)
    assert table(ok) == {"temporal.configured": Status.SKIP, "temporal.fallback": Status.PASS}
    skip = next(r for r in judge(ok, S) if r.id == "temporal.configured")
    assert skip.summary == "not configured: Redis fallback in effect"
    broken = TemporalFacts(configured=False, fallback_missing=("REDIS_URL", "OCR_QUEUE_KEY"), partial_vars=("TEMPORAL_API_KEY",))
    assert table(broken) == {
        "temporal.configured": Status.SKIP, "temporal.fallback": Status.FAIL, "temporal.partial": Status.WARN,
    }


def test_bad_address() -> None:
    assert table(TemporalFacts(configured=True, address_error="expected host:port")) == {
        "temporal.address": Status.FAIL,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("filot.a1b2c.tmprl.cloud:7233", ("filot.a1b2c.tmprl.cloud", 7233)),
        ("127.0.0.1:7233", ("127.0.0.1", 7233)),
        ("[::1]:7233", ("::1", 7233)),
        ("https://filot.tmprl.cloud:7233", None),
        ("filot.tmprl.cloud", None),
        ("filot.tmprl.cloud:0", None),
        (":7233", None),
    ],
)
def test_parse_address(text: str, expected: tuple[str, int] | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            parse_address(text)
    else:
        assert parse_address(text) == expected


def test_every_id_in_the_code_is_documented_and_vice_versa() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).parents[1]
    code = "".join(m.read_text() for m in sorted((root / "filot_preflight" / "checkers" / "temporal").glob("*.py")))
    emitted = set(re.findall(r'"(temporal\.[a-z_]+)"', code))
    documented = set(re.findall(r"^## (temporal\.[a-z_]+)$", (root / "docs" / "checks" / "temporal.md").read_text(), re.M))
    assert emitted == documented
