"""Writability against real PostgreSQL: a read-only role, a role missing GRANTs, a real hot standby, and the
same through a real PgBouncer in transaction mode with client TLS. Nothing is written while judging it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import psycopg
import pytest

from filot_preflight.checkers.base import CheckContext
from filot_preflight.checkers.postgres import PostgresChecker
from filot_preflight.manifest import Manifest
from filot_preflight.manifest import load as load_manifest
from filot_preflight.models import CheckResult, Status
from filot_preflight.sandbox.base import SandboxContext
from tests.fixtures_pg_faults import PgRoles, with_login

TIMEOUT = 4.0


def manifest_with(**pg: object) -> Manifest:
    m = load_manifest()
    checks = m.checks.model_copy(update={"postgres": m.checks.postgres.model_copy(update=pg)})
    return m.model_copy(update={"checks": checks})


@pytest.fixture
def check(sandbox_ctx: SandboxContext, preflight_ctx: Callable[..., CheckContext]) -> Callable[..., list[CheckResult]]:
    def run(url: str, direct: str | None = None, manifest: Manifest | None = None) -> list[CheckResult]:
        values = {"DATABASE_URL": url} | ({"DATABASE_URL_DIRECT": direct} if direct else {})
        ctx = preflight_ctx(values, manifest, timeout=TIMEOUT, ca_file=sandbox_ctx.certs.ca_pem, allow_loopback=True)
        results = asyncio.run(PostgresChecker().run(ctx))
        for r in results:
            if r.status in (Status.WARN, Status.FAIL, Status.ERROR):
                assert r.remediation, f"{r.id} has no fix"
        return results

    return run


def by_id(results: list[CheckResult], target: str = "DATABASE_URL") -> dict[str, CheckResult]:
    return {r.id: r for r in results if r.target == target}


def next_xid(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint").fetchone()
        assert row is not None
        return int(row[0])


def test_writable_role_passes_without_consuming_a_transaction_id(pg_roles: PgRoles, check: Callable[..., list]) -> None:
    before = next_xid(pg_roles.urls["app"])
    res = by_id(check(pg_roles.urls["app"]))
    assert next_xid(pg_roles.urls["app"]) == before, "judging writability wrote something"
    assert res["postgres.standby"].status is Status.PASS
    assert res["postgres.default_read_only"].status is Status.PASS
    priv = res["postgres.privileges"]
    assert priv.status is Status.PASS, priv.summary
    assert priv.evidence["tables_checked"] == 3  # schema_migrations, documents, invoices of schema public


def test_read_only_role_fails_with_alter_role(pg_roles: PgRoles, check: Callable[..., list]) -> None:
    url = pg_roles.urls["read_only"]
    with psycopg.connect(url, autocommit=True) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("INSERT INTO documents VALUES (1, 'x')")  # what the app would meet
    res = by_id(check(url))
    ro = res["postgres.default_read_only"]
    assert ro.status is Status.FAIL
    assert ro.evidence["source"] == "user"
    assert "ALTER ROLE filot_ro SET default_transaction_read_only = off" in ro.remediation
    assert res["postgres.privileges"].status is Status.PASS  # it has the grants; only the default is wrong
    assert res["postgres.connect"].status is Status.PASS


def test_role_missing_grants_fails_naming_the_grant(pg_roles: PgRoles, check: Callable[..., list]) -> None:
    res = by_id(check(pg_roles.urls["no_grant"]))
    priv = res["postgres.privileges"]
    assert priv.status is Status.FAIL
    assert "GRANT INSERT, UPDATE, DELETE ON public.invoices, public.schema_migrations TO filot_nogrant;" \
        not in priv.remediation  # documents has INSERT: the GRANT lists what is missing, per privilege set
    assert "public.documents: UPDATE,DELETE" in priv.evidence["lacking"]  # type: ignore[operator]
    assert "public.invoices: INSERT,UPDATE,DELETE" in priv.evidence["lacking"]  # type: ignore[operator]
    assert "GRANT INSERT, UPDATE, DELETE ON" in priv.remediation and "TO filot_nogrant;" in priv.remediation
    assert res["postgres.default_read_only"].status is Status.PASS


def test_manifest_tables_limit_the_check_and_name_absent_ones(pg_roles: PgRoles, check: Callable[..., list]) -> None:
    m = manifest_with(tables=["documents", "public.no_such_table"])
    priv = by_id(check(pg_roles.urls["no_grant"], manifest=m))["postgres.privileges"]
    assert priv.status is Status.FAIL
    assert priv.evidence["lacking"] == ["public.documents: UPDATE,DELETE"]
    assert priv.evidence["absent"] == ["public.no_such_table"]
    assert "GRANT UPDATE, DELETE ON public.documents TO filot_nogrant;" in priv.remediation
    ok = by_id(check(pg_roles.urls["app"], manifest=manifest_with(tables=["documents", "invoices"])))
    assert ok["postgres.privileges"].status is Status.PASS
    assert ok["postgres.privileges"].evidence["tables_checked"] == 2


def test_hot_standby_fails_with_the_primary_as_fix(pg_roles: PgRoles, check: Callable[..., list]) -> None:
    url = pg_roles.urls["standby"]
    # It is a real streaming replica: it has the primary's tables and refuses writes.
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO documents VALUES (2, 'x')")
    res = by_id(check(url))
    sb = res["postgres.standby"]
    assert sb.status is Status.FAIL and sb.evidence["in_recovery"] is True
    assert "primary" in sb.remediation
    assert res["postgres.default_read_only"].status is Status.PASS  # the role is fine; the server is not


def test_direct_url_gets_the_same_judgement(pg_roles: PgRoles, check: Callable[..., list]) -> None:
    results = check(pg_roles.urls["app"], direct=pg_roles.urls["read_only"])
    assert by_id(results)["postgres.default_read_only"].status is Status.PASS
    direct = by_id(results, "DATABASE_URL_DIRECT")
    assert direct["postgres.connect"].status is Status.PASS
    assert direct["postgres.default_read_only"].status is Status.FAIL
    standby = by_id(check(pg_roles.urls["app"], direct=pg_roles.urls["standby"]), "DATABASE_URL_DIRECT")
    assert standby["postgres.standby"].status is Status.FAIL
    bad = by_id(check(pg_roles.urls["app"], direct=with_login(pg_roles.urls["app"], "filot_app", "wrong-pw-123")),
                "DATABASE_URL_DIRECT")
    assert bad["postgres.auth"].status is Status.FAIL


# --- through PgBouncer (transaction mode, client TLS required) ---

def pooled(pg_roles: PgRoles, key: str) -> str:
    if not pg_roles.pooled:
        pytest.skip("pgbouncer is not installed (apt-get install -y pgbouncer)")
    return pg_roles.pooled[key]


def test_pgbouncer_healthy_path(pg_roles: PgRoles, check: Callable[..., list]) -> None:
    url = pooled(pg_roles, "app")
    with psycopg.connect(url, prepare_threshold=None, autocommit=True) as conn:  # it is a real pooler in between
        row = conn.execute("SELECT inet_server_port()").fetchone()
        assert row is not None and row[0] == pg_roles.primary.ports["postgres"] != conn.info.port
    before = next_xid(pg_roles.urls["app"])
    results = check(url, direct=pg_roles.urls["app"])
    time.sleep(0.1)
    assert next_xid(pg_roles.urls["app"]) == before
    bad = [(r.id, r.target, r.summary) for r in results if r.status not in (Status.PASS, Status.SKIP)]
    assert not bad
    res = by_id(results)
    assert str(res["postgres.connect"].evidence["tls_version"]).startswith("TLSv1.")
    assert res["postgres.privileges"].status is Status.PASS


def test_pgbouncer_keeps_read_only_and_grant_ids(pg_roles: PgRoles, check: Callable[..., list]) -> None:
    assert by_id(check(pooled(pg_roles, "read_only")))["postgres.default_read_only"].status is Status.FAIL
    assert by_id(check(pooled(pg_roles, "no_grant")))["postgres.privileges"].status is Status.FAIL


def test_pgbouncer_auth_and_database_errors_keep_their_kind(pg_roles: PgRoles, check: Callable[..., list]) -> None:
    url = pooled(pg_roles, "app")
    with pytest.raises(psycopg.OperationalError, match="SASL authentication failed"):
        psycopg.connect(with_login(url, "filot_app", "Wrong-Passw0rd-xyz"), prepare_threshold=None)
    res = by_id(check(with_login(url, "filot_app", "Wrong-Passw0rd-xyz")))
    assert res["postgres.auth"].status is Status.FAIL and "postgres.connect" not in res
    missing = url.replace("/filot?", "/no_such_db?")
    with pytest.raises(psycopg.OperationalError, match="no such database: no_such_db"):
        psycopg.connect(missing, prepare_threshold=None)
    res = by_id(check(missing))
    assert res["postgres.database"].status is Status.FAIL and "postgres.connect" not in res


def test_pgbouncer_tls_errors_keep_their_ids(pg_roles: PgRoles, sandbox_ctx: SandboxContext,
                                             preflight_ctx: Callable[..., CheckContext]) -> None:
    url = pooled(pg_roles, "app").split("?")[0] + "?sslmode=verify-full"
    ctx = preflight_ctx({"DATABASE_URL": url}, None, timeout=TIMEOUT, ca_file=None, allow_loopback=True)
    res = by_id(asyncio.run(PostgresChecker().run(ctx)))
    assert res["postgres.tls_ca"].status is Status.FAIL
