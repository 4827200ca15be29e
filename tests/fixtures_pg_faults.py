"""Fixtures for the postgres (and r2) live tests: broken Postgres endpoints, and a CheckContext factory.

- `pg_nossl`: a second sandbox PostgreSQL with ssl switched off (the "server without SSL" fault);
- `silent_port`: a loopback socket that accepts and never answers (a black-holed host);
- `closed_port`: a loopback port where nothing listens;
- `preflight_ctx`: builds a CheckContext over given values, with the redactor a real run would have.
"""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from filot_preflight.checkers.base import CheckContext, Options
from filot_preflight.manifest import Manifest
from filot_preflight.manifest import load as load_manifest
from filot_preflight.redact import Redactor, secret_values
from filot_preflight.sandbox import postgres as sandbox_postgres
from filot_preflight.sandbox.base import (
    LOOPBACK,
    MissingBinary,
    SandboxContext,
    ServiceHandle,
    find_binary,
    free_port,
    wait_until,
)
from filot_preflight.sources import Value, ValueStore


class SilentServer:
    """Accepts TCP connections and never sends a byte."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((LOOPBACK, 0))
        self._sock.listen(64)
        self.port: int = self._sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True, name="pg-silent-server")
        self._thread.start()

    def _accept(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(conn)  # kept open: the client waits for an answer that never comes

    def close(self) -> None:
        """Stop accepting and close every held connection."""
        self._stop.set()
        self._thread.join(timeout=2)
        for c in self._held:
            c.close()
        self._sock.close()


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
    m = manifest or load_manifest()
    store = ValueStore()
    store.add(Value(k, SecretStr(v), "file", f"test.env:{i}") for i, (k, v) in enumerate(values.items(), 1))
    redactor = Redactor(secret_values(store.values, {v.name for v in m.secrets()}, {v.name for v in m.variables}))
    return CheckContext(manifest=m, values=store, options=Options(**options), redactor=redactor)


@pytest.fixture
def preflight_ctx() -> Callable[..., CheckContext]:
    """Factory: `preflight_ctx({'DATABASE_URL': ...}, manifest=None, timeout=2, ca_file=..., allow_loopback=True)`."""
    return build_ctx
