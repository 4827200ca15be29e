"""redis-server on loopback, TLS only, with a password: the stand-in for Upstash."""

from __future__ import annotations

import secrets
import socket
import ssl
from pathlib import Path

from filot_preflight.sandbox.base import LOOPBACK, SandboxContext, ServiceHandle, find_binary, free_port, launch

INSTALL = "apt-get install -y redis-server"


def start(
    ctx: SandboxContext,
    *,
    name: str = "redis",
    tls: bool = True,
    cert: tuple[Path, Path] | None = None,
    password: str | None = None,
    timeout: float = 15.0,
) -> ServiceHandle:
    """Start redis-server and wait until AUTH + PING answer.

    `tls=False` gives a plain server (to test `rediss://` against it); `cert` = (crt, key) replaces the
    good server certificate (expired / wrong host) for fault tests.
    """
    binary = find_binary("redis-server", INSTALL)
    password = password or secrets.token_hex(24)
    port = free_port()
    state = ctx.state_dir(name)
    crt, key = cert or (ctx.certs.server_crt, ctx.certs.server_key)
    # Paths must be absolute: redis chdirs to `dir` before it loads the certificates.
    lines = [
        f"bind {LOOPBACK}",
        "protected-mode yes",
        f"dir {state.resolve()}",
        'save ""',
        "appendonly no",
        "daemonize no",
        # A job queue must never lose jobs to eviction; the checker verifies this setting.
        "maxmemory-policy noeviction",
        f"requirepass {password}",
    ]
    if tls:
        lines += [
            "port 0",
            f"tls-port {port}",
            f"tls-cert-file {crt.resolve()}",
            f"tls-key-file {key.resolve()}",
            f"tls-ca-cert-file {ctx.certs.ca_pem.resolve()}",
            "tls-auth-clients no",
        ]
    else:
        lines.append(f"port {port}")
    conf = state / "redis.conf"
    # The password lives in a 0600 file rather than argv, where `ps` would show it.
    conf.touch(mode=0o600)
    conf.write_text("\n".join(lines) + "\n")
    ca = ctx.certs.ca_pem if tls else None
    scheme = "rediss" if tls else "redis"
    return launch(
        ctx,
        name,
        [binary, str(conf.resolve())],
        timeout,
        ports={"redis": port},
        env={
            "REDIS_URL": f"{scheme}://default:{password}@{LOOPBACK}:{port}/0",
            **({"REDIS_TLS_CA_FILE": str(ctx.certs.ca_pem.resolve())} if tls else {}),
        },
        ready=lambda: ping(port, password, ca),
        info={"url": f"{scheme}://{LOOPBACK}:{port}/0", "tls": "on" if tls else "off"},
    )


def ping(port: int, password: str, ca: Path | None, timeout: float = 1.0) -> bool:
    """AUTH and PING over raw RESP (no client library needed, so readiness checks stay cheap)."""
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as raw:
        if ca is None:
            return _auth_ping(raw, password)
        context = ssl.create_default_context(cafile=str(ca))
        with context.wrap_socket(raw, server_hostname=LOOPBACK) as tls:
            return _auth_ping(tls, password)


def _auth_ping(sock: socket.socket, password: str) -> bool:
    sock.sendall(f"AUTH {password}\r\nPING\r\n".encode())
    data = b""
    while data.count(b"\r\n") < 2:
        chunk = sock.recv(256)
        if not chunk:
            return False
        data += chunk
    return data.startswith(b"+OK\r\n+PONG")
