"""Table tests of the redis judge: facts in, results out, no I/O."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from filot_preflight.checkers.redis import RedisFacts, RedisSettings, judge
from filot_preflight.models import Status
from filot_preflight.net.tls import CertInfo

NOW = datetime(2026, 1, 1, tzinfo=UTC)
S = RedisSettings(now=NOW)
CERT = CertInfo(NOW - timedelta(days=10), NOW + timedelta(days=200), "db.upstash.io", "R11")

HEALTHY = RedisFacts(
    scheme="rediss", host="eu1-x.upstash.io", port=6379, db=0, has_password=True,
    cert=CERT, tls_version="TLSv1.3", auth_ok=True, ping_ms=1.2, version="7.2.4", mode="standalone",
    info_policy="noeviction", maxmemory=268435456, config_policy="noeviction",
)


def statuses(facts: RedisFacts, settings: RedisSettings = S) -> dict[str, Status]:
    results = judge(facts, settings)
    for r in results:
        assert r.status is Status.PASS or r.remediation, f"{r.id}: non-pass without a fix"
    return {r.id: r.status for r in results}


def test_healthy_is_all_pass() -> None:
    assert statuses(HEALTHY) == {
        "redis.tls": Status.PASS, "redis.tls_verify": Status.PASS, "redis.cert_expiry": Status.PASS,
        "redis.auth": Status.PASS, "redis.ping": Status.PASS, "redis.version": Status.PASS,
        "redis.eviction": Status.PASS,
    }


@pytest.mark.parametrize(
    ("changes", "rid", "status"),
    [
        ({"scheme": "redis", "cert": None}, "redis.tls", Status.FAIL),
        ({"insecure": True}, "redis.tls_verify", Status.WARN),
        ({"cert": dataclasses.replace(CERT, not_after=NOW + timedelta(days=29))}, "redis.cert_expiry", Status.WARN),
        ({"cert": dataclasses.replace(CERT, not_after=NOW + timedelta(days=31))}, "redis.cert_expiry", Status.PASS),
        ({"cert": dataclasses.replace(CERT, not_after=NOW - timedelta(days=1))}, "redis.cert_expiry", Status.FAIL),
        ({"cert": None}, "redis.cert_expiry", Status.WARN),
        ({"has_password": False}, "redis.auth", Status.FAIL),
        ({"ping_ms": 900.0}, "redis.ping", Status.WARN),
        ({"version": "5.0.14"}, "redis.version", Status.WARN),
        ({"version": None}, "redis.version", Status.WARN),
        ({"config_policy": "allkeys-lru", "info_policy": "allkeys-lru"}, "redis.eviction", Status.FAIL),
        ({"config_policy": "volatile-lru", "info_policy": "volatile-lru"}, "redis.eviction", Status.WARN),
        ({"config_policy": None, "config_error": "unknown command 'CONFIG'"}, "redis.eviction", Status.PASS),
        ({"config_policy": None, "info_policy": None, "config_error": "NOPERM"}, "redis.eviction", Status.WARN),
        ({"host": "127.0.0.1", "host_kind": "loopback"}, "redis.host", Status.FAIL),
        ({"host": "10.0.0.5", "host_kind": "private"}, "redis.host", Status.FAIL),
    ],
)
def test_single_rules(changes: dict[str, object], rid: str, status: Status) -> None:
    assert statuses(dataclasses.replace(HEALTHY, **changes))[rid] is status  # type: ignore[arg-type]


def test_loopback_allowed_passes_with_evidence() -> None:
    facts = dataclasses.replace(HEALTHY, host="127.0.0.1", host_kind="loopback")
    host = next(r for r in judge(facts, RedisSettings(allow_loopback=True, now=NOW)) if r.id == "redis.host")
    assert (host.status, host.evidence["loopback_allowed"]) == (Status.PASS, True)


def test_eviction_source_is_reported() -> None:
    facts = dataclasses.replace(HEALTHY, config_policy=None, config_error="ERR unknown command")
    ev = next(r for r in judge(facts, S) if r.id == "redis.eviction").evidence
    assert (ev["source"], ev["config_allowed"]) == ("INFO memory", False)


FAILED = dataclasses.replace(HEALTHY, cert=None, auth_ok=False, ping_ms=None, version=None, config_policy=None)


@pytest.mark.parametrize(
    ("stage", "kind", "rid"),
    [
        ("tls", "dns", "redis.unresolvable"),
        ("tls", "refused", "redis.refused"),
        ("tls", "connect_timeout", "redis.unreachable"),
        ("tls", "unreachable", "redis.unreachable"),
        ("tls", "no_answer", "redis.no_answer"),
        ("tls", "tls_on_plain", "redis.tls_on_plain"),
        ("tls", "unknown_ca", "redis.cert_unknown_ca"),
        ("tls", "hostname_mismatch", "redis.cert_hostname"),
        ("tls", "cert_expired", "redis.cert_expired"),
        ("tls", "cert_not_yet_valid", "redis.cert_expired"),
        ("tls", "tls_error", "redis.tls_handshake"),
        ("tls", "reset", "redis.tls_handshake"),
        ("redis", "plain_on_tls", "redis.plain_on_tls"),
        ("redis", "auth", "redis.auth"),
        ("redis", "permission", "redis.permission"),
        ("redis", "timeout", "redis.no_answer"),
        ("redis", "reset", "redis.connection"),
        ("redis", "other", "redis.connection"),
    ],
)
def test_each_failure_mode_has_its_own_result(stage: str, kind: str, rid: str) -> None:
    facts = dataclasses.replace(FAILED, stage=stage, error_kind=kind, error="detail text")
    results = judge(facts, S)
    assert [r.id for r in results] == ["redis.tls", rid]  # nothing claims a connection that failed
    failure = results[1]
    assert failure.status is Status.FAIL
    assert failure.remediation and failure.detail == "detail text"
    assert failure.evidence["error_kind"] == kind


def test_distinct_fixes_for_distinct_modes() -> None:
    fixes = set()
    for kind in ("dns", "refused", "no_answer", "tls_on_plain", "unknown_ca", "hostname_mismatch", "cert_expired"):
        facts = dataclasses.replace(FAILED, stage="tls", error_kind=kind)
        fixes.add(judge(facts, S)[1].remediation)
    assert len(fixes) == 7


def test_missing_password_fix_differs_from_wrong_password() -> None:
    wrong = judge(dataclasses.replace(FAILED, stage="redis", error_kind="auth"), S)[1]
    none = judge(dataclasses.replace(FAILED, stage="redis", error_kind="auth", has_password=False), S)[1]
    assert "rejected" in wrong.summary and "has none" in none.summary
    assert "<password>" in none.remediation


@pytest.mark.parametrize(
    ("facts", "rid"),
    [
        (RedisFacts(configured=False), "redis.configured"),
        (RedisFacts(url_error="scheme 'http' is not redis:// or rediss://"), "redis.url"),
    ],
)
def test_unusable_configuration(facts: RedisFacts, rid: str) -> None:
    results = judge(facts, S)
    assert [(r.id, r.status) for r in results] == [(rid, Status.FAIL)]


def test_unreadable_ca_file_stops_before_connecting() -> None:
    facts = dataclasses.replace(FAILED, ca_error="REDIS_TLS_CA_FILE /nope is not a readable file")
    assert [r.id for r in judge(facts, S)] == ["redis.tls", "redis.ca_file"]


def test_target_names_variable_and_endpoint_never_password() -> None:
    for r in judge(HEALTHY, S):
        assert r.target == "REDIS_URL (eu1-x.upstash.io:6379)"


def test_every_id_in_the_code_is_documented_and_vice_versa() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).parents[1]
    code = "".join(m.read_text() for m in sorted((root / "filot_preflight" / "checkers" / "redis").glob("*.py")))
    emitted = set(re.findall(r'"(redis\.[a-z_]+)"', code))
    documented = set(re.findall(r"^## (redis\.[a-z_]+)$", (root / "docs" / "checks" / "redis.md").read_text(), re.M))
    assert emitted == documented


def test_plain_url_with_a_password_is_judged_without_logging_in() -> None:
    plain = dataclasses.replace(HEALTHY, scheme="redis", cert=None, auth_ok=False, ping_ms=None, version=None,
                                info_policy=None, config_policy=None, login_skipped=True, port_speaks="resp")
    assert statuses(plain) == {"redis.tls": Status.FAIL, "redis.auth": Status.SKIP}
    on_tls = dataclasses.replace(plain, stage="tls", error_kind="plain_on_tls", port_speaks="tls")
    assert statuses(on_tls) == {"redis.tls": Status.FAIL, "redis.plain_on_tls": Status.FAIL, "redis.auth": Status.SKIP}


def test_refused_reads_are_one_warning_with_the_exact_grant_and_the_rest_is_judged() -> None:
    facts = dataclasses.replace(HEALTHY, refused=("ping",), ping_ms=None)
    results = {r.id: r for r in judge(facts, S)}
    assert results["redis.permission"].status is Status.WARN
    assert "ACL SETUSER <user> +ping " in results["redis.permission"].remediation
    assert "redis.ping" not in results and results["redis.eviction"].status is Status.PASS
