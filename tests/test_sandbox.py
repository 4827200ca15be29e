"""The sandbox against real servers: up/status/down, free ports, env files, exact stop, one-line errors."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import signal
import ssl
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from filot_preflight import manifest as manifest_mod
from filot_preflight.commands.sandbox import app as sandbox_app
from filot_preflight.manifest import RegexFormat, SecretFormat, UrlFormat
from filot_preflight.sandbox import certs, envfiles, postgres, stack, values, workers
from filot_preflight.sandbox import redis as sandbox_redis
from filot_preflight.sandbox.base import (
    MissingBinary,
    SandboxContext,
    ServiceHandle,
    free_port,
    is_alive,
    process_start_time,
)
from filot_preflight.sandbox.http_apps import https_status
from filot_preflight.sandbox.stack import SandboxRunning, Stack

MANIFEST = manifest_mod.load()
WELL_KNOWN = {5000, 5432, 6379, 7233, 8233, 8333, 8888, 9333, 9340}


def _app_ports(st: Stack) -> list[int]:
    return [p for h in st.handles.values() for p in h.ports.values()]


# --- the full stack ------------------------------------------------------------------------------


def test_every_service_runs_and_answers(sandbox_stack: Stack) -> None:
    rows = stack.status(sandbox_stack.dir)
    expected = {"redis", "gpu-worker", "postgres", "temporal", "temporal-tls", "temporal-worker", "s3", "moto"}
    assert expected | {"buli2", "backend"} <= {r["name"] for r in rows}
    assert all(r["running"] and r["answering"] for r in rows), rows
    ports = _app_ports(sandbox_stack)
    assert len(ports) == len(set(ports)), "two services share a port"
    assert not WELL_KNOWN & set(ports), "a fixed default port was used"


def test_env_files_carry_every_consumed_variable_in_a_valid_format(sandbox_stack: Stack) -> None:
    for path, service in ((sandbox_stack.env_file, "backend"), (sandbox_stack.worker_env_file, "gpu-worker")):
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
        env = envfiles.read(path)
        missing = [v.name for v in MANIFEST.consumed_by(service) if v.name not in env]
        assert not missing, f"{path.name} lacks {missing}"
        assert env["PREFLIGHT_ALLOW_LOOPBACK"] == "true"
        assert Path(env["PREFLIGHT_CA_FILE"]).is_absolute() and Path(env["PREFLIGHT_CA_FILE"]).is_file()
        for var in MANIFEST.consumed_by(service):
            _assert_format(var.name, var.format, env[var.name])
    backend = sandbox_stack.env()
    worker = envfiles.read(sandbox_stack.worker_env_file)
    for shared in ("REDIS_URL", "OCR_QUEUE_KEY", "GPU_WORKER_HEARTBEAT_KEY", "SERVICE_INTERNAL_KEY"):
        assert backend[shared] == worker[shared]
    query = parse_qs(urlsplit(backend["DATABASE_URL"]).query)
    assert query["sslmode"] == ["verify-full"] and Path(query["sslrootcert"][0]).is_absolute()
    assert backend["AWS_EC2_METADATA_DISABLED"] == "true" and backend["AWS_ENDPOINT_URL"].startswith("https://")


def _assert_format(name: str, fmt: object, value: str) -> None:
    if isinstance(fmt, RegexFormat):
        assert re.fullmatch(fmt.pattern, value), f"{name} does not match {fmt.pattern}"
    elif isinstance(fmt, SecretFormat):
        assert len(value) >= fmt.min_bytes, f"{name} is too short"
    elif isinstance(fmt, UrlFormat):
        assert urlsplit(value).scheme in fmt.schemes, f"{name}: scheme not in {fmt.schemes}"


def test_real_clients_reach_every_server_with_tls_verified(sandbox_stack: Stack) -> None:
    import boto3
    import psycopg
    import redis

    env = sandbox_stack.env()
    ca = env["PREFLIGHT_CA_FILE"]
    r = redis.Redis.from_url(env["REDIS_URL"], ssl_ca_certs=ca, ssl_check_hostname=True, socket_timeout=5)
    assert r.ping() and r.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    with psycopg.connect(env["DATABASE_URL"], connect_timeout=5) as conn:
        row = conn.execute("SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        assert row == ("filot_app", True)
    with psycopg.connect(env["DATABASE_URL_DIRECT"], connect_timeout=5) as conn:
        row = conn.execute("SELECT current_user, max(version) FROM schema_migrations").fetchone()
        assert row == ("filot_migrate", "0001_init")
    assert env["DATABASE_URL"] != env["DATABASE_URL_DIRECT"]
    s3 = boto3.session.Session().client(
        "s3",
        endpoint_url=env["CF_R2_ENDPOINT"],
        region_name="auto",
        verify=ca,
        aws_access_key_id=env["CF_R2_ACCESS_KEY_ID"],
        aws_secret_access_key=env["CF_R2_SECRET_ACCESS_KEY"],
    )
    s3.head_bucket(Bucket=env["CF_R2_BUCKET"])
    key_header = {"X-API-Key": env["BULI2_API_KEY"]}
    assert https_status(env["BULI2_API_URL"] + "/v1/health", Path(ca), key_header) == 200
    assert https_status(env["BULI2_API_URL"] + "/v1/health", Path(ca), {"X-API-Key": "wrong"}) == 401
    assert https_status(env["API_BASE_URL"] + "/health", Path(ca)) == 200
    assert https_status(env["API_BASE_URL"] + "/ready", Path(ca)) == 200


def test_backend_webhook_verifies_the_buli2_signature(sandbox_stack: Stack) -> None:
    import httpx

    env = sandbox_stack.env()
    body, ts = b'{"review_id":"r-1","decision":"approved"}', str(int(time.time()))
    digest = hmac.new(env["BULI2_SIGNATURE_SECRET"].encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"X-BULI2-Signature": f"sha256={digest}", "X-BULI2-Timestamp": ts}
    with httpx.Client(verify=ssl.create_default_context(cafile=env["PREFLIGHT_CA_FILE"]), timeout=5) as client:
        url = env["BULI2_CALLBACK_URL"]
        assert client.post(url, content=body, headers=headers).status_code == 200
        assert client.post(url, content=body + b" ", headers=headers).status_code == 401
        assert client.post(url, content=body).status_code == 401
        stale = {**headers, "X-BULI2-Timestamp": str(int(ts) - 3600)}
        assert client.post(url, content=body, headers=stale).status_code == 401


def test_temporal_over_tls_needs_the_api_key_and_has_a_poller(sandbox_stack: Stack) -> None:
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
    from temporalio.client import Client, TLSConfig

    env = sandbox_stack.env()
    tls = TLSConfig(server_root_ca_cert=Path(env["PREFLIGHT_CA_FILE"]).read_bytes())
    address, namespace = env["TEMPORAL_ADDRESS"], env["TEMPORAL_NAMESPACE"]

    async def probe() -> int:
        client = await asyncio.wait_for(
            Client.connect(address, namespace=namespace, tls=tls, api_key=env["TEMPORAL_API_KEY"]), 10
        )
        queue = TaskQueue(name=env["TEMPORAL_TASK_QUEUE"])
        described = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(namespace=namespace, task_queue=queue)
        )
        with pytest.raises(RuntimeError, match="Unauthenticated"):
            await asyncio.wait_for(Client.connect(address, namespace=namespace, tls=tls, api_key="wrong"), 10)
        return len(described.pollers)

    assert asyncio.run(probe()) >= 1


def test_moto_holds_every_manifest_secret_and_taskdefs_reference_them_by_arn(sandbox_stack: Stack) -> None:
    import boto3

    env = sandbox_stack.env()
    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    )
    sm = session.client("secretsmanager", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"])
    stored = {s["Name"] for s in sm.list_secrets(MaxResults=100)["SecretList"]}
    wanted = {v.aws_secret.id for v in MANIFEST.variables if v.aws_secret and v.name in env}
    assert wanted <= stored
    prefix = f"arn:aws:secretsmanager:{env['AWS_REGION']}:{env['AWS_ACCOUNT_ID']}:secret:"
    for family in ("filot-backend", "filot-gpu-worker"):
        taskdef = json.loads((sandbox_stack.dir / "taskdefs" / f"{family}.json").read_text())
        container = taskdef["containerDefinitions"][0]
        assert container["secrets"] and all(s["valueFrom"].startswith(prefix) for s in container["secrets"])
        plain = {e["name"] for e in container["environment"]}
        assert not plain & {v.name for v in MANIFEST.secrets()}, "a secret sits in plain environment"


# --- single services -----------------------------------------------------------------------------


def test_gpu_worker_consumes_heartbeats_and_pauses_without_touching_jobs(
    redis_server: ServiceHandle, gpu_worker: ServiceHandle
) -> None:
    import redis

    r = redis.Redis.from_url(redis_server.env["REDIS_URL"], ssl_ca_certs=redis_server.env["REDIS_TLS_CA_FILE"])
    queue, beat = gpu_worker.env["OCR_QUEUE_KEY"], gpu_worker.env["GPU_WORKER_HEARTBEAT_KEY"]
    assert time.time() - float(r.get(beat) or 0) < 5
    r.lpush(queue, json.dumps({"id": "job-1", "enqueued_at": time.time()}))
    deadline = time.monotonic() + 5
    while r.llen(queue) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert r.llen(queue) == 0, "the worker did not consume the job"
    workers.pause_gpu_worker(gpu_worker)
    try:
        jobs = [json.dumps({"id": f"held-{i}"}).encode() for i in range(5)]
        r.lpush(queue, *jobs)
        time.sleep(2.5)
        assert r.lrange(queue, 0, -1) == jobs[::-1]
        assert time.time() - float(r.get(beat) or 0) < 5, "heartbeat stopped while paused"
    finally:
        workers.resume_gpu_worker(gpu_worker)
    deadline = time.monotonic() + 5
    while r.llen(queue) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert r.llen(queue) == 0


def test_plain_redis_refuses_nothing_but_is_not_tls(sandbox_ctx) -> None:  # type: ignore[no-untyped-def]
    handle = sandbox_redis.start(sandbox_ctx, name="redis-plain", tls=False)
    try:
        assert handle.env["REDIS_URL"].startswith("redis://") and "REDIS_TLS_CA_FILE" not in handle.env
        assert handle.is_ready()
    finally:
        handle.stop()
    assert not handle.alive()


def test_postgres_beyond_the_postgres_accounts_reach_runs_from_scratch_and_cleans_up(tmp_path: Path) -> None:
    # pytest's tmp tree is 0700: the postgres account cannot enter it, so the cluster lives elsewhere.
    ctx = SandboxContext(tmp_path, certs.make_certs(tmp_path / "certs"))
    handle = postgres.start(ctx)
    scratch = handle.info.get("scratch")
    try:
        assert handle.env["DATABASE_URL"].startswith("postgresql://filot_app:")
        if os.geteuid() == 0:
            assert scratch and Path(scratch).is_dir()
    finally:
        handle.stop()
    assert not handle.alive()
    assert scratch is None or not Path(scratch).exists()


# --- down stops exactly its processes --------------------------------------------------------------


def test_down_stops_exactly_the_processes_up_started(tmp_path: Path) -> None:
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        st = stack.up(tmp_path / "sbx", only=["redis", "buli2"])
        pids = [p for h in st.handles.values() for p in h.pids]
        assert pids and all(is_alive(p) for p in pids)
        with pytest.raises(SandboxRunning):
            stack.up(tmp_path / "sbx", only=["redis"])
        stopped = stack.down(tmp_path / "sbx")
        assert set(stopped) == {"redis", "gpu-worker", "buli2"}
        assert not any(is_alive(p) for p in pids)
        assert bystander.poll() is None, "down killed a process it did not start"
        assert not (tmp_path / "sbx" / stack.STATE_FILE).exists()
        assert stack.down(tmp_path / "sbx") == []
    finally:
        bystander.kill()
        bystander.wait()


def test_a_reused_pid_is_never_signalled() -> None:
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        start = process_start_time(bystander.pid)
        assert start is not None
        stale = ServiceHandle.from_state(
            {"name": "old", "pids": [{"pid": bystander.pid, "start_time": start - 1}], "stop_signal": signal.SIGKILL}
        )
        stale.stop(timeout=0.2)
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_free_ports_are_never_handed_out_twice() -> None:
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)


# --- missing binaries ---------------------------------------------------------------------------


def test_missing_binary_is_one_line_with_the_install_command_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = CliRunner().invoke(sandbox_app, ["up", "--dir", str(tmp_path / "sbx"), "--only", "redis"])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert lines == ["preflight: error: redis-server not found; install it with: apt-get install -y redis-server"]
    assert "Traceback" not in result.output


def test_up_skips_a_missing_service_with_a_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(_ctx: object, **_kw: object) -> ServiceHandle:
        raise MissingBinary("redis-server", sandbox_redis.INSTALL)

    monkeypatch.setattr(sandbox_redis, "start", missing)
    lines: list[str] = []
    st = stack.up(tmp_path / "sbx", only=None, echo=lines.append)
    try:
        assert "redis: skipped, redis-server not found; install it with: apt-get install -y redis-server" in lines
        assert "gpu-worker: skipped, needs redis" in lines
        assert "REDIS_URL" not in st.env() and "DATABASE_URL" in st.env()
    finally:
        stack.down(tmp_path / "sbx")


def test_cli_up_status_down(tmp_path: Path) -> None:
    runner, folder = CliRunner(), str(tmp_path / "sbx")
    up = runner.invoke(sandbox_app, ["up", "--dir", folder, "--only", "redis"])
    assert up.exit_code == 0, up.output
    assert "sandbox.env" in up.output and "preflight check --env-file" in up.output
    status = runner.invoke(sandbox_app, ["status", "--dir", folder])
    assert status.exit_code == 0 and re.search(r"^redis\s+up\b", status.output, re.M)
    down = runner.invoke(sandbox_app, ["down", "--dir", folder])
    assert down.exit_code == 0 and "redis" in down.output
    assert runner.invoke(sandbox_app, ["status", "--dir", folder]).exit_code == 1


# --- certificates and values ----------------------------------------------------------------------


@pytest.mark.parametrize("crypto", [True, False], ids=["cryptography", "openssl"])
def test_certs_verify_and_the_broken_ones_do_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crypto: bool) -> None:
    monkeypatch.setattr(certs, "_have_cryptography", lambda: crypto)
    made = certs.make_certs(tmp_path)
    assert made.server_key.stat().st_mode & 0o077 == 0

    def verify(crt: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["openssl", "verify", "-CAfile", str(made.ca_pem), "-verify_hostname", "localhost", str(crt)],
            capture_output=True,
            text=True,
        )

    assert verify(made.server_crt).returncode == 0
    wrong, _ = certs.make_wrong_host_cert(made, tmp_path)
    assert verify(wrong).returncode != 0
    if crypto:  # an already expired certificate needs the cryptography package
        expired, _ = certs.make_expired_cert(made, tmp_path)
        assert "expired" in verify(expired).stdout + verify(expired).stderr


def test_generated_values_satisfy_the_manifest_rules() -> None:
    vals = values.generate(MANIFEST)
    for var in MANIFEST.variables:
        if var.name in vals:
            _assert_format(var.name, var.format, vals[var.name])
    assert vals["AWS_ACCOUNT_ID"] != "123456789012"
    assert len(vals["JWT_SECRET"]) == 64  # 48 bytes, base64
    assert values.generate(MANIFEST)["JWT_SECRET"] != vals["JWT_SECRET"]


def test_cli_up_fails_with_one_line_and_the_install_command_when_a_demo_service_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from filot_preflight.sandbox import temporal as sandbox_temporal

    def missing(_ctx: object, **_kw: object) -> ServiceHandle:
        raise MissingBinary("temporal", sandbox_temporal.INSTALL)

    monkeypatch.setattr(sandbox_temporal, "start", missing)
    folder = tmp_path / "sbx"
    result = CliRunner().invoke(sandbox_app, ["up", "--dir", str(folder)])
    assert result.exit_code == 1, result.output
    last = [ln for ln in result.output.splitlines() if ln.strip()][-1]
    assert last.startswith("preflight: sandbox did not start: temporal") and "filot-preflight[sandbox]" in last
    assert "next:" not in result.output  # no command that would then fail with production fixes
    assert not [r for r in stack.status(folder) if r["running"]]  # what did start was stopped again
