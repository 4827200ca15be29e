"""Broken Redis endpoints for fault tests: each failure mode of the redis checker, on loopback, for real.

One session-scoped `redis_faults` fixture starts, through the sandbox code, a healthy TLS redis-server,
a plain-text one, and TLS ones presenting a wrong-host and an expired certificate (all signed by this
fixture's own CA), plus a socket that accepts and never answers and a port where nothing listens.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from filot_preflight.checkers.base import CheckContext
from filot_preflight.sandbox import certs as sandbox_certs
from filot_preflight.sandbox import redis as sandbox_redis
from filot_preflight.sandbox.base import (
    LOOPBACK,
    MissingBinary,
    SandboxContext,
    ServiceHandle,
    find_binary,
    free_port,
    launch,
    port_open,
)
from tests._contexts import build_context
from tests._servers import SilentServer


def start_tls_redis_with_cert(ctx: SandboxContext, name: str, cert: tuple[Path, Path], password: str) -> ServiceHandle:
    """A TLS-only redis-server presenting `cert` (the sandbox's `start` verifies its own readiness with
    the good certificate, so a deliberately broken one needs this plain port-open readiness check)."""
    binary = find_binary("redis-server", sandbox_redis.INSTALL)
    port = free_port()
    state = ctx.state_dir(name)
    conf = state / "redis.conf"
    conf.touch(mode=0o600)
    conf.write_text(
        "\n".join(
            [
                f"bind {LOOPBACK}",
                f"dir {state.resolve()}",
                'save ""',
                "appendonly no",
                "port 0",
                f"tls-port {port}",
                f"tls-cert-file {cert[0].resolve()}",
                f"tls-key-file {cert[1].resolve()}",
                f"tls-ca-cert-file {ctx.certs.ca_pem.resolve()}",
                "tls-auth-clients no",
                f"requirepass {password}",
            ]
        )
        + "\n"
    )
    return launch(ctx, name, [binary, str(conf.resolve())], 15.0, ports={"redis": port}, ready=lambda: port_open(port))


@dataclass
class RedisFaults:
    """Endpoints for every failure mode; URLs carry the password, so never print them in a test."""

    ca_pem: Path
    password: str
    tls_port: int
    plain_port: int
    wrong_host_port: int
    expired_port: int
    silent_port: int
    closed_port: int
    handles: list[ServiceHandle] = field(default_factory=list)

    def url(self, port: int, *, tls: bool = True, password: str | None = None, host: str = LOOPBACK) -> str:
        """A REDIS_URL for `port` with this fixture's (or the given) password."""
        pw = self.password if password is None else password
        cred = f"default:{pw}@" if pw else ""
        return f"{'rediss' if tls else 'redis'}://{cred}{host}:{port}/0"


@pytest.fixture(scope="session")
def redis_faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisFaults]:
    """Start the broken (and one healthy) Redis endpoints once per session; stop them afterwards."""
    try:
        find_binary("redis-server", sandbox_redis.INSTALL)
    except MissingBinary as e:
        pytest.skip(str(e))
    root = tmp_path_factory.mktemp("redis-faults")
    root.chmod(0o755)
    certs = sandbox_certs.make_certs(root / "certs")
    ctx = SandboxContext(dir=root, certs=certs)
    password = secrets.token_hex(16)
    handles: list[ServiceHandle] = []
    silent = SilentServer()
    try:
        good = sandbox_redis.start(ctx, name="redis-tls", password=password)
        handles.append(good)
        plain = sandbox_redis.start(ctx, name="redis-plain", tls=False, password=password)
        handles.append(plain)
        wrong = start_tls_redis_with_cert(
            ctx, "redis-wrong-host", sandbox_certs.make_wrong_host_cert(certs, root / "certs"), password
        )
        handles.append(wrong)
        expired = start_tls_redis_with_cert(
            ctx, "redis-expired", sandbox_certs.make_expired_cert(certs, root / "certs"), password
        )
        handles.append(expired)
        yield RedisFaults(
            ca_pem=certs.ca_pem,
            password=password,
            tls_port=good.ports["redis"],
            plain_port=plain.ports["redis"],
            wrong_host_port=wrong.ports["redis"],
            expired_port=expired.ports["redis"],
            silent_port=silent.port,
            closed_port=free_port(),  # handed out and never bound: connections are refused
            handles=handles,
        )
    finally:
        silent.close()
        for h in handles:
            h.stop(timeout=5)


@pytest.fixture
def make_ctx() -> Callable[..., CheckContext]:
    """Factory fixture: `make_ctx({'REDIS_URL': ...}, worker={...}, timeout=2, ca_file=...)`."""
    return build_context

