"""PgBouncer in transaction mode with client TLS, in front of the sandbox PostgreSQL: Neon's pooled endpoint.

Neon's `-pooler` host is PgBouncer in transaction mode, so the sandbox's `DATABASE_URL` goes through a
real PgBouncer (Debian's `pgbouncer`) while `DATABASE_URL_DIRECT` stays on PostgreSQL itself. Clients
must use TLS (`client_tls_sslmode = require`, the sandbox server certificate); PgBouncer verifies the
server's certificate too. Logins are scram, from a userlist PgBouncer alone can read. PgBouncer refuses
to run as root, so as root it runs as the `postgres` account, like the server.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
from urllib.parse import quote, unquote, urlsplit

from filot_preflight.sandbox.base import (
    LOOPBACK,
    SandboxContext,
    ServiceHandle,
    find_binary,
    free_port,
    launch,
)
from filot_preflight.sandbox.postgres import _pg_dir as pg_dir
from filot_preflight.sandbox.postgres import _write_owned

INSTALL = "apt-get install -y pgbouncer"
_SSL_REQUEST = struct.pack("!ii", 8, 80877103)


def start(
    ctx: SandboxContext, postgres: ServiceHandle, *, name: str = "pgbouncer", timeout: float = 20.0,
    users: dict[str, str] | None = None,
) -> ServiceHandle:
    """Start PgBouncer before `postgres`; env DATABASE_URL (pooled, verify-full) for DATABASE_URL's role.

    `users` (name -> password) adds logins besides the one in the server's DATABASE_URL (tests use it).
    """
    binary = find_binary("pgbouncer", INSTALL, ["/usr/sbin"])
    direct = urlsplit(postgres.env["DATABASE_URL"])
    role, password = unquote(direct.username or ""), unquote(direct.password or "")
    dbname = direct.path.lstrip("/")
    logins = {role: password, **(users or {})}
    user = "postgres" if os.geteuid() == 0 else None
    # A folder the postgres account can reach (the sandbox's may sit under a 0700 parent), with its own copies.
    folder = pg_dir(ctx.dir / name, user)
    port = free_port()
    key, crt, server_ca = folder / "server.key", folder / "server.crt", folder / "ca.pem"
    _write_owned(key, ctx.certs.server_key.read_text(), user, 0o600)
    _write_owned(crt, ctx.certs.server_crt.read_text(), user, 0o644)
    _write_owned(server_ca, ctx.certs.ca_pem.read_text(), user, 0o644)
    userlist = folder / "userlist.txt"
    _write_owned(userlist, "".join(f'"{_q(u)}" "{_q(p)}"\n' for u, p in logins.items()), user, 0o600)
    ini = folder / "pgbouncer.ini"
    _write_owned(
        ini,
        "[databases]\n"
        f"{dbname} = host={LOOPBACK} port={direct.port} dbname={dbname}\n"
        "[pgbouncer]\n"
        f"listen_addr = {LOOPBACK}\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = scram-sha-256\nauth_file = {userlist}\npool_mode = transaction\n"
        "max_client_conn = 200\ndefault_pool_size = 10\n"
        f"client_tls_sslmode = require\nclient_tls_key_file = {key}\nclient_tls_cert_file = {crt}\n"
        f"server_tls_sslmode = verify-full\nserver_tls_ca_file = {server_ca}\n"
        # libpq-based clients may send these; PgBouncer refuses unknown startup parameters otherwise.
        "ignore_startup_parameters = extra_float_digits,options\n"
        f"pidfile = {folder / 'pgbouncer.pid'}\nadmin_users =\n",
        user,
        0o644,
    )
    handle = launch(
        ctx, name, [binary, str(ini)], timeout, user=user, ports={"pgbouncer": port},
        # SIGTERM is PgBouncer's immediate shutdown; SIGINT would wait for every client to leave.
        stop_signal=signal.SIGTERM,
        ready=lambda: _accepts_ssl(port),
        info={"url": f"postgresql://{LOOPBACK}:{port}/{dbname}", "pool_mode": "transaction"}
        | ({"scratch": str(folder)} if folder != ctx.dir / name else {}),
    )
    cafile = quote(str(ctx.certs.ca_pem.resolve()), safe="/")
    handle.env = {
        "DATABASE_URL": f"postgresql://{quote(role, safe='')}:{quote(password, safe='')}@{LOOPBACK}:{port}/"
        f"{dbname}?sslmode=verify-full&sslrootcert={cafile}"
    }
    return handle


def _q(text: str) -> str:
    return text.replace('"', '""')  # the userlist's quoting


def _accepts_ssl(port: int) -> bool:
    with socket.create_connection((LOOPBACK, port), timeout=1.0) as s:
        s.sendall(_SSL_REQUEST)
        return s.recv(1) == b"S"
