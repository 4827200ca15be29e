"""Real HTTP(S) endpoints for the buli2 and backend checkers: the sandbox apps plus every fault mode.

One session-scoped `http_faults` fixture uses the shared sandbox BULI2 (API key) and backend (health,
HMAC-verified webhook) from sandbox_fixtures, starts a second backend whose webhook uses another secret, and, in
this process, small HTTPS apps the sandbox cannot be configured into: one that accepts everything (auth
not enforced, webhook verification off), an unhealthy/non-JSON one, a redirecting one, and servers with
an expired, a wrong-host and a soon-expiring certificate, a plain-http one, a socket that accepts and
never answers, and a port where nothing listens.
"""

from __future__ import annotations

import functools
import json
import secrets
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from filot_preflight.checkers.base import CheckContext
from filot_preflight.manifest import Manifest
from filot_preflight.manifest import load as load_manifest
from filot_preflight.sandbox import certs as sandbox_certs
from filot_preflight.sandbox import http_apps
from filot_preflight.sandbox.base import LOOPBACK, SandboxContext, ServiceHandle, free_port
from tests._contexts import build_context
from tests._servers import SilentServer


class _Handler(BaseHTTPRequestHandler):
    """Answers by the server's `mode`: 'open' accepts everything; 'unhealthy'; 'redirect'."""

    server: _App

    def do_GET(self) -> None:
        mode, path = self.server.mode, self.path.split("?", 1)[0]
        self.server.get_headers.append({k.lower() for k in self.headers})
        if mode == "unhealthy" and path.endswith("/health"):
            return self._send(200, b"<html><body>It works!</body></html>", "text/html")
        if mode == "unhealthy":
            return self._json(503, {"status": "error", "checks": {"database": "down", "redis": "ok"}})
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "https://login.example.invalid/sso?token=s3cr3t-redirect-token")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return self._json(200, {"status": "ok"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.posts.append(body)
        if self.server.mode == "unhealthy":
            return self._json(500, {"error": "boom"})
        return self._json(200, {"received": True})

    def _json(self, status: int, doc: dict[str, Any]) -> None:
        self._send(status, json.dumps(doc).encode(), "application/json")

    def _send(self, status: int, data: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


class _App(ThreadingHTTPServer):
    """An in-process HTTP(S) server; the TLS handshake runs in the request thread, not the accept loop."""

    daemon_threads = True

    def __init__(self, mode: str, cert: tuple[Path, Path] | None) -> None:
        super().__init__((LOOPBACK, 0), _Handler)
        self.mode = mode
        self.posts: list[bytes] = []
        self.get_headers: list[set[str]] = []  # header names (lower case) of each GET
        self.tls: ssl.SSLContext | None = None
        if cert is not None:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(str(cert[0]), str(cert[1]))
        self.port: int = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def url(self, path: str = "") -> str:
        return f"{'https' if self.tls else 'http'}://{LOOPBACK}:{self.port}{path}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class TrickleServer(SilentServer):
    """Answers every connection with a status line and headers, then one body byte every 0.2 s.

    Each read succeeds before httpx's read timeout, so only the whole-request bound ends it.
    """

    def _on_connection(self, conn: socket.socket) -> None:
        self.serve_in_thread(self._drip, conn)

    def _drip(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
            while not self.stop.wait(0.2):
                conn.sendall(b" ")
        except OSError:
            return


@dataclass
class HttpFaults:
    """URLs (no credentials in them) and the secrets the sandbox apps were started with."""

    ca_pem: Path
    api_key: str = field(repr=False)
    signature_secret: str = field(repr=False)
    buli2_url: str  # sandbox BULI2 (checks the key)
    backend_url: str  # sandbox backend (health, ready, verifying webhook)
    other_secret_backend_url: str  # sandbox backend verifying with a different secret
    open_app: _App  # https, accepts any GET and POST with 200
    unhealthy_app: _App
    redirect_app: _App
    expired_app: _App
    wrong_host_app: _App
    expiring_app: _App  # certificate valid for 10 more days
    plain_app: _App  # http, accepts everything
    silent_port: int
    trickle_port: int  # plain http, answers one byte at a time
    closed_port: int
    handles: list[ServiceHandle] = field(default_factory=list)

    def buli2_env(self, **overrides: str) -> dict[str, str]:
        """The four BULI2 variables pointing at the healthy sandbox apps, with overrides."""
        env = {
            "BULI2_API_URL": self.buli2_url,
            "BULI2_API_KEY": self.api_key,
            "BULI2_SIGNATURE_SECRET": self.signature_secret,
            "BULI2_CALLBACK_URL": f"{self.backend_url}/api/webhooks/buli2",
        }
        return {**env, **overrides}


@pytest.fixture(scope="session")
def http_faults(
    tmp_path_factory: pytest.TempPathFactory,
    sandbox_ctx: SandboxContext,
    buli2_app: ServiceHandle,
    backend_app: ServiceHandle,
) -> Iterator[HttpFaults]:
    """The shared sandbox apps plus this module's fault servers (same sandbox CA); stopped at the end."""
    root = tmp_path_factory.mktemp("http-faults")
    root.chmod(0o755)
    certs = sandbox_ctx.certs
    other = SandboxContext(dir=root, certs=certs, values={"BULI2_SIGNATURE_SECRET": secrets.token_urlsafe(32)})
    good = (certs.server_crt, certs.server_key)
    handles: list[ServiceHandle] = []
    apps: list[_App] = []
    silent, trickle = SilentServer(), TrickleServer()

    def app(mode: str, cert: tuple[Path, Path] | None = good) -> _App:
        apps.append(_App(mode, cert))
        return apps[-1]

    try:
        signature = _manifest().checks.buli2.signature
        handles.append(http_apps.start_backend(other, name="backend-other-secret", signature=signature))
        yield HttpFaults(
            ca_pem=certs.ca_pem,
            api_key=buli2_app.env["BULI2_API_KEY"],
            signature_secret=backend_app.env["BULI2_SIGNATURE_SECRET"],
            buli2_url=buli2_app.env["BULI2_API_URL"],
            backend_url=backend_app.env["API_BASE_URL"],
            other_secret_backend_url=handles[0].env["API_BASE_URL"],
            open_app=app("open"),
            unhealthy_app=app("unhealthy"),
            redirect_app=app("redirect"),
            expired_app=app("open", sandbox_certs.make_expired_cert(certs, root)),
            wrong_host_app=app("open", sandbox_certs.make_wrong_host_cert(certs, root)),
            expiring_app=app("open", sandbox_certs.issue(certs, root / "soon.crt", root / "soon.key", days=11)),
            plain_app=app("open", None),
            silent_port=silent.port,
            trickle_port=trickle.port,
            closed_port=free_port(),  # handed out and never bound: connections are refused
            handles=handles,
        )
    finally:
        silent.close()
        trickle.close()
        for a in apps:
            a.close()
        for h in handles:
            h.stop(timeout=5)


@functools.cache
def _manifest() -> Manifest:
    return load_manifest()  # frozen model: safe to share between tests


def http_context(values: dict[str, str], **options: Any) -> CheckContext:
    """A CheckContext over `values` (the shared env file), the FiLot manifest and the given Options."""
    return build_context(values, manifest=_manifest(), **options)


@pytest.fixture
def http_ctx() -> Callable[..., CheckContext]:
    """Factory: `http_ctx({'API_BASE_URL': ...}, timeout=2, ca_file=..., allow_loopback=True)`."""
    return http_context
