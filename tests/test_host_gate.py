"""Issue 14 item 6: no credential and no request reaches a host the policy refuses.

Every live checker runs against a recording listener on loopback (it accepts, counts connections and keeps
every byte), addressed in the forms that used to pass for public (`localhost.`, `127.1`, `2130706433`,
`0x7f.1`, `[::1]`): without --allow-loopback the listener sees no connection at all and the checker gives
its "not a production host" result; with --allow-loopback the same address reaches the listener (so the
first assertion means something). Metadata addresses stay refused even with --allow-loopback. The DNS
rebinding case (a public-looking name whose answer is 127.0.0.1) is in tests/test_host_gate_rebind.py.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from filot_preflight.checkers.alarms import AlarmsChecker
from filot_preflight.checkers.autoscaling import AutoscalingChecker
from filot_preflight.checkers.aws_secrets import AwsSecretsChecker
from filot_preflight.checkers.backend import BackendChecker
from filot_preflight.checkers.base import CheckContext, Checker
from filot_preflight.checkers.buli2 import Buli2Checker
from filot_preflight.checkers.ecs_services import EcsServicesChecker
from filot_preflight.checkers.ecs_taskdefs import EcsTaskDefsChecker
from filot_preflight.checkers.gpu_worker import GpuWorkerChecker
from filot_preflight.checkers.postgres import PostgresChecker
from filot_preflight.checkers.r2 import R2Checker
from filot_preflight.checkers.redis import RedisChecker
from filot_preflight.checkers.rotation import RotationChecker
from filot_preflight.checkers.temporal import TemporalChecker
from filot_preflight.models import CheckResult, Status
from filot_preflight.net.host_gate import check_host_sync
from filot_preflight.rules.hosts import decide
from tests._contexts import build_context
from tests._servers import RecordingServer

CANARY = "gateCanary" + "7d1f0c9a4e2b8d63a5f1"
TIMEOUT = 1.5


class Listener(RecordingServer):
    """Accepts TCP connections on one loopback address, counts them and records every byte; never answers."""

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            while chunk := conn.recv(4096):
                self.record(chunk)
        except OSError:
            return

    def seen(self) -> tuple[int, bytes]:
        """(connections accepted, bytes received) so far."""
        time.sleep(0.05)  # a connection being accepted right now is counted
        with self.lock:
            return self.connections, bytes(self.received)


@pytest.fixture
def v4() -> Iterator[Listener]:
    server = Listener(socket.AF_INET, "127.0.0.1")
    yield server
    server.close()


@pytest.fixture
def v6() -> Iterator[Listener]:
    try:
        server = Listener(socket.AF_INET6, "::1")
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    yield server
    server.close()


@dataclass(frozen=True)
class Case:
    """One live checker: its env for a host/port, the result ids a refused host gives, options it needs."""

    checker: Callable[[], Checker]
    env: Callable[[str, int], dict[str, str]]
    refused_ids: tuple[str, ...]
    aws: bool = False


def _aws_env(_h: str, _p: int) -> dict[str, str]:
    return {"AWS_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "AKIAGATETEST00000000", "AWS_SECRET_ACCESS_KEY": CANARY}


CASES: dict[str, Case] = {
    "redis": Case(RedisChecker, lambda h, p: {"REDIS_URL": f"rediss://default:{CANARY}@{h}:{p}/0"}, ("redis.host",)),
    "gpu_worker": Case(GpuWorkerChecker, lambda h, p: {"REDIS_URL": f"rediss://default:{CANARY}@{h}:{p}/0",
                                                       "OCR_QUEUE_KEY": "ocr"}, ("gpu_worker.redis",)),
    "postgres": Case(PostgresChecker, lambda h, p: {
        "DATABASE_URL": f"postgresql://app:{CANARY}@{h}:{p}/neondb?sslmode=verify-full"}, ("postgres.host",)),
    "temporal": Case(TemporalChecker, lambda h, p: {
        "TEMPORAL_ADDRESS": f"{h}:{p}", "TEMPORAL_API_KEY": CANARY, "TEMPORAL_NAMESPACE": "filot.acct",
        "TEMPORAL_TASK_QUEUE": "ocr"}, ("temporal.host",)),
    "r2": Case(R2Checker, lambda h, p: {
        "CF_R2_ENDPOINT": f"https://{h}:{p}", "CF_R2_ACCESS_KEY_ID": "0123456789abcdef0123456789abcdef",
        "CF_R2_SECRET_ACCESS_KEY": CANARY, "CF_R2_BUCKET": "filot-documents"}, ("r2.host",)),
    "backend": Case(BackendChecker, lambda h, p: {"API_BASE_URL": f"https://{h}:{p}"}, ("backend.url",)),
    "buli2": Case(Buli2Checker, lambda h, p: {
        "BULI2_API_URL": f"https://{h}:{p}", "BULI2_API_KEY": CANARY, "BULI2_SIGNATURE_SECRET": CANARY[::-1],
        "BULI2_CALLBACK_URL": f"https://{h}:{p}/webhooks/buli2"}, ("buli2.api_url", "buli2.callback_url")),
    "aws_secrets": Case(AwsSecretsChecker, _aws_env, ("aws_secrets.config",), aws=True),
    "ecs_taskdefs": Case(EcsTaskDefsChecker, _aws_env, ("ecs_taskdefs.source",), aws=True),
    "rotation": Case(RotationChecker, _aws_env, ("rotation.source",), aws=True),
    "alarms": Case(AlarmsChecker, _aws_env, ("alarms.source",), aws=True),
    "autoscaling": Case(AutoscalingChecker, lambda h, p: {**_aws_env(h, p), "ECS_CLUSTER": "filot-prod"},
                        ("autoscaling.source",), aws=True),
    "ecs_services": Case(EcsServicesChecker, lambda h, p: {**_aws_env(h, p), "ECS_CLUSTER": "filot-prod"},
                         ("ecs_services.source",), aws=True),
}
# The forms of 127.0.0.1 the live checkers used to call public, as they appear in a URL.
V4_FORMS = ("localhost.", "127.1", "2130706433", "0x7f.1", "127.0.0.1")


def _run(case: Case, host: str, port: int, timeout: float = TIMEOUT, **opts: Any) -> dict[str, CheckResult]:
    env = case.env(host, port)
    if case.aws:
        opts = {"aws_endpoint": f"https://{host}:{port}", "aws_region": "eu-central-1", **opts}
    ctx: CheckContext = build_context(env, worker=env, timeout=timeout, **opts)
    results = asyncio.run(case.checker().run(ctx))
    return {r.id: r for r in results}


def _no_canary(results: dict[str, CheckResult]) -> None:
    text = " ".join(f"{r.summary} {r.detail} {r.remediation} {r.evidence}" for r in results.values())
    assert CANARY not in text


@pytest.mark.usefixtures("clean_aws_env")
@pytest.mark.parametrize("form", V4_FORMS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_refused_loopback_host_gets_no_connection(name: str, form: str, v4: Listener) -> None:
    case = CASES[name]
    res = _run(case, form, v4.port)
    conns, got = v4.seen()
    assert conns == 0 and got == b"", f"{name} connected to {form} without --allow-loopback"
    for rid in case.refused_ids:
        assert res[rid].status is Status.FAIL, (rid, res[rid].summary)
        text = f"{res[rid].summary} {res[rid].detail} {res[rid].evidence}"
        assert "loopback" in text and "--allow-loopback" in f"{text} {res[rid].remediation}"
    _no_canary(res)


@pytest.mark.usefixtures("clean_aws_env")
@pytest.mark.parametrize("name", sorted(CASES))
def test_ipv6_loopback_is_refused_too(name: str, v6: Listener) -> None:
    res = _run(CASES[name], "[::1]", v6.port)
    assert v6.seen() == (0, b"")
    assert all(res[rid].status is Status.FAIL for rid in CASES[name].refused_ids)


@pytest.mark.usefixtures("clean_aws_env")
@pytest.mark.parametrize("name", sorted(CASES))
def test_with_allow_loopback_the_same_address_is_reached(name: str, v4: Listener) -> None:
    """The control: the listener does see the checker when the policy allows the host."""
    _run(CASES[name], "127.1", v4.port, allow_loopback=True)
    conns, _ = v4.seen()
    assert conns >= 1, f"{name} never reached the listener even with --allow-loopback"


def test_the_evidence_says_what_the_host_is_and_that_nothing_was_sent(v4: Listener) -> None:
    res = _run(CASES["redis"], "2130706433", v4.port)
    ev = res["redis.host"].evidence
    assert ev["host_class"] == "loopback"
    assert ev["contacted"] is False and ev["credentials_sent"] is False
    assert "2130706433 is a loopback address" in str(ev["why_not_contacted"])
    assert "redis.auth" not in res and "redis.tls_verify" not in res  # nothing to judge: nothing was sent


@pytest.mark.parametrize("host", ["169.254.169.254", "[fd00:ec2::254]", "[::ffff:169.254.169.254]", "169.254.170.2"])
def test_metadata_addresses_are_refused_even_with_allow_loopback(host: str) -> None:
    res = _run(CASES["redis"], host, 6379, allow_loopback=True)
    assert set(res) == {"redis.tls", "redis.host"}  # no connection was tried, so no connection result
    r = res["redis.host"]
    assert r.status is Status.FAIL and r.evidence["host_class"] == "metadata"
    assert "not even with --allow-loopback" in str(r.evidence["why_not_contacted"])


@pytest.mark.parametrize(("host", "refused", "cls"), [
    ("localhost.", True, "loopback"), ("127.1", True, "loopback"), ("2130706433", True, "loopback"),
    ("0x7f.1", True, "loopback"), ("::1", True, "loopback"), ("::ffff:127.0.0.1", True, "loopback"),
    ("10.1.2.3", True, "private"), ("fe80::1%eth0", True, "link-local"), ("0.0.0.0", True, "unspecified"),
    ("db.internal", True, "local-name"), ("redis", True, "single-label"), ("api.localhost", True, "loopback"),
    ("169.254.169.254", True, "metadata"), ("8.8.8.8", False, None),
])
def test_the_gate_refuses_every_literal_form(host: str, refused: bool, cls: str | None) -> None:
    check = check_host_sync(host, allow_loopback=False, timeout=1.0)
    assert (check.refused, check.host_class) == (refused, cls)


def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    """The policy itself (pure): one non-public address among public ones refuses the host."""
    assert decide("cache.example.com", ("93.184.216.34",), allow_loopback=False).refused is False
    mixed = decide("cache.example.com", ("93.184.216.34", "127.0.0.1"), allow_loopback=False)
    assert mixed.refused and mixed.host_class == "loopback" and "resolves to 127.0.0.1" in mixed.reason
    meta = decide("cache.example.com", ("169.254.169.254",), allow_loopback=True)
    assert meta.refused and meta.host_class == "metadata"
    assert decide("cache.example.com", ("10.0.0.7",), allow_loopback=True).refused is False
    # A lookup that timed out leaves the addresses unknown: refused (fail closed); one that failed is not
    # (there is no address to send anything to, and the probe reports its own DNS failure).
    assert decide("cache.example.com", None, allow_loopback=False, lookup="timeout").refused is True
    assert decide("cache.example.com", None, allow_loopback=False, lookup="failed").refused is False


def test_a_host_that_resolves_to_loopback_passes_only_with_allow_loopback() -> None:
    """`localhost` through the real resolver: its answer (127.0.0.1 / ::1) is what the gate judges."""
    allowed = check_host_sync("localhost", allow_loopback=True, timeout=2.0)
    assert not allowed.refused and allowed.addresses and allowed.host_class == "loopback"
    assert check_host_sync("localhost", allow_loopback=False, timeout=2.0).refused


@pytest.mark.usefixtures("clean_aws_env")
def test_secrets_generate_put_sends_nothing_to_a_loopback_endpoint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, v4: Listener
) -> None:
    from tests._cli import run

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAGATETEST00000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CANARY)
    code, _, err = run(capsys, "secrets", "generate", "JWT_SECRET", "--put", "--aws-region", "eu-central-1",
                       "--aws-endpoint", f"https://127.1:{v4.port}")
    assert code == 2 and "127.1 is a loopback address" in err
    assert v4.seen() == (0, b"")


def test_every_host_libpq_may_try_is_gated(v4: Listener) -> None:
    """host=a,b: libpq tries b when a fails, so a loopback b is refused although a is a public name."""
    case = Case(PostgresChecker, lambda h, p: {
        "DATABASE_URL": f"postgresql://app:{CANARY}@db.gate-test.invalid:5432,{h}:{p}/neondb?sslmode=verify-full"},
        ("postgres.host",))
    res = _run(case, "127.1", v4.port)
    assert v4.seen() == (0, b"")
    assert res["postgres.host"].status is Status.FAIL and "127.1 is a loopback address" in res["postgres.host"].summary


def test_database_url_direct_is_gated_on_its_own(v4: Listener) -> None:
    case = Case(PostgresChecker, lambda h, p: {
        "DATABASE_URL": f"postgresql://app:{CANARY}@db.gate-test.invalid/neondb?sslmode=verify-full",
        "DATABASE_URL_DIRECT": f"postgresql://app:{CANARY}@{h}:{p}/neondb?sslmode=verify-full"}, ("postgres.host",))
    results = asyncio.run(PostgresChecker().run(build_context(case.env("2130706433", v4.port), timeout=TIMEOUT)))
    assert v4.seen() == (0, b"")
    direct = [r for r in results if r.id == "postgres.host" and r.target == "DATABASE_URL_DIRECT"]
    assert direct and direct[0].status is Status.FAIL and direct[0].evidence["contacted"] is False
    main = next(r for r in results if r.id == "postgres.host" and r.target == "DATABASE_URL")
    assert main.status is Status.PASS  # a public name that does not resolve: its own DNS failure follows
    assert any(r.id == "postgres.dns" for r in results)
