"""Fixtures for the postgres (and r2) live tests: broken Postgres endpoints, and a CheckContext factory.

- `pg_roles`: a cluster with roles that cannot write, a hot standby of it and a PgBouncer before it;
- `pg_nossl`: a second sandbox PostgreSQL with ssl switched off (the "server without SSL" fault);
- `silent_port`: a loopback socket that accepts and never answers (a black-holed host);
- `closed_port`: a loopback port where nothing listens;
- `preflight_ctx`: builds a CheckContext over given values, with the redactor a real run would have.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import pytest

from filot_preflight.checkers.base import CheckContext
from filot_preflight.manifest import Manifest
from filot_preflight.sandbox import pgbouncer as sandbox_pgbouncer
from filot_preflight.sandbox import postgres as sandbox_postgres
from filot_preflight.sandbox.base import (
    MissingBinary,
    SandboxContext,
    ServiceHandle,
    find_binary,
    free_port,
    launch,
    wait_until,
)
from tests._contexts import build_context
from tests._servers import SilentServer


def _psql_as_superuser(handle: ServiceHandle, sql: str, db: str = "postgres") -> None:
    """Run SQL over the cluster's private unix socket (trusted `local` rule; setup only)."""
    data = Path(handle.info["data"])
    psql = find_binary("psql", sandbox_postgres.INSTALL, [str(Path(p)) for p in sandbox_postgres._PG_BIN_DIRS])
    port = str(handle.ports["postgres"])
    subprocess.run(
        [psql, "-h", str(data.parent), "-p", port, "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1",
         "-qAt", "-c", sql],
        check=True, capture_output=True, timeout=20,
    )


def with_login(url: str, role: str, password: str, port: int | None = None) -> str:
    """`url` with another role (and port)."""
    p = urlsplit(url)
    return urlunsplit((p.scheme, f"{role}:{quote(password, safe='')}@{p.hostname}:{port or p.port}", p.path,
                       p.query, ""))


@dataclass
class PgRoles:
    """A sandbox cluster with the roles that cannot write, its hot standby and a PgBouncer before it.

    `urls`: 'app' (writable), 'read_only' (ALTER ROLE ... SET default_transaction_read_only = on),
    'no_grant' (may only SELECT documents and invoices), 'standby' (app's login on the streaming replica);
    `pooled`: the same logins through PgBouncer (transaction mode, client TLS).
    """

    primary: ServiceHandle
    standby: ServiceHandle | None
    urls: dict[str, str]
    pooled: dict[str, str]


ROLES_SQL = """
CREATE ROLE filot_ro LOGIN PASSWORD '{ro}';
ALTER ROLE filot_ro SET default_transaction_read_only = on;
CREATE ROLE filot_nogrant LOGIN PASSWORD '{ng}';
"""
TABLES_SQL = """
SET ROLE filot_app;
CREATE TABLE documents (id int PRIMARY KEY, body text);
CREATE TABLE invoices (id int PRIMARY KEY, total numeric);
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO filot_ro;
GRANT SELECT ON documents, invoices TO filot_nogrant;
GRANT INSERT ON documents TO filot_nogrant;
"""


@pytest.fixture(scope="session")
def pg_roles(sandbox_ctx: SandboxContext) -> Iterator[PgRoles]:
    """A second sandbox cluster with a read-only role, a role missing GRANTs, a real hot standby
    (pg_basebackup -R, streaming) and PgBouncer in front of the primary."""
    try:
        primary = sandbox_postgres.start(sandbox_ctx, name="postgres-roles")
    except MissingBinary as e:
        pytest.skip(str(e))
    handles = [primary]
    try:
        ro_pw, ng_pw = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
        _psql_as_superuser(primary, ROLES_SQL.format(ro=ro_pw, ng=ng_pw))
        _psql_as_superuser(primary, TABLES_SQL, db="filot")
        app = primary.env["DATABASE_URL"]
        urls = {"app": app, "read_only": with_login(app, "filot_ro", ro_pw),
                "no_grant": with_login(app, "filot_nogrant", ng_pw)}
        standby = _start_standby(sandbox_ctx, primary)
        handles.append(standby)
        urls["standby"] = with_login(app, *_login(app), port=standby.ports["postgres"])
        pooled: dict[str, str] = {}
        try:
            bouncer = sandbox_pgbouncer.start(sandbox_ctx, primary, name="pgbouncer-roles",
                                              users={"filot_ro": ro_pw, "filot_nogrant": ng_pw})
            handles.append(bouncer)
            port = bouncer.ports["pgbouncer"]
            pooled = {k: with_login(v, *_login(v), port=port) for k, v in urls.items() if k != "standby"}
        except MissingBinary:
            pass
        yield PgRoles(primary, standby, urls, pooled)
    finally:
        for h in reversed(handles):
            h.stop()


def _login(url: str) -> tuple[str, str]:
    p = urlsplit(url)
    return str(p.username), unquote(str(p.password))


def _start_standby(ctx: SandboxContext, primary: ServiceHandle) -> ServiceHandle:
    """A streaming replica of `primary`: pg_basebackup -R (standby.signal + primary_conninfo), own port."""
    bindirs = [str(Path(p)) for p in sandbox_postgres._PG_BIN_DIRS]
    basebackup = find_binary("pg_basebackup", sandbox_postgres.INSTALL, bindirs)
    postgres = find_binary("postgres", sandbox_postgres.INSTALL, [str(Path(basebackup).resolve().parent)])
    user = "postgres" if os.geteuid() == 0 else None
    primary_data = Path(primary.info["data"])
    # Replication connections match only rules naming `replication`; the primary's socket is private.
    with open(primary_data / "pg_hba.conf", "a") as hba:
        hba.write("local replication all trust\n")
    _psql_as_superuser(primary, "SELECT pg_reload_conf()")
    pg_dir = sandbox_postgres._pg_dir(ctx.dir / "postgres-standby", user)
    data = pg_dir / "data"
    log = ctx.log_path("postgres-standby")
    sandbox_postgres._run_as([basebackup, "-h", str(primary_data.parent), "-p", str(primary.ports["postgres"]),
                              "-U", "postgres", "-D", str(data), "-R", "-X", "stream", "--no-sync", "--checkpoint=fast"],
                             user, log)
    port = free_port()
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(f"\nport = {port}\nunix_socket_directories = '{pg_dir}'\nhot_standby = on\n")

    def ready() -> bool:
        lines = (data / "postmaster.pid").read_text().splitlines()
        return sandbox_postgres._accepts_ssl(port) and len(lines) >= 8 and lines[7].strip() in ("ready", "standby")

    return launch(ctx, "postgres-standby", [postgres, "-D", str(data)], 30, user=user, ports={"postgres": port},
                  stop_signal=signal.SIGINT, ready=ready, info={"data": str(data), "scratch": str(pg_dir)})


@pytest.fixture(scope="session")
def pg_nossl(sandbox_ctx: SandboxContext) -> Iterator[ServiceHandle]:
    """A sandbox PostgreSQL whose ssl is switched off after start; env DATABASE_URL asks for verify-full."""
    try:
        handle = sandbox_postgres.start(sandbox_ctx, name="postgres-nossl")
    except MissingBinary as e:
        pytest.skip(str(e))
    try:
        _psql_as_superuser(handle, "ALTER SYSTEM SET ssl = off")
        _psql_as_superuser(handle, "SELECT pg_reload_conf()")
        port = handle.ports["postgres"]
        wait_until(lambda: not sandbox_postgres._accepts_ssl(port), 10, what="ssl off after reload")
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    server = SilentServer()
    yield server.port
    server.close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening (connection refused)."""
    return free_port()


def build_ctx(values: dict[str, str], manifest: Manifest | None = None, **options: Any) -> CheckContext:
    """A CheckContext over `values` (unlabelled, shared by every service) with a run's redactor."""
    return build_context(values, manifest=manifest, **options)


@pytest.fixture
def preflight_ctx() -> Callable[..., CheckContext]:
    """Factory: `preflight_ctx({'DATABASE_URL': ...}, manifest=None, timeout=2, ca_file=..., allow_loopback=True)`."""
    return build_ctx
