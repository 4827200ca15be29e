"""The temporal checker against the sandbox's Temporal dev server, its nginx TLS front and worker stand-ins."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from filot_preflight.checkers.base import CheckContext
from filot_preflight.checkers.temporal import TemporalChecker
from filot_preflight.manifest import load as load_manifest
from filot_preflight.models import CheckResult, Status
from filot_preflight.sandbox import certs, workers
from filot_preflight.sandbox.base import SandboxContext, ServiceHandle
from tests._timing import within

if TYPE_CHECKING:
    from fixtures_redis_faults import RedisFaults

TIMEOUT = 3.0
FAULT_TIMEOUT = 1.0


def run(ctx: CheckContext) -> tuple[dict[str, CheckResult], float]:
    t0 = time.monotonic()
    results = asyncio.run(TemporalChecker().run(ctx))
    elapsed = time.monotonic() - t0
    by_id = {r.id: r for r in results}
    assert len(by_id) == len(results)
    for r in results:
        assert r.status in (Status.PASS, Status.SKIP) or r.remediation, f"{r.id} has no fix"
    return by_id, elapsed


def tls_env(temporal_tls: ServiceHandle, **changes: str | None) -> dict[str, str]:
    env = {**temporal_tls.env, **changes}
    return {k: v for k, v in env.items() if v is not None}


def statuses(res: dict[str, CheckResult]) -> dict[str, Status]:
    return {i: r.status for i, r in res.items()}


def test_not_configured_skips_and_checks_the_redis_fallback(make_ctx: Callable[..., CheckContext]) -> None:
    res, _ = run(make_ctx({"REDIS_URL": "rediss://default:pw@db.example.com:6379/0", "OCR_QUEUE_KEY": "q"}))
    assert statuses(res) == {"temporal.configured": Status.SKIP, "temporal.fallback": Status.PASS}
    assert res["temporal.configured"].summary == "not configured: Redis fallback in effect"
    res, _ = run(make_ctx({"TEMPORAL_NAMESPACE": "filot-prod.abc", "OCR_QUEUE_KEY": "q"}))
    assert res["temporal.fallback"].status is Status.FAIL
    assert res["temporal.fallback"].evidence["missing"] == ["REDIS_URL"]
    assert res["temporal.partial"].status is Status.WARN


def test_tls_with_api_key_and_mtls_against_the_front(
    temporal_tls: ServiceHandle, temporal_worker: ServiceHandle, sandbox_ctx: SandboxContext,
    make_ctx: Callable[..., CheckContext],
) -> None:
    env = tls_env(temporal_tls)
    res, _ = run(make_ctx(env, timeout=TIMEOUT, ca_file=sandbox_ctx.certs.ca_pem, allow_loopback=True))
    assert set(statuses(res).values()) == {Status.PASS}, [(r.id, r.summary, r.detail) for r in res.values()]
    assert set(res) == {
        "temporal.host", "temporal.tls", "temporal.client_cert", "temporal.auth", "temporal.server_cert",
        "temporal.version", "temporal.namespace", "temporal.pollers",
    }
    assert res["temporal.auth"].evidence["auth"] == "api_key+mtls"
    assert res["temporal.version"].evidence["server_version"].count(".") == 2
    assert res["temporal.pollers"].evidence["live_pollers"] >= 1
    assert 300 < res["temporal.client_cert"].evidence["days_left"] <= 366
    text = str([r.model_dump() for r in res.values()])
    assert env["TEMPORAL_API_KEY"] not in text


def test_mtls_only_with_pem_text(
    temporal_tls: ServiceHandle, temporal_worker: ServiceHandle, sandbox_ctx: SandboxContext,
    make_ctx: Callable[..., CheckContext],
) -> None:
    """Certificate and key given as PEM text rather than paths; the front then wants the API key."""
    env = tls_env(
        temporal_tls,
        TEMPORAL_TLS_CERT=Path(temporal_tls.env["TEMPORAL_TLS_CERT"]).read_text(),
        TEMPORAL_TLS_KEY=Path(temporal_tls.env["TEMPORAL_TLS_KEY"]).read_text(),
        TEMPORAL_API_KEY=None,
    )
    res, _ = run(make_ctx(env, timeout=TIMEOUT, ca_file=sandbox_ctx.certs.ca_pem, allow_loopback=True))
    assert res["temporal.client_cert"].status is Status.PASS
    assert res["temporal.auth"].status is Status.FAIL  # the sandbox front requires an API key as well
    assert res["temporal.auth"].evidence["auth"] == "mtls"


def test_client_cert_expiring_soon_warns(
    temporal_tls: ServiceHandle, temporal_worker: ServiceHandle, sandbox_ctx: SandboxContext,
    tmp_path: Path, make_ctx: Callable[..., CheckContext],
) -> None:
    crt, key = certs.issue(sandbox_ctx.certs, tmp_path / "soon.crt", tmp_path / "soon.key", ("filot-client",),
                           days=11, not_before_days_ago=1, client=True)
    env = tls_env(temporal_tls, TEMPORAL_TLS_CERT=str(crt), TEMPORAL_TLS_KEY=str(key))
    res, _ = run(make_ctx(env, timeout=TIMEOUT, ca_file=sandbox_ctx.certs.ca_pem, allow_loopback=True))
    assert res["temporal.client_cert"].status is Status.WARN
    assert res["temporal.client_cert"].evidence["days_left"] <= 10
    assert res["temporal.auth"].status is Status.PASS


def test_plain_loopback_dev_server_allowed_only_with_allow_loopback(
    temporal_server: ServiceHandle, temporal_worker: ServiceHandle, make_ctx: Callable[..., CheckContext]
) -> None:
    res, _ = run(make_ctx(dict(temporal_server.env), timeout=TIMEOUT, allow_loopback=True))
    assert set(statuses(res).values()) == {Status.PASS}, [(r.id, r.summary) for r in res.values()]
    assert res["temporal.tls"].evidence["loopback_allowed"] is True
    strict, _ = run(make_ctx(dict(temporal_server.env), timeout=TIMEOUT))
    assert strict["temporal.tls"].status is Status.FAIL and strict["temporal.host"].status is Status.FAIL


def test_plain_to_a_remote_host_fails_without_connecting(make_ctx: Callable[..., CheckContext]) -> None:
    env = {"TEMPORAL_ADDRESS": "filot-prod.a1b2c.tmprl.cloud:7233", "TEMPORAL_NAMESPACE": "filot-prod.a1b2c",
           "TEMPORAL_TASK_QUEUE": "filot-documents"}
    res, elapsed = run(make_ctx(env, timeout=TIMEOUT))
    assert statuses(res) == {"temporal.tls": Status.FAIL}
    assert "TEMPORAL_API_KEY" in res["temporal.tls"].remediation
    within(elapsed, 0.5, "temporal refusing to connect in plain text")


def test_unknown_namespace_fails(
    temporal_tls: ServiceHandle, sandbox_ctx: SandboxContext, make_ctx: Callable[..., CheckContext]
) -> None:
    env = tls_env(temporal_tls, TEMPORAL_NAMESPACE=f"nope-{uuid.uuid4().hex[:6]}")
    res, _ = run(make_ctx(env, timeout=TIMEOUT, ca_file=sandbox_ctx.certs.ca_pem, allow_loopback=True))
    assert res["temporal.namespace"].status is Status.FAIL and "does not exist" in res["temporal.namespace"].summary
    assert res["temporal.pollers"].status is Status.SKIP


def test_stopped_worker_is_stale_although_still_listed(
    temporal_server: ServiceHandle, sandbox_ctx: SandboxContext, make_ctx: Callable[..., CheckContext]
) -> None:
    """Pollers stay listed after a worker stops: liveness is judged by last_access_time."""
    queue = f"preflight-stale-{uuid.uuid4().hex[:8]}"
    server = dataclasses.replace(temporal_server, env={**temporal_server.env, "TEMPORAL_TASK_QUEUE": queue})
    worker = workers.start_temporal_worker(sandbox_ctx, server, name=f"tw-{queue}")
    worker.stop()
    m = load_manifest()
    manifest = m.model_copy(update={"checks": m.checks.model_copy(
        update={"temporal": m.checks.temporal.model_copy(update={"poller_max_age_s": 2})})})
    time.sleep(3)
    res, _ = run(make_ctx(dict(server.env), timeout=TIMEOUT, allow_loopback=True, manifest=manifest))
    pollers = res["temporal.pollers"]
    assert pollers.status is Status.FAIL and "stopped" in pollers.summary
    assert pollers.evidence["pollers"] >= 1 and pollers.evidence["live_pollers"] == 0


def test_no_poller_at_all_fails(temporal_server: ServiceHandle, make_ctx: Callable[..., CheckContext]) -> None:
    env = {**temporal_server.env, "TEMPORAL_TASK_QUEUE": f"nobody-{uuid.uuid4().hex[:8]}"}
    res, _ = run(make_ctx(env, timeout=TIMEOUT, allow_loopback=True))
    assert res["temporal.pollers"].status is Status.FAIL and res["temporal.pollers"].evidence["pollers"] == 0


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong_api_key", "temporal.auth"),
        ("unknown_ca", "temporal.cert_unknown_ca"),
        ("tls_on_plain", "temporal.tls_on_plain"),
        ("plain_on_tls", "temporal.plain_on_tls"),
        ("refused_tls", "temporal.refused"),
        ("refused_plain", "temporal.refused"),
        ("unresolvable", "temporal.unresolvable"),
        ("silent_tls", "temporal.no_answer"),
        ("silent_plain", "temporal.no_answer"),
        ("hostname_mismatch", "temporal.cert_hostname"),
        ("expired", "temporal.cert_expired"),
    ],
)
def test_failure_modes(
    case: str, expected: str, temporal_tls: ServiceHandle, temporal_server: ServiceHandle,
    sandbox_ctx: SandboxContext, redis_faults: RedisFaults, make_ctx: Callable[..., CheckContext],
) -> None:
    f = redis_faults
    key = temporal_tls.env["TEMPORAL_API_KEY"]
    ca = sandbox_ctx.certs.ca_pem
    env, ca_file = {
        "wrong_api_key": (tls_env(temporal_tls, TEMPORAL_API_KEY="wrong-" + key), ca),
        "unknown_ca": (tls_env(temporal_tls), None),
        "tls_on_plain": (tls_env(temporal_tls, TEMPORAL_ADDRESS=temporal_server.env["TEMPORAL_ADDRESS"]), ca),
        "plain_on_tls": (tls_env(temporal_tls, TEMPORAL_API_KEY=None, TEMPORAL_TLS_CERT=None,
                                 TEMPORAL_TLS_KEY=None), ca),
        "refused_tls": (tls_env(temporal_tls, TEMPORAL_ADDRESS=f"127.0.0.1:{f.closed_port}"), ca),
        "refused_plain": ({**temporal_server.env, "TEMPORAL_ADDRESS": f"127.0.0.1:{f.closed_port}"}, ca),
        "unresolvable": (tls_env(temporal_tls, TEMPORAL_ADDRESS="temporal.does-not-exist.invalid:7233"), ca),
        "silent_tls": (tls_env(temporal_tls, TEMPORAL_ADDRESS=f"127.0.0.1:{f.silent_port}"), ca),
        "silent_plain": ({**temporal_server.env, "TEMPORAL_ADDRESS": f"127.0.0.1:{f.silent_port}"}, ca),
        # TLS endpoints presenting a wrong-host / expired certificate (signed by the faults fixture's CA)
        "hostname_mismatch": (tls_env(temporal_tls, TEMPORAL_ADDRESS=f"127.0.0.1:{f.wrong_host_port}"), f.ca_pem),
        "expired": (tls_env(temporal_tls, TEMPORAL_ADDRESS=f"127.0.0.1:{f.expired_port}"), f.ca_pem),
    }[case]
    res, elapsed = run(make_ctx(env, timeout=FAULT_TIMEOUT, ca_file=ca_file, allow_loopback=True))
    failed = [r.id for r in res.values() if r.status is Status.FAIL]
    assert failed == [expected], [(r.id, r.status, r.summary, r.detail) for r in res.values()]
    within(elapsed, FAULT_TIMEOUT + 0.5, f"temporal {case}")
    assert key not in str([r.model_dump() for r in res.values()])
