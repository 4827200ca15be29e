"""No Redis password crosses the network unencrypted unless --allow-plaintext-auth (issue 14, item 1).

A loopback plain-TCP listener records every byte it receives and answers like a Redis that wants a
password; the redis and gpu_worker checkers run against `redis://default:<canary>@...`.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Callable, Iterator

import pytest

from filot_preflight.checkers.base import CheckContext
from filot_preflight.checkers.gpu_worker import GpuWorkerChecker
from filot_preflight.checkers.redis import RedisChecker
from filot_preflight.models import Status
from tests._servers import RecordingServer


class RecordingRedis(RecordingServer):
    """Records what every client sends; answers each chunk with -NOAUTH, as a password-protected Redis."""

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            while chunk := conn.recv(4096):
                self.record(chunk)
                conn.sendall(b"-NOAUTH Authentication required.\r\n")
        except OSError:
            return


@pytest.fixture
def recorder() -> Iterator[RecordingRedis]:
    server = RecordingRedis()
    yield server
    server.close()


def _run_both(ctx: CheckContext) -> dict[str, list]:  # type: ignore[type-arg]
    out: dict[str, list] = {}  # type: ignore[type-arg]
    for checker in (RedisChecker(), GpuWorkerChecker()):
        for r in asyncio.run(checker.run(ctx)):
            out.setdefault(r.id, []).append(r)
    return out


def test_no_password_byte_reaches_a_plain_listener_without_the_flag(
    recorder: RecordingRedis, make_ctx: Callable[..., CheckContext]
) -> None:
    canary = "plainCanary" + secrets.token_hex(12)
    env = {"REDIS_URL": f"redis://default:{canary}@127.0.0.1:{recorder.port}/0", "OCR_QUEUE_KEY": "ocr"}
    res = _run_both(make_ctx(env, worker=env, timeout=2.0, allow_loopback=True))
    with recorder.lock:
        got = bytes(recorder.received)
    assert got, "the probe did reach the listener (reachability and TLS were probed)"
    assert canary.encode() not in got and b"AUTH" not in got.upper() and b"HELLO" not in got.upper()
    (auth,) = res["redis.auth"]
    assert auth.status is Status.SKIP and auth.evidence["login_tried"] is False
    assert "unencrypted" in auth.summary and "--allow-plaintext-auth" in auth.remediation
    assert auth.evidence["port_speaks"] == "plain-text Redis"
    assert res["redis.tls"][0].status is Status.FAIL
    (live,) = res["gpu_worker.redis"]
    assert live.status is Status.SKIP and "unencrypted" in live.summary
    # ...and with the flag it is sent: the listener would have seen it (the recorder is not blind).
    _run_both(make_ctx(env, worker=env, timeout=2.0, allow_loopback=True, allow_plaintext_auth=True))
    with recorder.lock:
        assert canary.encode() in bytes(recorder.received)


def test_plain_url_to_a_tls_port_is_told_without_credentials(
    redis_server, make_ctx: Callable[..., CheckContext]  # type: ignore[no-untyped-def]
) -> None:
    plain = redis_server.env["REDIS_URL"].replace("rediss://", "redis://")
    res = _run_both(make_ctx({"REDIS_URL": plain, "OCR_QUEUE_KEY": "ocr"}, timeout=2.0, allow_loopback=True))
    (fail,) = res["redis.plain_on_tls"]
    assert fail.status is Status.FAIL and fail.evidence["credentials_sent"] is False
    assert "rediss://" in fail.remediation
    assert res["redis.auth"][0].status is Status.SKIP
