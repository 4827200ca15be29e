"""An sslmode that allows plain text (disable / allow / prefer / none): no password leaves without TLS unless
--allow-plaintext-auth. Proven with a listener that records every byte it receives and asks for a clear-text
password, as a hostile or misconfigured plain server would, and against the real sandbox PostgreSQL."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable, Iterator

import pytest

from filot_preflight.checkers.base import CheckContext
from filot_preflight.checkers.postgres import PostgresChecker
from filot_preflight.models import CheckResult, Status
from filot_preflight.sandbox.base import SandboxContext, ServiceHandle
from tests._servers import RecordingServer

PASSWORD = "Plain-Canary-7c1f9e2d"
SSL_REQUEST = struct.pack("!ii", 8, 80877103)


class PlainPostgres(RecordingServer):
    """Speaks just enough of the protocol: 'N' to SSLRequest, then asks for a clear-text password."""

    def _read(self, conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError
            data += chunk
        self.record(data)
        return data

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            while True:
                length = struct.unpack("!i", self._read(conn, 4))[0]
                body = self._read(conn, length - 4)
                if length == 8 and body == SSL_REQUEST[4:]:
                    conn.sendall(b"N")
                    continue
                conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
                kind = self._read(conn, 1)
                plen = struct.unpack("!i", self._read(conn, 4))[0]
                self._read(conn, plen - 4)
                assert kind == b"p"
                fields = b"SFATAL\0C28P01\0Mpassword authentication failed\0\0"
                conn.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)
                return
        except (OSError, ConnectionError, AssertionError):
            return


@pytest.fixture
def plain_server() -> Iterator[PlainPostgres]:
    server = PlainPostgres()
    yield server
    server.close()


def run(ctx: CheckContext) -> dict[str, CheckResult]:
    results = asyncio.run(PostgresChecker().run(ctx))
    return {r.id: r for r in results if r.target == "DATABASE_URL"}


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer", None])
def test_no_password_reaches_a_plain_listener_without_the_flag(
    plain_server: PlainPostgres, preflight_ctx: Callable[..., CheckContext], mode: str | None
) -> None:
    query = f"?sslmode={mode}" if mode else ""
    url = f"postgresql://filot_app:{PASSWORD}@127.0.0.1:{plain_server.port}/filot{query}"
    res = run(preflight_ctx({"DATABASE_URL": url}, None, timeout=2, allow_loopback=True))
    assert PASSWORD.encode() not in bytes(plain_server.received)
    assert bytes(plain_server.received) == SSL_REQUEST  # nothing but the TLS question
    login = res["postgres.login"]
    assert login.status is Status.SKIP and "login not tried" in login.summary
    assert login.evidence["tls_offered"] is False
    assert res["postgres.server_ssl"].status is Status.FAIL
    assert res["postgres.sslmode"].status is Status.FAIL
    assert "postgres.connect" not in res


def test_the_flag_sends_it_and_says_so(plain_server: PlainPostgres, preflight_ctx: Callable[..., CheckContext]) -> None:
    url = f"postgresql://filot_app:{PASSWORD}@127.0.0.1:{plain_server.port}/filot?sslmode=prefer"
    res = run(preflight_ctx({"DATABASE_URL": url}, None, timeout=2, allow_loopback=True, allow_plaintext_auth=True))
    assert PASSWORD.encode() in bytes(plain_server.received)  # the opt-in does what it says
    assert "postgres.login" not in res
    assert res["postgres.auth"].status is Status.FAIL  # the listener refused it, as a server may
    assert PASSWORD not in " ".join(f"{r.summary} {r.detail} {r.evidence}" for r in res.values())


def test_verify_full_never_falls_back_even_with_the_flag(plain_server: PlainPostgres,
                                                         preflight_ctx: Callable[..., CheckContext]) -> None:
    url = f"postgresql://filot_app:{PASSWORD}@127.0.0.1:{plain_server.port}/filot?sslmode=verify-full"
    res = run(preflight_ctx({"DATABASE_URL": url}, None, timeout=2, allow_loopback=True, allow_plaintext_auth=True))
    assert PASSWORD.encode() not in bytes(plain_server.received)
    assert res["postgres.server_ssl"].status is Status.FAIL


def test_weak_mode_on_a_tls_server_says_tls_is_offered(postgres_server: ServiceHandle, sandbox_ctx: SandboxContext,
                                                       preflight_ctx: Callable[..., CheckContext]) -> None:
    url = postgres_server.env["DATABASE_URL"].replace("sslmode=verify-full", "sslmode=prefer")
    opts = {"timeout": 3, "ca_file": sandbox_ctx.certs.ca_pem, "allow_loopback": True}
    res = run(preflight_ctx({"DATABASE_URL": url}, None, **opts))
    assert res["postgres.login"].evidence["tls_offered"] is True
    assert "postgres.connect" not in res and "postgres.server_ssl" not in res
    # With the flag it logs in; the server offers TLS, so the login is still verified TLS.
    res = run(preflight_ctx({"DATABASE_URL": url}, None, allow_plaintext_auth=True, **opts))
    assert res["postgres.connect"].status is Status.PASS and "verified TLS" in res["postgres.connect"].summary
    assert res["postgres.privileges"].status is Status.PASS
