"""The postgres checker against real PostgreSQL servers on loopback (SSL, no SSL, silent and closed ports)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest

from filot_preflight.checkers.base import CheckContext
from filot_preflight.checkers.postgres import PostgresChecker
from filot_preflight.manifest import load as load_manifest
from filot_preflight.models import CheckResult, Status
from filot_preflight.sandbox.base import SandboxContext, ServiceHandle
from tests._timing import within

TIMEOUT = 3.0
FAULT_TIMEOUT = 1.0


def text_of(results: list[CheckResult]) -> str:
    return "\n".join(f"{r.id} {r.target} {r.summary} {r.detail} {r.remediation} {r.evidence}" for r in results)


def run(ctx: CheckContext) -> tuple[dict[str, CheckResult], list[CheckResult], float]:
    t0 = time.monotonic()
    results = asyncio.run(PostgresChecker().run(ctx))
    elapsed = time.monotonic() - t0
    for r in results:
        if r.status in (Status.WARN, Status.FAIL, Status.ERROR):
            assert r.remediation, f"{r.id} has no fix"
    return {r.id: r for r in results if r.target == "DATABASE_URL"}, results, elapsed


def with_parts(url: str, *, password: str | None = None, path: str | None = None, query: str | None = None,
               netloc: str | None = None) -> str:
    p = urlsplit(url)
    loc = netloc or p.netloc
    if password is not None:
        loc = f"{p.username}:{quote(password, safe='')}@{p.hostname}:{p.port}"
    return urlunsplit((p.scheme, loc, path if path is not None else p.path, query if query is not None else p.query, ""))


def db_password(url: str) -> str:
    password = urlsplit(url).password
    assert password
    return password


@pytest.fixture
def pg(postgres_server: ServiceHandle, sandbox_ctx: SandboxContext,
       preflight_ctx: Callable[..., CheckContext]) -> Callable[..., CheckContext]:
    """A context factory on the sandbox database: `pg(url=None, **options)`."""

    def make(url: str | None = None, manifest=None, **options: object) -> CheckContext:  # type: ignore[no-untyped-def]
        opts = {"timeout": TIMEOUT, "ca_file": sandbox_ctx.certs.ca_pem, "allow_loopback": True, **options}
        return preflight_ctx({"DATABASE_URL": url or postgres_server.env["DATABASE_URL"]}, manifest, **opts)

    return make


def next_xid(url: str) -> int:
    """The next transaction id the server will hand out: any write by anyone advances it."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint").fetchone()
        assert row is not None
        return int(row[0])


def write_stats(url: str) -> tuple[int, ...]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database"
            " WHERE datname = current_database()"
        ).fetchone()
        assert row is not None
        return tuple(int(x) for x in row)


def test_healthy_database_passes_and_writes_nothing(postgres_server: ServiceHandle, pg: Callable[..., CheckContext]) -> None:
    url = postgres_server.env["DATABASE_URL"]
    xid_before = next_xid(url)
    stats_before = write_stats(url)
    res, results, elapsed = run(pg())
    time.sleep(0.6)  # backends flush their statistics at exit; give the probe's a moment
    assert next_xid(url) == xid_before, "the probe was assigned a transaction id: it wrote something"
    after = write_stats(url)
    # Only our own two observer sessions may commit (autocommit SELECTs); the probe rolls back.
    assert after[1:] == stats_before[1:], "rows were inserted, updated or deleted"
    assert res["postgres.read_only"].status is Status.PASS
    assert res["postgres.read_only"].evidence == {"transaction_read_only": True}
    bad = [(r.id, r.status, r.summary) for r in results if r.status not in (Status.PASS, Status.SKIP)]
    assert not bad
    assert {"postgres.sslmode", "postgres.host", "postgres.connect", "postgres.version", "postgres.latency",
            "postgres.connections", "postgres.certificate"} <= set(res)
    assert res["postgres.host"].evidence["loopback_allowed"] is True
    assert str(res["postgres.version"].evidence["version"]).startswith("PostgreSQL ")
    assert res["postgres.version"].evidence["major"] >= 13  # type: ignore[operator]
    assert str(res["postgres.connect"].evidence["tls_version"]).startswith("TLSv1.")
    assert 0 <= res["postgres.latency"].evidence["median_ms"] < 250  # type: ignore[operator]
    assert res["postgres.connections"].evidence["in_use"] >= 1  # type: ignore[operator]
    assert 300 < res["postgres.certificate"].evidence["days_left"] <= 366  # type: ignore[operator]
    assert db_password(url) not in text_of(results)
    within(elapsed, TIMEOUT, "healthy postgres")


def test_probe_transaction_really_refuses_writes(postgres_server: ServiceHandle) -> None:
    # The same session setup as the probe (psycopg's read_only): a write inside it must fail.
    with psycopg.connect(postgres_server.env["DATABASE_URL"]) as conn:
        conn.read_only = True
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE preflight_should_not_exist (x int)")


@pytest.mark.parametrize(
    ("latest", "expected"), [("0001_init", Status.PASS), ("0002_not_yet", Status.FAIL)]
)
def test_migration_against_the_sandbox_table(pg: Callable[..., CheckContext], latest: str, expected: Status) -> None:
    m = load_manifest()
    checks = m.checks.model_copy(update={"postgres": m.checks.postgres.model_copy(update={"latest_migration": latest})})
    res, results, _ = run(pg(manifest=m.model_copy(update={"checks": checks})))
    mig = next(r for r in results if r.id == "postgres.migration")
    assert mig.status is expected
    assert mig.evidence["latest_applied"] == "0001_init"
    assert res["postgres.read_only"].status is Status.PASS


def test_missing_migrations_table(pg: Callable[..., CheckContext]) -> None:
    m = load_manifest()
    pg_settings = m.checks.postgres.model_copy(update={"latest_migration": "1", "migrations_table": "no_such_table"})
    checks = m.checks.model_copy(update={"postgres": pg_settings})
    _, results, _ = run(pg(manifest=m.model_copy(update={"checks": checks})))
    mig = next(r for r in results if r.id == "postgres.migration")
    assert mig.status is Status.FAIL and "does not exist" in mig.summary
    assert next(r for r in results if r.id == "postgres.latency").status is Status.PASS  # savepoint kept the rest


def test_wrong_password(postgres_server: ServiceHandle, pg: Callable[..., CheckContext]) -> None:
    url = with_parts(postgres_server.env["DATABASE_URL"], password="Wrong-Passw0rd-xyz")
    res, results, _ = run(pg(url))
    assert res["postgres.auth"].status is Status.FAIL
    assert "postgres.connect" not in res
    assert "Wrong-Passw0rd-xyz" not in text_of(results)


def test_database_missing(postgres_server: ServiceHandle, pg: Callable[..., CheckContext]) -> None:
    res, _, _ = run(pg(with_parts(postgres_server.env["DATABASE_URL"], path="/no_such_db")))
    assert res["postgres.database"].status is Status.FAIL


def test_connection_refused(pg: Callable[..., CheckContext], closed_port: int) -> None:
    res, _, elapsed = run(pg(f"postgresql://filot_app:pw-1234@127.0.0.1:{closed_port}/filot?sslmode=verify-full",
                             timeout=FAULT_TIMEOUT))
    assert res["postgres.refused"].status is Status.FAIL
    within(elapsed, FAULT_TIMEOUT, "postgres refused")


def test_silent_host_times_out_within_the_bound(pg: Callable[..., CheckContext], silent_port: int) -> None:
    res, _, elapsed = run(pg(f"postgresql://filot_app:pw-1234@127.0.0.1:{silent_port}/filot?sslmode=verify-full",
                             timeout=FAULT_TIMEOUT))
    assert res["postgres.connect_timeout"].status is Status.FAIL
    within(elapsed, FAULT_TIMEOUT + 0.5, "a silent host")  # the checker's budget, --timeout


def test_server_without_ssl(pg_nossl: ServiceHandle, pg: Callable[..., CheckContext]) -> None:
    res, results, _ = run(pg(pg_nossl.env["DATABASE_URL"]))
    assert res["postgres.server_ssl"].status is Status.FAIL
    assert db_password(pg_nossl.env["DATABASE_URL"]) not in text_of(results)


def test_unknown_ca(postgres_server: ServiceHandle, pg: Callable[..., CheckContext]) -> None:
    # No sslrootcert in the DSN and no --ca-file: the sandbox CA is not among the system CAs.
    url = with_parts(postgres_server.env["DATABASE_URL"], query="sslmode=verify-full")
    res, _, _ = run(pg(url, ca_file=None))
    assert res["postgres.tls_ca"].status is Status.FAIL


def test_hostname_mismatch(postgres_server: ServiceHandle, pg: Callable[..., CheckContext]) -> None:
    # Same server, reached through hostaddr, but verified against a name its certificate does not carry.
    p = urlsplit(postgres_server.env["DATABASE_URL"])
    url = with_parts(postgres_server.env["DATABASE_URL"], netloc=f"{p.username}:{p.password}@db.wrong.invalid:{p.port}",
                     query=f"{p.query}&hostaddr=127.0.0.1")
    res, _, _ = run(pg(url))
    assert res["postgres.tls_hostname"].status is Status.FAIL


def test_insecure_connects_but_warns(postgres_server: ServiceHandle, pg: Callable[..., CheckContext]) -> None:
    url = with_parts(postgres_server.env["DATABASE_URL"], query="sslmode=require")
    res, _, _ = run(pg(url, ca_file=None, insecure=True))
    assert res["postgres.insecure"].status is Status.WARN
    assert res["postgres.sslmode"].status is Status.WARN
    assert res["postgres.connect"].status is Status.PASS


@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "postgres+asyncpg"])
def test_malformed_dsn_leaks_nothing_even_without_a_redactor(
    postgres_server: ServiceHandle, pg: Callable[..., CheckContext], scheme: str
) -> None:
    url = postgres_server.env["DATABASE_URL"].replace("postgresql://", f"{scheme}://", 1)
    password = db_password(postgres_server.env["DATABASE_URL"])
    with pytest.raises(psycopg.ProgrammingError) as driver:
        psycopg.connect(url)
    assert password in str(driver.value)  # the driver does echo it: the reason for this test
    ctx = pg(url)
    ctx.redactor = type(ctx.redactor)()  # a redactor that knows nothing: the checker alone must not leak
    res, results, _ = run(ctx)
    assert res["postgres.dsn"].status is Status.FAIL
    out = text_of(results)
    assert password not in out and "127.0.0.1" not in out and url not in out


def test_missing_ca_file_is_a_finding_not_a_crash(postgres_server: ServiceHandle, pg: Callable[..., CheckContext],
                                                  tmp_path: Path) -> None:
    url = with_parts(postgres_server.env["DATABASE_URL"], query=f"sslmode=verify-full&sslrootcert={tmp_path}/no.pem")
    res, _, _ = run(pg(url))
    assert res["postgres.tls_ca"].status is Status.FAIL
    assert "postgres.connect" not in res
