"""Fixtures for the postgres (and r2) live tests: broken Postgres endpoints, and a CheckContext factory.

- `pg_nossl`: a second sandbox PostgreSQL with ssl switched off (the "server without SSL" fault);
- `silent_port`: a loopback socket that accepts and never answers (a black-holed host);
- `closed_port`: a loopback port where nothing listens;
- `preflight_ctx`: builds a CheckContext over given values, with the redactor a real run would have.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from filot_preflight.checkers.base import CheckContext
from filot_preflight.manifest import Manifest
from filot_preflight.sandbox import postgres as sandbox_postgres
from filot_preflight.sandbox.base import (
    MissingBinary,
    SandboxContext,
    ServiceHandle,
    find_binary,
    free_port,
    wait_until,
)
from tests._contexts import build_context
from tests._servers import SilentServer


def _psql_as_superuser(handle: ServiceHandle, sql: str) -> None:
    """Run SQL over the cluster's private unix socket (trusted `local` rule; setup only)."""
    data = Path(handle.info["data"])
    psql = find_binary("psql", sandbox_postgres.INSTALL, [str(Path(p)) for p in sandbox_postgres._PG_BIN_DIRS])
    port = str(handle.ports["postgres"])
    subprocess.run(
        [psql, "-h", str(data.parent), "-p", port, "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1",
         "-qAt", "-c", sql],
        check=True, capture_output=True, timeout=20,
    )


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
