"""PostgreSQL on loopback with SSL only and scram passwords: the stand-in for Neon.

initdb and postgres refuse to run as root, so as root both run as the `postgres` account, and the
data folder is owned by it. Role `filot_app` owns database `filot`, as in production.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

from filot_preflight.sandbox.base import (
    LOOPBACK,
    SandboxContext,
    ServiceHandle,
    ServiceStartError,
    find_binary,
    free_port,
    launch,
)

INSTALL = "apt-get install -y postgresql"
APP_ROLE = "filot_app"
APP_DB = "filot"
# The direct (unpooled) URL is for migrations; its own login keeps it from repeating DATABASE_URL.
MIGRATE_ROLE = "filot_migrate"
_PG_BIN_DIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)  # newest major first
_SSL_REQUEST = struct.pack("!ii", 8, 80877103)


def start(ctx: SandboxContext, *, name: str = "postgres", timeout: float = 30.0) -> ServiceHandle:
    """initdb a fresh cluster, start it with ssl=on and hostssl-only scram rules, create role and db."""
    initdb = find_binary("initdb", INSTALL, _PG_BIN_DIRS)
    # Siblings of the real initdb (not of a /usr/local/bin symlink): one major version for all three.
    bindir = [str(Path(initdb).resolve().parent)]
    postgres = shutil.which("postgres", path=bindir[0]) or find_binary("postgres", INSTALL, bindir)
    psql = shutil.which("psql", path=bindir[0]) or find_binary("psql", INSTALL, bindir)
    user = "postgres" if os.geteuid() == 0 else None
    if user is not None:
        try:
            pwd.getpwnam(user)
        except KeyError:
            raise ServiceStartError(f"running as root needs the '{user}' account ({INSTALL})") from None
    pg_dir = _pg_dir(ctx.dir / name, user)
    data = pg_dir / "data"
    log = ctx.log_path(name)
    port = free_port()
    superuser_pw, app_pw, migrate_pw = secrets.token_hex(24), secrets.token_urlsafe(24), secrets.token_urlsafe(24)

    pwfile = pg_dir / "pwfile"
    _write_owned(pwfile, superuser_pw, user, 0o600)
    _run_as(
        [initdb, "-D", str(data), "-U", "postgres", f"--pwfile={pwfile}", "--auth-local=trust"]
        + ["--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
        user,
        log,
    )
    pwfile.unlink()
    # postgres insists on a key file owned by its account and not readable by others.
    _write_owned(data / "server.crt", ctx.certs.server_crt.read_text(), user, 0o644)
    _write_owned(data / "server.key", ctx.certs.server_key.read_text(), user, 0o600)
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(
            f"\nlisten_addresses = '{LOOPBACK}'\nport = {port}\nunix_socket_directories = '{pg_dir}'\n"
            "ssl = on\nssl_min_protocol_version = 'TLSv1.2'\npassword_encryption = 'scram-sha-256'\n"
            # Durability is pointless for a throwaway cluster and costs start-up time.
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            # Background ANALYZE writes pg_statistic (a transaction id, tuples in template1): noise
            # that would make "the check wrote nothing" unprovable from the server's own counters.
            "autovacuum = off\n"
        )
    # TCP only over TLS with scram; the unix socket (ours alone, in a 0700 folder) is for setup.
    (data / "pg_hba.conf").write_text(
        f"local all all trust\nhostssl all all {LOOPBACK}/32 scram-sha-256\nhostnossl all all 0.0.0.0/0 reject\n"
    )

    handle = launch(
        ctx,
        name,
        [postgres, "-D", str(data)],
        timeout,
        user=user,
        ports={"postgres": port},
        # SIGINT is postgres' "fast" shutdown; SIGTERM would wait for every client to disconnect.
        stop_signal=signal.SIGINT,
        ready=lambda: _accepts_ssl(port) and _postmaster_ready(data),
        info={"url": f"postgresql://{LOOPBACK}:{port}/{APP_DB}", "data": str(data)}
        | ({"scratch": str(pg_dir)} if pg_dir != ctx.dir / name else {}),
    )
    _setup_app(psql, pg_dir, port, app_pw, migrate_pw, log)
    ca = quote(str(ctx.certs.ca_pem.resolve()), safe="/")
    tail = f"@{LOOPBACK}:{port}/{APP_DB}?sslmode=verify-full&sslrootcert={ca}"
    handle.env = {
        "DATABASE_URL": f"postgresql://{APP_ROLE}:{app_pw}{tail}",
        "DATABASE_URL_DIRECT": f"postgresql://{MIGRATE_ROLE}:{migrate_pw}{tail}",
    }
    return handle


def _pg_dir(preferred: Path, user: str | None) -> Path:
    """A fresh folder for the cluster that the postgres account can reach.

    The sandbox folder may sit under a 0700 parent (/root, pytest's tmp) or be so deep that the unix
    socket path exceeds 107 bytes; then a short folder under the system temp dir is used instead.
    """
    target = preferred
    if (user is not None and not _traversable(preferred.parent)) or len(str(preferred)) > 80:
        digest = hashlib.sha1(str(preferred).encode(), usedforsecurity=False).hexdigest()[:12]
        target = Path(tempfile.gettempdir()) / f"filot-preflight-pg-{digest}"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True, mode=0o700)
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(target, entry.pw_uid, entry.pw_gid)
    return target


def _traversable(folder: Path) -> bool:
    # Every ancestor must be searchable by "others", since the postgres account owns none of them.
    folder = folder.resolve()
    return all(os.stat(p).st_mode & 0o001 for p in [folder, *folder.parents])


def _write_owned(path: Path, text: str, user: str | None, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _run_as(argv: list[str], user: str | None, log: Path) -> None:
    group = pwd.getpwnam(user).pw_gid if user else None
    with open(log, "ab") as out:
        result = subprocess.run(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            user=user,
            group=group,
            extra_groups=[] if user else None,
        )
    if result.returncode != 0:
        raise ServiceStartError(f"{Path(argv[0]).name} failed with code {result.returncode} (log {log})")


def _setup_app(psql: str, socket_dir: Path, port: int, password: str, migrate_pw: str, log: Path) -> None:
    # Passwords go through stdin, not argv, so `ps` never shows them.
    sql = (
        f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{password}';\n"
        f"CREATE ROLE {MIGRATE_ROLE} LOGIN PASSWORD '{migrate_pw}' IN ROLE {APP_ROLE};\n"
        f"CREATE DATABASE {APP_DB} OWNER {APP_ROLE};\n"
        f"\\connect {APP_DB}\nSET ROLE {APP_ROLE};\n"
        "CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz DEFAULT now());\n"
        "INSERT INTO schema_migrations (version) VALUES ('0001_init');\n"
    )
    argv = [psql, "-h", str(socket_dir), "-p", str(port), "-U", "postgres", "-d", "postgres"]
    with open(log, "ab") as out:
        result = subprocess.run(
            [*argv, "-v", "ON_ERROR_STOP=1", "-q", "-f", "-"],
            input=sql.encode(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if result.returncode != 0:
        raise ServiceStartError(f"creating role {APP_ROLE} failed (log {log})")


def _accepts_ssl(port: int) -> bool:
    """Send the protocol's SSLRequest; a server with ssl=on answers 'S'."""
    with socket.create_connection((LOOPBACK, port), timeout=1.0) as s:
        s.sendall(_SSL_REQUEST)
        return s.recv(1) == b"S"


def _postmaster_ready(data: Path) -> bool:
    # Line 8 of postmaster.pid is the server's own status: "ready" once it accepts connections.
    lines = (data / "postmaster.pid").read_text().splitlines()
    return len(lines) >= 8 and lines[7].strip() == "ready"
