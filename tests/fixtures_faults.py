"""Broken endpoints for the cross-cutting fault matrix, all beside the full sandbox stack (`sandbox_stack`).

Every server here that presents a certificate is signed by the STACK's own CA (the one its env file
trusts through PREFLIGHT_CA_FILE), so an expired or wrong-host certificate is exactly that fault and
not "unknown CA" in disguise; the unknown-CA servers use a second, unrelated CA.

- real servers, started through the sandbox modules: Redis (TLS with an expired, a wrong-host and a
  foreign certificate; plain), PostgreSQL (the same three certificates), and one dedicated "victim"
  per subsystem that a test may freeze and kill (`freeze`, `kill`);
- in-process TLS servers (expired / wrong-host / foreign certificate) and a plain HTTP server, shared
  by the HTTP-speaking subsystems (backend, BULI2, R2, AWS) and Temporal: a certificate fault ends the
  TLS handshake before a single protocol byte, so what answers behind it does not change the outcome;
- the shared silent socket (`silent_port` from fixtures_pg_faults) and a closed port.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import signal
import ssl
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from filot_preflight.sandbox import certs as sandbox_certs
from filot_preflight.sandbox import http_apps, moto, postgres, redis, s3, temporal
from filot_preflight.sandbox.base import LOOPBACK, Certs, SandboxContext, ServiceHandle, free_port, wait_until
from filot_preflight.sandbox.procs import is_alive
from filot_preflight.sandbox.stack import Stack
from tests.fixtures_redis_faults import start_tls_redis_with_cert

CERT_FAULTS = ("expired", "wrong_host", "foreign")  # foreign: signed by a CA nobody configured


class _Handler(BaseHTTPRequestHandler):
    """200 with a small JSON body for every method: whatever asks, the answer is unremarkable."""

    def _ok(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({"status": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _ok  # noqa: N815 - stdlib naming

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


class HttpServer(ThreadingHTTPServer):
    """An in-process HTTP server on loopback, with TLS when `cert` is given (handshake in the request thread)."""

    daemon_threads = True

    def __init__(self, cert: tuple[Path, Path] | None = None) -> None:
        super().__init__((LOOPBACK, 0), _Handler)
        self.tls: ssl.SSLContext | None = None
        if cert is not None:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(str(cert[0]), str(cert[1]))
            self.tls.set_alpn_protocols(["http/1.1"])
        self.port: int = self.server_address[1]
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return  # the client refused our certificate: that is the point
        super().finish_request(request, client_address)

    def close(self) -> None:
        """Stop serving and release the port."""
        self.shutdown()
        self.server_close()


def established(port: int) -> int:
    """How many TCP connections to local `port` the kernel holds ESTABLISHED (accepted or still queued).

    A frozen server's backlog counts too: this is how a test knows the checker is mid-conversation.
    """
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                count += 1
    return count


def signal_group(handle: ServiceHandle, sig: int) -> None:
    """Send `sig` to each of the service's process groups (each runs in its own session, pgid = pid), only
    while its leader is still the process we started (never a reused pid)."""
    for pid in handle.pids:
        if is_alive(pid, handle.start_times.get(pid)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)


def freeze(handle: ServiceHandle) -> None:
    """SIGSTOP the service: connections still queue in the kernel, nothing answers."""
    signal_group(handle, signal.SIGSTOP)


def kill(handle: ServiceHandle) -> None:
    """SIGKILL the service: the kernel resets every connection it held."""
    signal_group(handle, signal.SIGKILL)


@dataclass
class FaultLab:
    """The stack's env files as dicts, and every broken endpoint (ports on 127.0.0.1)."""

    stack: Stack
    backend: dict[str, str] = field(repr=False)  # the stack's sandbox.env
    worker: dict[str, str] = field(repr=False)  # the stack's gpu-worker.env
    certs: Certs
    foreign_ca: Path
    silent_port: int
    closed_port: int
    https: dict[str, HttpServer]  # CERT_FAULTS -> an in-process TLS server presenting that certificate
    plain_http: HttpServer
    redis: dict[str, ServiceHandle]  # CERT_FAULTS + "plain"
    redis_password: str = field(repr=False)
    postgres: dict[str, ServiceHandle]  # CERT_FAULTS
    pg_nossl: ServiceHandle
    victims: dict[str, ServiceHandle]  # subsystem -> a dedicated server a test may freeze and kill
    handles: list[ServiceHandle] = field(default_factory=list)  # everything started: stopped at the end
    starts: dict[str, Callable[[], ServiceHandle]] = field(default_factory=dict, repr=False)

    def fresh_victim(self, sub: str) -> ServiceHandle:
        """Replace the (killed) victim of `sub` with a new one."""
        handle = self.starts[sub]()
        self.handles.append(handle)
        self.victims[sub] = handle
        return handle


def stack_certs(stack: Stack) -> Certs:
    """The stack's CA (with its key, to sign broken certificates) and server certificate."""
    d = stack.dir / "certs"
    return Certs(ca_pem=d / "ca.pem", server_crt=d / "server.crt", server_key=d / "server.key", ca_key=d / "ca.key")


@pytest.fixture(scope="session")
def fault_lab(
    sandbox_stack: Stack, pg_nossl: ServiceHandle, silent_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultLab]:
    """Start every broken endpoint beside the stack, concurrently (~2 s); stop them all at the end."""
    from filot_preflight.sandbox import envfiles

    root = tmp_path_factory.mktemp("faults")
    root.chmod(0o755)
    certs = stack_certs(sandbox_stack)
    backend = envfiles.read(sandbox_stack.env_file)
    worker = envfiles.read(sandbox_stack.worker_env_file)
    foreign = sandbox_certs.make_foreign_ca(root / "foreign")
    bad = {
        "expired": sandbox_certs.make_expired_cert(certs, root),
        "wrong_host": sandbox_certs.make_wrong_host_cert(certs, root),
        "foreign": (foreign.server_crt, foreign.server_key),
    }
    ctx = SandboxContext(root, certs, dict(backend))
    password = urlsplit(backend["REDIS_URL"]).password or ""

    def pg_with(cert: tuple[Path, Path]) -> Callable[[], ServiceHandle]:
        c = dataclasses.replace(certs, server_crt=cert[0], server_key=cert[1])
        return lambda: postgres.start(dataclasses.replace(ctx, certs=c), name=f"pg-{cert[0].stem}")

    starts: dict[tuple[str, str], Callable[[], ServiceHandle]] = {
        **{("redis", k): (lambda k=k: start_tls_redis_with_cert(ctx, f"redis-{k}", bad[k], password))
           for k in CERT_FAULTS},
        ("redis", "plain"): lambda: redis.start(ctx, name="redis-plain", tls=False, password=password),
        **{("postgres", k): pg_with(bad[k]) for k in CERT_FAULTS},
        ("victim", "redis"): lambda: redis.start(ctx, name="victim-redis"),
        ("victim", "postgres"): lambda: postgres.start(ctx, name="victim-pg"),
        ("victim", "temporal"): lambda: temporal.start(ctx, name="victim-temporal"),
        ("victim", "r2"): lambda: s3.start(ctx, name="victim-s3"),
        ("victim", "aws"): lambda: moto.start(ctx, name="victim-moto"),
        ("victim", "buli2"): lambda: http_apps.start_buli2(ctx, name="victim-buli2"),
        ("victim", "backend"): lambda: http_apps.start_backend(ctx, name="victim-backend"),
    }
    servers = {k: HttpServer(bad[k]) for k in CERT_FAULTS}
    plain = HttpServer(None)
    handles: list[ServiceHandle] = []
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            futures = {key: pool.submit(fn) for key, fn in starts.items()}
        # Every start has ended here; keep what came up so that none outlives the session, then fail.
        started = {key: f.result() for key, f in futures.items() if f.exception() is None}
        handles.extend(started.values())
        errors = [f.exception() for f in futures.values() if f.exception() is not None]
        if errors:
            raise errors[0]  # type: ignore[misc]
        group = {kind: {k: h for (g, k), h in started.items() if g == kind} for kind in ("redis", "postgres", "victim")}
        yield FaultLab(
            stack=sandbox_stack, backend=backend, worker=worker, certs=certs, foreign_ca=foreign.ca_pem,
            silent_port=silent_port, closed_port=free_port(), https=servers, plain_http=plain,
            redis=group["redis"], redis_password=password, postgres=group["postgres"], pg_nossl=pg_nossl,
            victims=group["victim"], handles=handles,
            starts={k: fn for (g, k), fn in starts.items() if g == "victim"},
        )
    finally:
        for h in handles:  # a frozen victim must be thawed before it can be stopped gracefully
            signal_group(h, signal.SIGCONT)
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda h: h.stop(timeout=5), handles))
        for s in [*servers.values(), plain]:
            s.close()


_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_./:@%+=,?&~*-]*$")


def write_env(path: Path, values: dict[str, str]) -> Path:
    """A dotenv file of `values` (0600: it holds secrets), quoted where a dotenv parser could misread."""
    lines = []
    for k, v in values.items():
        lines.append(f"{k}={v}" if _PLAIN_VALUE.match(v) else '{}="{}"'.format(k, v.replace("\\", "\\\\").replace('"', '\\"')))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def wait_established(port: int, before: int = 0, timeout: float = 5.0) -> None:
    """Wait until a new connection to `port` is ESTABLISHED (the client is talking to it)."""
    wait_until(lambda: established(port) > before, timeout, what=f"a connection to port {port}")


def serve_cases() -> None:
    """A matrix worker process: for each JSON line on stdin ({"env_files": [...], "timeout": s, "phase": p}) run the real
    check flow (core.execute, as `preflight check` does) and answer one JSON line: the report, the seconds
    the run took, or the exception that escaped it.

    The fault matrix runs a few of these side by side: each run has a process (and a GIL) to itself, and
    the probe libraries are imported once per worker instead of once per case.
    """
    import sys
    import time

    from filot_preflight import core
    from filot_preflight.redact import Redactor

    for line in sys.stdin:
        ask = json.loads(line)
        req = core.RunRequest(env_files=tuple(ask["env_files"]), flags={"timeout": float(ask["timeout"])},
                              phase=ask.get("phase", "predeploy"))
        t0 = time.monotonic()
        try:
            report = core.execute(req, Redactor())[1]
            answer: dict[str, Any] = {"report": report.model_dump(mode="json"), "error": None}
        except Exception as e:  # noqa: BLE001 - an escaped exception is the finding; the test reports it
            answer = {"report": None, "error": f"{e.__class__.__name__}: {e}"}
        answer["seconds"] = time.monotonic() - t0
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
