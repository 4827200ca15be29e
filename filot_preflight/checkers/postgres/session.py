"""The blocking half of the postgres probe: a TLS handshake of our own (certificate facts, the precise TLS
failure), then libpq's connection and the queries, all in one READ ONLY transaction that is rolled back.

It runs in a daemon thread (`ctx.blocking`); it never raises: a failure is an `error_kind` and its text.
psycopg is imported inside the functions that use it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import statistics
import struct
import time
from pathlib import Path
from typing import Any

from filot_preflight.checkers.base import Budget
from filot_preflight.checkers.postgres.dsn import DsnInfo
from filot_preflight.checkers.postgres.writable import read_writability
from filot_preflight.net import tls as _tls

_SSL_REQUEST = struct.pack("!ii", 8, 80877103)
PLAINTEXT_MODES = (None, "disable", "allow", "prefer")  # libpq sends the password without TLS under these
LATENCY_SAMPLES = 5


def _session(
    raw: str, info: DsnInfo, timeout: float, ca_file: Path | None, insecure: bool, settings: Any,
    allow_plaintext: bool = False, full: bool = True, budget: Budget | None = None,
) -> dict[str, Any]:
    """Blocking: TLS handshake, then connect and query inside a READ ONLY transaction. Never raises.

    `full=False` (DATABASE_URL_DIRECT) asks only what writability needs. A DSN whose sslmode lets libpq
    send the password without TLS gets no login unless `allow_plaintext` (--allow-plaintext-auth). Every
    step gets what is left of `budget` (the checker's, shared by all steps; default: `timeout` from now).
    """
    try:
        return _steps(raw, info, timeout, ca_file, insecure, settings, allow_plaintext, full, budget or Budget(timeout))
    except Exception as e:  # noqa: BLE001 - an unforeseen failure is a fact, not a crashed checker
        return {"error_kind": "other", "error": f"{e.__class__.__name__}: {e}"}


def _steps(
    raw: str, info: DsnInfo, timeout: float, ca_file: Path | None, insecure: bool, settings: Any,
    allow_plaintext: bool, full: bool, budget: Budget,
) -> dict[str, Any]:
    ca_files = [info.sslrootcert] if info.sslrootcert and info.sslrootcert != "system" else []
    if ca_file is not None and not ca_files:
        ca_files = [str(ca_file)]
    out: dict[str, Any] = {}
    if not info.host.startswith("/"):
        try:
            context = _tls.client_context(ca_files, insecure=insecure)
        except (OSError, ssl.SSLError) as e:  # an unreadable CA file: libpq will say which, as tls_ca
            return {"error_kind": "tls_ca", "error": f"cannot load the CA file: {e.__class__.__name__}: {e}"}
        hs = _handshake(info, context, budget.step())
        plain_ok = info.sslmode in PLAINTEXT_MODES
        if plain_ok and not allow_plaintext:
            # The app's libpq could send the password in clear: we send none, only learn what the server offers.
            kind = str(hs.get("error_kind"))
            tls_seen = "tls_version" in hs or kind.startswith("tls_")
            offered = False if kind == "server_ssl" else True if tls_seen else None
            return {**hs, "login_skipped": f"sslmode={info.sslmode or 'prefer (default)'}", "tls_offered": offered}
        plaintext = plain_ok and hs.get("error_kind") == "server_ssl"
        if hs.get("error_kind") in ("refused", "dns", "timeout", "server_ssl") and not plaintext:
            return hs  # libpq would fail the same way; spare the second wait
        out.update({k: v for k, v in hs.items() if k not in ("error", "error_kind")} if plaintext else
                   {k: v for k, v in hs.items() if k != "error"})
        out["plaintext"] = plaintext
    bundle = None
    try:
        params: dict[str, Any] = {
            "sslmode": "disable" if out.get("plaintext") else "require" if insecure else "verify-full",
            # libpq takes whole seconds, at least 2; the probe's outer bound (the budget) still holds.
            "connect_timeout": max(2, int(budget.step())),
            "application_name": "filot-preflight",
        }
        if not insecure and not info.sslrootcert and not out.get("plaintext"):
            bundle = _trust_bundle(ca_file)
            params["sslrootcert"] = bundle or "system"
        out.update(_query(raw, params, budget.step(), settings, out.get("error_kind"), full))
    finally:
        if bundle:
            with contextlib.suppress(OSError):
                os.unlink(bundle)
    return out


def _handshake(info: DsnInfo, context: ssl.SSLContext, timeout: float) -> dict[str, Any]:
    """SSLRequest then a TLS handshake: certificate expiry and the precise TLS failure, if any."""
    addr = info.hostaddr or info.host
    try:
        sock = socket.create_connection((addr, int(info.port)), timeout=timeout)
    except OSError as e:
        return {"error_kind": _from_tls_kind(_tls.classify(e)), "error": str(e)}
    try:
        sock.settimeout(timeout)
        sock.sendall(_SSL_REQUEST)
        answer = sock.recv(1)
        if answer == b"N":
            return {"error_kind": "server_ssl", "error": "server answered the SSLRequest with 'N'"}
        if answer != b"S":
            return {}  # not a Postgres server, or something new: let libpq tell
        with context.wrap_socket(sock, server_hostname=info.host) as tls:
            der = tls.getpeercert(binary_form=True) or b""
            cert = _tls.cert_from_der(der)
            return {
                "tls_version": tls.version(),
                "cert_not_after": cert.not_after.isoformat() if cert.not_after else None,
                "cert_days_left": cert.days_left(),
            }
    except (ssl.SSLError, OSError) as e:
        return {"error_kind": _from_tls_kind(_tls.classify(e)), "error": str(e)}
    finally:
        sock.close()


def _from_tls_kind(kind: str) -> str:
    return _tls.COARSE_KINDS.get(kind, "other")


def classify_pg_error(sqlstate: str | None, text: str, tls_kind: str | None = None) -> str:
    """The error kind of a psycopg connection error (usually no sqlstate: judged by libpq's text)."""
    by_state = {"28P01": "auth", "3D000": "database", "28000": "rejected"}
    if sqlstate in by_state:
        return by_state[sqlstate]
    low = text.lower()
    rules = (
        ("password authentication failed", "auth"),
        # PgBouncer's own words (Neon's pooler): it answers before PostgreSQL does.
        ("sasl authentication failed", "auth"),
        ("no such user", "auth"),
        ("no such database", "database"),
        ("server does not support ssl", "server_ssl"),
        ("no pg_hba.conf entry", "rejected"),
        ("not allowed", "rejected"),
        ("does not match host name", "tls_hostname"),
        ("certificate verify failed", "tls_ca"),
        ("root certificate file", "tls_ca"),
        ("timeout expired", "timeout"),
    )
    kind = next((k for needle, k in rules if needle in low), None)
    if kind is None and "database" in low and "does not exist" in low:
        kind = "database"
    if kind is None:
        kind = _from_tls_kind(_tls.classify_text(low))
    # libpq says only "certificate verify failed"; our own handshake knows whether it was expiry.
    if kind == "tls_ca" and tls_kind in ("tls_expired", "tls_hostname"):
        kind = tls_kind
    return kind


def _trust_bundle(ca_file: Path | None) -> str | None:
    """libpq takes one sslrootcert file: the system CAs plus --ca-file, concatenated in a temp file."""
    if ca_file is None:
        return None
    paths = ssl.get_default_verify_paths()
    system = next((p for p in (paths.cafile, paths.openssl_cafile) if p and os.path.exists(p)), None)
    from filot_preflight.fileio import read_pem, temp_file

    parts = [read_pem(p, "CA file") for p in (system, ca_file) if p]

    # Deleted when the session ends; removed at exit too if the run stops first (deadline, Ctrl-C).
    return temp_file("\n".join(parts), prefix="preflight-pg-ca-")


def _query(
    raw: str, params: dict[str, Any], timeout: float, settings: Any, tls_kind: str | None, full: bool
) -> dict[str, Any]:
    import psycopg

    try:
        conn = psycopg.connect(raw, autocommit=False, prepare_threshold=None, **params)
    except psycopg.Error as e:
        return {"error_kind": classify_pg_error(e.sqlstate, str(e), tls_kind), "error": str(e)}
    out: dict[str, Any] = {"connected": True, "error_kind": None}
    try:
        conn.read_only = True  # psycopg opens every transaction with BEGIN READ ONLY
        with conn.cursor() as cur:
            cur.execute("SELECT set_config('statement_timeout', %s, true)", (str(int(timeout * 1000)),))
            cur.execute("SELECT current_setting('transaction_read_only')")
            out["read_only"] = _one(cur) == "on"
            if not out["read_only"]:
                return out
            out["writable"] = read_writability(conn, list(settings.tables))
            if not full:
                return out
            cur.execute("SELECT version(), current_setting('server_version_num')::int")
            row = cur.fetchone()
            if row:
                out["server_version"], out["version_num"] = str(row[0])[:200], int(row[1])
            samples = []
            for _ in range(LATENCY_SAMPLES):
                t0 = time.perf_counter()
                cur.execute("SELECT 1")
                cur.fetchone()
                samples.append((time.perf_counter() - t0) * 1000)
            out["latency_ms"] = round(statistics.median(samples), 2)
            cur.execute(
                "SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),"
                " current_setting('max_connections')::int"
            )
            row = cur.fetchone()
            if row:
                out["connections_used"], out["max_connections"] = int(row[0]), int(row[1])
            if settings.latest_migration:
                out.update(_migration(conn, settings))
    except psycopg.Error as e:
        out["error"] = f"query failed: {e.__class__.__name__}: {e}"
    finally:
        with contextlib.suppress(Exception):
            conn.rollback()
        conn.close()
    return out


def _migration(conn: Any, settings: Any) -> dict[str, Any]:
    """Newest applied migration and whether the manifest's one is applied (inside a savepoint)."""
    import psycopg
    from psycopg import sql

    table = sql.Identifier(*settings.migrations_table.split("."))
    col = sql.Identifier(settings.migrations_column)
    try:
        with conn.transaction(), conn.cursor() as cur:  # a savepoint: an error must not abort the rest
            cur.execute(sql.SQL("SELECT {c}::text FROM {t} ORDER BY {c} DESC LIMIT 1").format(c=col, t=table))
            latest = _one(cur)
            cur.execute(
                sql.SQL("SELECT EXISTS (SELECT 1 FROM {t} WHERE {c}::text = %s)").format(c=col, t=table),
                (settings.latest_migration,),
            )
            return {"migration_latest": latest, "migration_applied": bool(_one(cur))}
    except psycopg.errors.UndefinedTable:
        return {"migration_error": f"table {settings.migrations_table} does not exist"}
    except psycopg.errors.UndefinedColumn:
        return {"migration_error": f"column {settings.migrations_column} does not exist"}
    except psycopg.Error as e:
        return {"migration_error": f"{e.__class__.__name__}: {str(e).splitlines()[0] if str(e) else ''}"}


def _one(cur: Any) -> Any:
    row = cur.fetchone()
    return row[0] if row else None
