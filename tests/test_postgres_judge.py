"""The postgres checker's pure parts: judge tables, error classification and DSN parsing (no I/O)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from filot_preflight.checkers.postgres import CONNECT_FAILURES, DsnInfo, PgFacts, judge
from filot_preflight.checkers.postgres.probe import classify_pg_error, parse_dsn
from filot_preflight.manifest import PostgresSettings
from filot_preflight.models import CheckResult, Status

DOCS = Path(__file__).resolve().parents[1] / "docs" / "checks" / "postgres.md"
SETTINGS = PostgresSettings()
NEON_POOLED = DsnInfo(host="ep-cool-1234-pooler.eu-central-1.aws.neon.tech", dbname="filot", user="app",
                      sslmode="verify-full")
NEON_DIRECT = replace(NEON_POOLED, host="ep-cool-1234.eu-central-1.aws.neon.tech")
HEALTHY = PgFacts(
    dsn=NEON_POOLED, direct=NEON_DIRECT, connected=True, read_only=True, tls_version="TLSv1.3",
    cert_not_after="2027-01-01T00:00:00+00:00", cert_days_left=80.0, server_version="PostgreSQL 16.4",
    version_num=160004, latency_ms=3.2, connections_used=12, max_connections=112,
)
EMITTED: set[str] = set()


def run(facts: PgFacts, settings: PostgresSettings = SETTINGS) -> dict[tuple[str, str], CheckResult]:
    results = judge(facts, settings)
    for r in results:
        EMITTED.add(r.id)
        assert r.subsystem == "postgres"
        if r.status in (Status.WARN, Status.FAIL, Status.ERROR):
            assert r.remediation, f"{r.id} has no fix"
        if r.status is Status.SKIP:
            assert r.summary, f"{r.id} skip without a reason"
    by_key = {(r.id, r.target): r for r in results}
    assert len(by_key) == len(results), "one result per id and target"
    return by_key


def statuses(facts: PgFacts, settings: PostgresSettings = SETTINGS) -> dict[str, Status]:
    return {rid if target == "DATABASE_URL" else f"{rid}@{target}": r.status
            for (rid, target), r in run(facts, settings).items()}


def test_healthy_neon_pooled_all_pass_except_the_migration_skip() -> None:
    got = statuses(HEALTHY)
    assert got == {
        "postgres.sslmode": Status.PASS, "postgres.host": Status.PASS, "postgres.endpoint": Status.PASS,
        "postgres.direct_url@DATABASE_URL_DIRECT": Status.PASS, "postgres.sslmode@DATABASE_URL_DIRECT": Status.PASS,
        "postgres.connect": Status.PASS, "postgres.read_only": Status.PASS, "postgres.certificate": Status.PASS,
        "postgres.version": Status.PASS, "postgres.latency": Status.PASS, "postgres.connections": Status.PASS,
        "postgres.migration@schema_migrations.version": Status.SKIP,
    }
    res = run(HEALTHY)
    assert "DATABASE_URL_DIRECT" in res[("postgres.endpoint", "DATABASE_URL")].detail  # the migration advice
    assert res[("postgres.connections", "DATABASE_URL")].evidence == {"in_use": 12, "max_connections": 112}


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("verify-full", Status.PASS), ("verify-ca", Status.WARN), ("require", Status.WARN), ("prefer", Status.FAIL),
     ("allow", Status.FAIL), ("disable", Status.FAIL), (None, Status.FAIL)],
)
def test_sslmode(mode: str | None, expected: Status) -> None:
    res = run(replace(HEALTHY, dsn=replace(NEON_POOLED, sslmode=mode)))
    assert res[("postgres.sslmode", "DATABASE_URL")].status is expected
    if expected is not Status.PASS:
        assert "verify-full" in res[("postgres.sslmode", "DATABASE_URL")].remediation


@pytest.mark.parametrize(
    ("kind", "allow", "expected"),
    [("public", False, Status.PASS), ("loopback", False, Status.FAIL), ("private", False, Status.FAIL),
     ("loopback", True, Status.PASS)],
)
def test_host_kind(kind: str, allow: bool, expected: Status) -> None:
    r = run(replace(HEALTHY, host_kind=kind, allow_loopback=allow))[("postgres.host", "DATABASE_URL")]
    assert r.status is expected
    assert r.evidence.get("loopback_allowed", False) is (allow and kind != "public")


def test_neon_endpoint_advice() -> None:
    direct_api = statuses(replace(HEALTHY, dsn=NEON_DIRECT))
    assert direct_api["postgres.endpoint"] is Status.WARN
    pooled_migrations = statuses(replace(HEALTHY, direct=NEON_POOLED))
    assert pooled_migrations["postgres.direct_url@DATABASE_URL_DIRECT"] is Status.WARN
    unset = statuses(replace(HEALTHY, direct=None))
    assert unset["postgres.direct_url@DATABASE_URL_DIRECT"] is Status.SKIP
    assert "postgres.sslmode@DATABASE_URL_DIRECT" not in unset
    broken = statuses(replace(HEALTHY, direct=None, direct_error="it names no host"))
    assert broken["postgres.direct_url@DATABASE_URL_DIRECT"] is Status.FAIL
    weak_direct = statuses(replace(HEALTHY, direct=replace(NEON_DIRECT, sslmode="disable")))
    assert weak_direct["postgres.sslmode@DATABASE_URL_DIRECT"] is Status.FAIL
    other = statuses(replace(HEALTHY, dsn=replace(NEON_POOLED, host="db.internal.example.com"), direct=None))
    assert other["postgres.endpoint"] is Status.SKIP
    assert "postgres.direct_url@DATABASE_URL_DIRECT" not in other


@pytest.mark.parametrize("kind", sorted(CONNECT_FAILURES))
def test_each_connection_failure_has_its_own_id(kind: str) -> None:
    facts = replace(HEALTHY, connected=False, error_kind=kind, error="driver text", read_only=None)
    res = run(facts)
    rid = CONNECT_FAILURES[kind][0]
    assert res[(rid, "DATABASE_URL")].status is Status.FAIL
    assert res[(rid, "DATABASE_URL")].detail == "driver text"
    assert not any(r[0] in ("postgres.connect", "postgres.version") and r[0] != rid for r in res)


def test_failure_ids_are_distinct() -> None:
    ids = [v[0] for v in CONNECT_FAILURES.values()]
    assert len(ids) == len(set(ids))


def test_unconfigured_and_malformed() -> None:
    assert statuses(PgFacts(configured=False)) == {"postgres.config": Status.FAIL}
    res = run(PgFacts(dsn_error="scheme 'postgresql+psycopg' is not a libpq URL scheme"))
    assert list(res) == [("postgres.dsn", "DATABASE_URL")]
    assert res[("postgres.dsn", "DATABASE_URL")].status is Status.FAIL


def test_read_only_not_confirmed_stops_everything_after() -> None:
    got = statuses(replace(HEALTHY, read_only=False))
    assert got["postgres.read_only"] is Status.ERROR
    assert not {"postgres.version", "postgres.latency", "postgres.connections"} & set(got)


def test_query_failure_after_login() -> None:
    got = statuses(replace(HEALTHY, error="query failed: InsufficientPrivilege"))
    assert got["postgres.query"] is Status.FAIL


@pytest.mark.parametrize(
    ("change", "rid", "expected"),
    [
        ({"latency_ms": 251.0}, "postgres.latency", Status.WARN),
        ({"latency_ms": 250.0}, "postgres.latency", Status.PASS),
        ({"connections_used": 90, "max_connections": 100}, "postgres.connections", Status.WARN),
        ({"connections_used": 80, "max_connections": 100}, "postgres.connections", Status.PASS),
        ({"version_num": 130016}, "postgres.version", Status.WARN),
        ({"version_num": 170002}, "postgres.version", Status.PASS),
        ({"cert_days_left": 5.0}, "postgres.certificate", Status.WARN),
        ({"insecure": True}, "postgres.insecure", Status.WARN),
    ],
)
def test_session_thresholds(change: dict[str, object], rid: str, expected: Status) -> None:
    assert statuses(replace(HEALTHY, **change))[rid] is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("latest", "applied", "error", "expected"),
    [
        ("0042_add_index", True, None, Status.PASS),
        ("0043_newer", True, None, Status.WARN),
        ("0041_older", False, None, Status.FAIL),
        (None, None, "table schema_migrations does not exist", Status.FAIL),
    ],
)
def test_migration(latest: str | None, applied: bool | None, error: str | None, expected: Status) -> None:
    settings = PostgresSettings(latest_migration="0042_add_index")
    facts = replace(HEALTHY, migration_latest=latest, migration_applied=applied, migration_error=error)
    r = run(facts, settings)[("postgres.migration", "schema_migrations.version")]
    assert r.status is expected
    assert r.evidence["expected"] == "0042_add_index"


@pytest.mark.parametrize(
    ("sqlstate", "text", "tls", "kind"),
    [
        (None, 'connection to server at "h", port 5432 failed: Connection refused', None, "refused"),
        ("28P01", "whatever", None, "auth"),
        (None, 'FATAL:  password authentication failed for user "app"', None, "auth"),
        ("3D000", "", None, "database"),
        (None, 'FATAL:  database "nodb" does not exist', None, "database"),
        (None, "server does not support SSL, but SSL was required", None, "server_ssl"),
        (None, "SSL error: certificate verify failed", None, "tls_ca"),
        (None, "SSL error: certificate verify failed", "tls_expired", "tls_expired"),
        (None, 'root certificate file "/root/.postgresql/root.crt" does not exist', None, "tls_ca"),
        (None, 'server certificate for "localhost" (and 1 other name) does not match host name "x"', None,
         "tls_hostname"),
        (None, "connection timeout expired", None, "timeout"),
        (None, 'could not translate host name "x.invalid" to address: Name or service not known', None, "dns"),
        (None, 'FATAL:  no pg_hba.conf entry for host "10.0.0.1"', None, "rejected"),
        (None, "something new", None, "other"),
    ],
)
def test_classify_pg_error(sqlstate: str | None, text: str, tls: str | None, kind: str) -> None:
    assert classify_pg_error(sqlstate, text, tls) == kind


def test_parse_dsn_reads_only_non_secret_parts() -> None:
    info, err = parse_dsn("postgresql://app:p%40ss@ep-x-pooler.eu.aws.neon.tech/filot?sslmode=require")
    assert err is None and info is not None
    assert (info.host, info.port, info.dbname, info.user, info.sslmode) == (
        "ep-x-pooler.eu.aws.neon.tech", "5432", "filot", "app", "require")
    assert info.neon and info.pooled
    assert "p@ss" not in repr(info) and "p%40ss" not in repr(info)


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql+psycopg://app:Sup3rS3cretPw@db.example.com/filot",  # psycopg echoes this whole DSN
        "postgresql://app:Sup3rS3cretPw@db.example.com/filot?sslmode=require&bogus",
        "host=db.example.com password='Sup3rS3cretPw",
        "postgresql://app:Sup3rS3cretPw@/filot",
        "postgresql://app:Sup3rS3cretPw@db.example.com:54x/filot",
    ],
)
def test_malformed_dsn_message_is_ours(dsn: str) -> None:
    info, err = parse_dsn(dsn)
    assert info is None and err
    assert "Sup3rS3cretPw" not in err and "db.example.com" not in err


def test_every_emitted_id_is_documented() -> None:
    # Runs last in this module (pytest keeps file order): EMITTED holds every id the tables produced.
    known = {v[0] for v in CONNECT_FAILURES.values()}
    documented = set(re.findall(r"^#+\s+`?(postgres\.[a-z_]+)`?", DOCS.read_text(), re.M))
    missing = (EMITTED | known) - documented
    assert not missing, f"undocumented ids: {sorted(missing)}"
