"""The redis checker against real redis-server processes on loopback (TLS, plain, broken certificates)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis

from filot_preflight.checkers.base import CheckContext
from filot_preflight.checkers.redis import RedisChecker
from filot_preflight.models import CheckResult, Status
from filot_preflight.sandbox.base import ServiceHandle
from tests._timing import within

if TYPE_CHECKING:
    from fixtures_redis_faults import RedisFaults

TIMEOUT = 2.0
FAULT_TIMEOUT = 1.0  # loopback answers in milliseconds; a short timeout keeps the hang cases quick


def result_text(results: list[CheckResult]) -> str:
    return "\n".join(f"{r.id} {r.target} {r.summary} {r.detail} {r.remediation} {r.evidence}" for r in results)


def run(ctx: CheckContext) -> tuple[dict[str, CheckResult], float]:
    t0 = time.monotonic()
    results = asyncio.run(RedisChecker().run(ctx))
    elapsed = time.monotonic() - t0
    by_id = {r.id: r for r in results}
    assert len(by_id) == len(results), "one result per id"
    for r in results:
        if r.status not in (Status.PASS, Status.SKIP):
            assert r.remediation, f"{r.id} has no fix"
    return by_id, elapsed


def test_healthy_tls_redis_all_pass(redis_faults: RedisFaults, make_ctx: Callable[..., CheckContext]) -> None:
    ctx = make_ctx(
        {"REDIS_URL": redis_faults.url(redis_faults.tls_port)},
        timeout=TIMEOUT, ca_file=redis_faults.ca_pem, allow_loopback=True,
    )
    res, _ = run(ctx)
    assert {r.status for r in res.values()} == {Status.PASS}, [(r.id, r.summary) for r in res.values()]
    assert set(res) == {
        "redis.tls", "redis.host", "redis.tls_verify", "redis.cert_expiry", "redis.auth",
        "redis.ping", "redis.version", "redis.eviction",
    }
    assert res["redis.host"].evidence["loopback_allowed"] is True
    assert res["redis.version"].evidence["redis_version"].count(".") == 2
    assert res["redis.eviction"].evidence == {
        "maxmemory_policy": "noeviction", "source": "CONFIG GET", "config_allowed": True, "maxmemory": 0,
    }
    assert 300 < res["redis.cert_expiry"].evidence["days_left"] <= 366
    assert res["redis.tls_verify"].evidence["trusted_extra_ca"] == ["--ca-file"]
    assert isinstance(res["redis.ping"].evidence["ping_ms_median"], float)
    assert redis_faults.password not in result_text(list(res.values()))


def test_ca_from_redis_tls_ca_file_variable(redis_faults: RedisFaults, make_ctx: Callable[..., CheckContext]) -> None:
    ctx = make_ctx(
        {"REDIS_URL": redis_faults.url(redis_faults.tls_port), "REDIS_TLS_CA_FILE": str(redis_faults.ca_pem)},
        timeout=TIMEOUT, allow_loopback=True,
    )
    res, _ = run(ctx)
    assert res["redis.tls_verify"].status is Status.PASS
    assert res["redis.tls_verify"].evidence["trusted_extra_ca"] == ["REDIS_TLS_CA_FILE"]


def test_loopback_without_allow_fails(redis_faults: RedisFaults, make_ctx: Callable[..., CheckContext]) -> None:
    ctx = make_ctx({"REDIS_URL": redis_faults.url(redis_faults.tls_port)}, timeout=TIMEOUT, ca_file=redis_faults.ca_pem)
    res, _ = run(ctx)
    assert res["redis.host"].status is Status.FAIL
    assert res["redis.host"].evidence["credentials_sent"] is False
    # Issue 14 item 6: without --allow-loopback nothing is sent to a loopback host (it used to log in, then FAIL).
    assert "redis.auth" not in res


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("refused", "redis.refused"),
        ("tls_on_plain", "redis.tls_on_plain"),
        ("plain_on_tls", "redis.plain_on_tls"),
        ("wrong_password", "redis.auth"),
        ("no_password", "redis.auth"),
        ("unknown_ca", "redis.cert_unknown_ca"),
        ("hostname_mismatch", "redis.cert_hostname"),
        ("expired", "redis.cert_expired"),
        ("unresolvable", "redis.unresolvable"),
        ("silent_tls", "redis.no_answer"),
        ("silent_plain", "redis.no_answer"),
    ],
)
def test_failure_modes(
    case: str, expected: str, redis_faults: RedisFaults, make_ctx: Callable[..., CheckContext]
) -> None:
    f = redis_faults
    url = {
        "refused": f.url(f.closed_port),
        "tls_on_plain": f.url(f.plain_port),
        "plain_on_tls": f.url(f.tls_port, tls=False),
        "wrong_password": f.url(f.tls_port, password="not-the-password"),
        "no_password": f.url(f.tls_port, password=""),
        "unknown_ca": f.url(f.tls_port),
        "hostname_mismatch": f.url(f.wrong_host_port),
        "expired": f.url(f.expired_port),
        "unresolvable": f.url(6379, host="redis.does-not-exist.invalid"),
        "silent_tls": f.url(f.silent_port),
        "silent_plain": f.url(f.silent_port, tls=False),
    }[case]
    ca = None if case == "unknown_ca" else f.ca_pem
    ctx = make_ctx({"REDIS_URL": url}, timeout=FAULT_TIMEOUT, ca_file=ca, allow_loopback=True)
    res, elapsed = run(ctx)
    failed = [r for r in res.values() if r.status is Status.FAIL and r.id not in ("redis.tls",)]
    assert [r.id for r in failed] == [expected], [(r.id, r.summary, r.detail) for r in res.values()]
    within(elapsed, FAULT_TIMEOUT + 0.5, f"redis {case}")  # the checker's budget, --timeout
    assert f.password not in result_text(list(res.values()))
    # No result claims a connection that did not happen.
    assert "redis.ping" not in res


def test_wrong_and_missing_password_have_different_fixes(
    redis_faults: RedisFaults, make_ctx: Callable[..., CheckContext]
) -> None:
    f = redis_faults
    wrong, _ = run(make_ctx({"REDIS_URL": f.url(f.tls_port, password="nope")}, timeout=TIMEOUT, ca_file=f.ca_pem,
                            allow_loopback=True))
    missing, _ = run(make_ctx({"REDIS_URL": f.url(f.tls_port, password="")}, timeout=TIMEOUT, ca_file=f.ca_pem,
                              allow_loopback=True))
    assert "rejected" in wrong["redis.auth"].summary
    assert "has none" in missing["redis.auth"].summary


def test_insecure_skips_verification_with_a_warning(
    redis_faults: RedisFaults, make_ctx: Callable[..., CheckContext]
) -> None:
    f = redis_faults
    res, _ = run(make_ctx({"REDIS_URL": f.url(f.wrong_host_port)}, timeout=TIMEOUT, insecure=True, allow_loopback=True))
    assert res["redis.tls_verify"].status is Status.WARN
    assert res["redis.tls_verify"].evidence["verified"] is False
    assert res["redis.auth"].status is Status.PASS
    expired, _ = run(make_ctx({"REDIS_URL": f.url(f.expired_port)}, timeout=TIMEOUT, insecure=True,
                              allow_loopback=True))
    assert expired["redis.cert_expiry"].status is Status.FAIL
    assert expired["redis.cert_expiry"].evidence["days_left"] < 0


def test_plain_url_to_plain_server_fails_tls_but_checks_the_rest(
    redis_faults: RedisFaults, make_ctx: Callable[..., CheckContext]
) -> None:
    f = redis_faults
    res, _ = run(make_ctx({"REDIS_URL": f.url(f.plain_port, tls=False)}, timeout=TIMEOUT, allow_loopback=True,
                          allow_plaintext_auth=True))
    assert res["redis.tls"].status is Status.FAIL
    assert "rediss://" in res["redis.tls"].remediation
    assert res["redis.auth"].status is Status.PASS
    assert "redis.tls_verify" not in res


def test_eviction_policy_read_where_config_is_forbidden(
    redis_faults: RedisFaults, make_ctx: Callable[..., CheckContext]
) -> None:
    """An ACL user without CONFIG (as on Upstash) falls back to INFO memory; without INFO too, it warns."""
    f = redis_faults
    admin = redis.Redis(host="127.0.0.1", port=f.plain_port, password=f.password)
    admin.acl_setuser("noconfig", enabled=True, passwords=["+noconfig-pw"], keys=["~*"], commands=["+@all", "-config"])
    admin.acl_setuser(
        "noinfo", enabled=True, passwords=["+noinfo-pw"], keys=["~*"], commands=["+@all", "-config", "-info"]
    )
    try:
        url = f"redis://noconfig:noconfig-pw@127.0.0.1:{f.plain_port}/0"
        res, _ = run(make_ctx({"REDIS_URL": url}, timeout=TIMEOUT, allow_loopback=True, allow_plaintext_auth=True))
        ev = res["redis.eviction"]
        assert (ev.status, ev.evidence["source"], ev.evidence["config_allowed"]) == (
            Status.PASS, "INFO memory", False,
        )
        url = f"redis://noinfo:noinfo-pw@127.0.0.1:{f.plain_port}/0"
        res, _ = run(make_ctx({"REDIS_URL": url}, timeout=TIMEOUT, allow_loopback=True, allow_plaintext_auth=True))
        assert res["redis.eviction"].status is Status.WARN
        assert res["redis.version"].status is Status.WARN
    finally:
        admin.acl_deluser("noconfig", "noinfo")
        admin.close()


def test_unsafe_eviction_policy_fails(redis_faults: RedisFaults, make_ctx: Callable[..., CheckContext]) -> None:
    f = redis_faults
    admin = redis.Redis(host="127.0.0.1", port=f.plain_port, password=f.password)
    admin.config_set("maxmemory-policy", "allkeys-lru")
    try:
        res, _ = run(make_ctx({"REDIS_URL": f.url(f.plain_port, tls=False)}, timeout=TIMEOUT, allow_loopback=True,
                              allow_plaintext_auth=True))
    finally:
        admin.config_set("maxmemory-policy", "noeviction")
        admin.close()
    assert res["redis.eviction"].status is Status.FAIL
    assert "noeviction" in res["redis.eviction"].remediation


def test_missing_url(make_ctx: Callable[..., CheckContext]) -> None:
    res, _ = run(make_ctx({}, timeout=TIMEOUT))
    assert list(res) == ["redis.configured"]
    assert res["redis.configured"].status is Status.FAIL


def test_sandbox_redis_env_passes_as_is(redis_server: ServiceHandle, make_ctx: Callable[..., CheckContext]) -> None:
    """The sandbox's own REDIS_URL + REDIS_TLS_CA_FILE need no other flag than --allow-loopback."""
    res, _ = run(make_ctx(dict(redis_server.env), timeout=TIMEOUT, allow_loopback=True))
    assert {r.status for r in res.values()} == {Status.PASS}, [(r.id, r.summary) for r in res.values()]


def test_ca_file_that_is_not_pem_is_a_clear_failure(
    redis_faults: RedisFaults, tmp_path: Path, make_ctx: Callable[..., CheckContext]
) -> None:
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate\n")
    res, _ = run(make_ctx({"REDIS_URL": redis_faults.url(redis_faults.tls_port), "REDIS_TLS_CA_FILE": str(junk)},
                          timeout=TIMEOUT, allow_loopback=True))
    assert res["redis.ca_file"].status is Status.FAIL and "REDIS_TLS_CA_FILE" in res["redis.ca_file"].summary
    missing, _ = run(make_ctx({"REDIS_URL": redis_faults.url(redis_faults.tls_port)},
                              timeout=TIMEOUT, ca_file=tmp_path / "absent.pem", allow_loopback=True))
    assert missing["redis.ca_file"].status is Status.FAIL and "--ca-file" in missing["redis.ca_file"].summary
