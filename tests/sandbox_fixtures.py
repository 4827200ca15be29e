"""Session-scoped fixtures: real servers on loopback, started through the sandbox code, stopped at the end.

- `sandbox_ctx`: a SandboxContext (folder, CA + server certificate, generated manifest values)
  shared by the per-service fixtures;
- one fixture per service, each a running `ServiceHandle` (its `env` says how to reach it):
  `redis_server`, `postgres_server`, `temporal_server`, `temporal_tls`, `temporal_worker`, `s3_server`,
  `moto_server`, `buli2_app`, `backend_app`, `gpu_worker`;
- `sandbox_stack`: the whole stack via `stack.up` (a `Stack`: handles, env files, CA) in its own folder.

A missing server binary skips the tests that need it, with the install command as the reason; with
CI set in the environment it fails them instead, so a CI image missing a server cannot pass silently.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from filot_preflight import manifest as manifest_mod
from filot_preflight.sandbox import http_apps, moto, postgres, redis, s3, temporal, values, workers
from filot_preflight.sandbox.base import MissingBinary, SandboxContext, ServiceHandle
from filot_preflight.sandbox.certs import make_certs
from filot_preflight.sandbox.stack import Stack


def _missing(e: MissingBinary) -> None:
    if os.environ.get("CI"):
        pytest.fail(str(e), pytrace=False)
    pytest.skip(str(e))


def _serve(start: Callable[[], ServiceHandle]) -> Iterator[ServiceHandle]:
    try:
        handle = start()
    except MissingBinary as e:
        _missing(e)
        raise  # unreachable: skip/fail raise; keeps type checkers content
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def sandbox_ctx() -> Iterator[SandboxContext]:
    """A fresh sandbox folder with certificates and generated values (folder removed at the end).

    Made with mkdtemp and opened to 0755 rather than pytest's 0700 tmp tree, so that postgres (run as
    the postgres account) and nginx workers can reach their files.
    """
    folder = Path(tempfile.mkdtemp(prefix="preflight-sandbox-"))
    folder.chmod(0o755)
    vals = values.generate(manifest_mod.load())
    yield SandboxContext(folder, make_certs(folder / "certs"), vals)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server(sandbox_ctx: SandboxContext) -> Iterator[ServiceHandle]:
    """redis-server, TLS only, password; env: REDIS_URL (rediss://), REDIS_TLS_CA_FILE."""
    yield from _serve(lambda: redis.start(sandbox_ctx))


@pytest.fixture(scope="session")
def postgres_server(sandbox_ctx: SandboxContext) -> Iterator[ServiceHandle]:
    """PostgreSQL, SSL only (hostssl scram), role filot_app owning db filot; env: DATABASE_URL (verify-full)."""
    yield from _serve(lambda: postgres.start(sandbox_ctx))


@pytest.fixture(scope="session")
def temporal_server(sandbox_ctx: SandboxContext) -> Iterator[ServiceHandle]:
    """Temporal dev server, plaintext; env: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE."""
    yield from _serve(lambda: temporal.start(sandbox_ctx))


@pytest.fixture(scope="session")
def temporal_tls(sandbox_ctx: SandboxContext, temporal_server: ServiceHandle) -> Iterator[ServiceHandle]:
    """nginx TLS front of the dev server: API key required, client cert optional; env adds the TLS settings."""
    yield from _serve(lambda: temporal.start_tls_front(sandbox_ctx, temporal_server))


@pytest.fixture(scope="session")
def temporal_worker(
    sandbox_ctx: SandboxContext, temporal_server: ServiceHandle, temporal_tls: ServiceHandle
) -> Iterator[ServiceHandle]:
    """A worker polling the task queue through the TLS front."""
    yield from _serve(lambda: workers.start_temporal_worker(sandbox_ctx, temporal_server, via=temporal_tls))


@pytest.fixture(scope="session")
def s3_server(sandbox_ctx: SandboxContext) -> Iterator[ServiceHandle]:
    """SeaweedFS S3 over HTTPS with real SigV4; env: CF_R2_ENDPOINT, CF_R2_ACCESS_KEY_ID/SECRET, CF_R2_BUCKET."""
    yield from _serve(lambda: s3.start(sandbox_ctx))


@pytest.fixture(scope="session")
def moto_server(sandbox_ctx: SandboxContext) -> Iterator[ServiceHandle]:
    """moto over HTTPS (unseeded); env: AWS_ENDPOINT_URL, AWS_CA_BUNDLE, keys, AWS_ACCOUNT_ID, AWS_REGION."""
    yield from _serve(lambda: moto.start(sandbox_ctx))


@pytest.fixture(scope="session")
def buli2_app(sandbox_ctx: SandboxContext) -> Iterator[ServiceHandle]:
    """BULI2 stand-in; env: BULI2_API_URL, BULI2_API_KEY."""
    yield from _serve(lambda: http_apps.start_buli2(sandbox_ctx))


@pytest.fixture(scope="session")
def backend_app(sandbox_ctx: SandboxContext) -> Iterator[ServiceHandle]:
    """Backend stand-in; env: API_BASE_URL, BULI2_CALLBACK_URL, BULI2_SIGNATURE_SECRET."""
    signature = manifest_mod.load().checks.buli2.signature
    yield from _serve(lambda: http_apps.start_backend(sandbox_ctx, signature=signature))


@pytest.fixture(scope="session")
def gpu_worker(sandbox_ctx: SandboxContext, redis_server: ServiceHandle) -> Iterator[ServiceHandle]:
    """GPU-worker stand-in consuming `redis_server`'s queue; pause it with workers.pause_gpu_worker."""
    yield from _serve(lambda: workers.start_gpu_worker(sandbox_ctx, redis_server.env))


@pytest.fixture(scope="session")
def sandbox_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The full stack (`stack.up`), env files at .env_file / .worker_env_file; `down` at the end.

    Deliberately in pytest's 0700 tmp tree: `up` must cope with folders other accounts cannot enter.
    """
    from filot_preflight.sandbox import stack

    folder = tmp_path_factory.mktemp("sandbox-stack")
    try:
        st = stack.up(folder)
    except MissingBinary as e:
        _missing(e)
        raise
    try:
        yield st
    finally:
        stack.down(folder)
