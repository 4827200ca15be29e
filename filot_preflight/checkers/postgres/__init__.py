"""Neon Postgres: TLS mode, login, server version, latency, pooled vs direct endpoint, headroom, migrations.

The probe (`probe.probe`) verifies the certificate, bounds the connect and runs every query
inside one READ ONLY transaction that is rolled back; `judge` (pure) turns the facts into results.
Each connection failure has its own id and fix.
"""

from __future__ import annotations

from filot_preflight.checkers.base import CheckContext, Checker, result
from filot_preflight.checkers.postgres.migration import judge_migration
from filot_preflight.checkers.postgres.probe import VAR, VAR_DIRECT, DsnInfo, PgFacts
from filot_preflight.checkers.postgres.writable import judge_writable
from filot_preflight.manifest import PostgresSettings
from filot_preflight.models import CheckResult, EvidenceValue, Status
from filot_preflight.net import fixes
from filot_preflight.net import libraries as libs
from filot_preflight.net.fixes import Endpoint, credentials_fix, refused_summary

__all__ = ["PostgresChecker", "PgFacts", "DsnInfo", "judge"]

NAME = "postgres"
OK_SSLMODES = ("require", "verify-ca", "verify-full")
LATENCY_WARN_MS = 250.0
CONNECTIONS_WARN_RATIO = 0.8
OLDEST_SUPPORTED_MAJOR = 14  # PostgreSQL 13 reached end of life in November 2025
CERT_WARN_DAYS = 14
_NEON_CONSOLE = "Neon console (Connection details)"

# error_kind -> (result id, summary). Network and TLS kinds take their fix from the shared table (net.fixes);
# the Postgres-only kinds have their own (OWN_FIXES).
CONNECT_FAILURES: dict[str, tuple[str, str]] = {
    "refused": ("postgres.refused", "connection refused: nothing listens on the host and port"),
    "auth": ("postgres.auth", "login failed: wrong password (or unknown role)"),
    "server_ssl": ("postgres.server_ssl", "the server does not offer SSL at all"),
    "database": ("postgres.database", "the database named in DATABASE_URL does not exist"),
    "tls_ca": ("postgres.tls_ca", "the server certificate is not signed by a trusted CA"),
    "tls_hostname": ("postgres.tls_hostname", "the server certificate is not valid for the host name"),
    "tls_expired": ("postgres.tls_expired", "the server certificate has expired (or is not yet valid)"),
    "timeout": ("postgres.connect_timeout", "no answer before the connect timeout"),
    "dns": ("postgres.dns", "the host name does not resolve"),
    "rejected": ("postgres.rejected", "the server rejected the connection before the password check"),
    "other": ("postgres.connect", "connection failed"),
}
OWN_FIXES = {
    "auth": credentials_fix(VAR, "password of the role", "the Neon console (Roles; reset it if unknown)"),
    "database": "Fix the database name in the DSN path (Neon's default is 'neondb') or create it in the Neon console.",
    "rejected": "Allow this client in the server's access rules (Neon: IP Allow; self-hosted: pg_hba.conf).",
    # Postgres negotiates TLS on its usual port: the fix is the server's setting, not another port.
    "server_ssl": "The server does not offer TLS at all: enable it (self-hosted: ssl = on in postgresql.conf, with "
    "ssl_cert_file and ssl_key_file, then reload); do not lower sslmode in production. Neon always offers TLS, "
    f"so a server without it is not Neon's: check the host in DATABASE_URL against the {_NEON_CONSOLE}.",
}
_CA_VARS = ("sslrootcert in DATABASE_URL",)


def endpoint(dsn: DsnInfo) -> Endpoint:
    """DATABASE_URL's endpoint for the shared fix table."""
    return Endpoint(
        VAR, "Postgres", host=dsn.host, port=dsn.port, source=f"the {_NEON_CONSOLE}", default_port="Neon: 5432",
        ca_vars=_CA_VARS, managed_by="Neon",
        notes={
            "timeout": "Neon: if IP Allow is on, add this network to it; a suspended compute takes a few seconds "
            "to wake, so retry once with a larger --timeout.",
            "unknown_ca": "libpq 16+ clients can trust the system CAs with sslrootcert=system.",
        },
    )


def connect_fix(kind: str, dsn: DsnInfo) -> str:
    """The fix for a failed connection of `kind` (one of CONNECT_FAILURES)."""
    return OWN_FIXES.get(kind) or fixes.fix(kind, endpoint(dsn))


def _r(rid: str, status: Status, summary: str, fix: str = "", *, target: str = VAR, detail: str = "",
       ev: dict[str, EvidenceValue] | None = None, **evidence: EvidenceValue) -> CheckResult:
    """One result of this checker; evidence from `ev` and keyword arguments."""
    return result(rid, NAME, status, summary, target=target, detail=detail, remediation=fix,
                  evidence={**(ev or {}), **evidence})


def judge_sslmode(info: DsnInfo, var: str) -> CheckResult:
    """verify-full passes; require / verify-ca encrypt but verify less (WARN); anything else fails."""
    mode = info.sslmode
    if mode == "verify-full":
        return _r("postgres.sslmode", Status.PASS, f"{var} asks for sslmode=verify-full", target=var, sslmode=mode)
    if mode in OK_SSLMODES:
        what = "the certificate" if mode == "require" else "the host name"
        fix = f"Use sslmode=verify-full in {var} (libpq clients: with sslrootcert=system)."
        return _r("postgres.sslmode", Status.WARN, f"{var}: sslmode={mode} encrypts but does not check {what}", fix,
                  target=var, sslmode=mode)
    shown = mode or "absent (libpq default: prefer)"
    fix = f"Append ?sslmode=verify-full to {var} (require at the very least)."
    return _r("postgres.sslmode", Status.FAIL, f"{var}: sslmode {shown} allows an unencrypted connection", fix,
              target=var, sslmode=mode)


def judge_endpoint(f: PgFacts, dsn: DsnInfo) -> list[CheckResult]:
    """Neon advice: the pooled endpoint for the API, the direct one (DATABASE_URL_DIRECT) for migrations."""
    out: list[CheckResult] = []
    ev: dict[str, EvidenceValue] = {"host": dsn.host, "neon": dsn.neon, "pooled": dsn.pooled}
    if not dsn.neon:
        out.append(_r("postgres.endpoint", Status.SKIP, "not a Neon host: pooled/direct advice does not apply",
                      ev=ev).with_updates(not_applicable=True))
    elif dsn.pooled:
        advice = "Run migrations over the direct endpoint (DATABASE_URL_DIRECT): PgBouncer in transaction mode "
        advice += "breaks session features such as advisory locks."
        out.append(_r("postgres.endpoint", Status.PASS, "DATABASE_URL uses Neon's pooled endpoint (right for the API)",
                      detail=advice, ev=ev))
    else:
        fix = "Use the ep-...-pooler host in DATABASE_URL; keep the direct one in DATABASE_URL_DIRECT for migrations."
        out.append(_r("postgres.endpoint", Status.WARN, "DATABASE_URL uses Neon's direct endpoint", fix,
                      detail="Every ECS task opens its own pool; direct connections count against the compute's "
                      "max_connections, while the pooler accepts thousands.", ev=ev))
    if f.direct_error is not None:
        fix = f"Copy the direct connection string from the {_NEON_CONSOLE}."
        out.append(_r("postgres.direct_url", Status.FAIL, f"DATABASE_URL_DIRECT is malformed: {f.direct_error}", fix,
                      target=VAR_DIRECT))
    elif f.direct is None:
        if dsn.neon:
            out.append(_r("postgres.direct_url", Status.SKIP, "DATABASE_URL_DIRECT is not set: nothing to check",
                          target=VAR_DIRECT, detail="Migrations need the direct (unpooled) endpoint; set "
                          "DATABASE_URL_DIRECT wherever migrations run.").with_updates(not_applicable=True))
    else:
        if f.direct.pooled:
            fix = "Use the host without '-pooler' in DATABASE_URL_DIRECT (migrations need session features)."
            out.append(_r("postgres.direct_url", Status.WARN, "DATABASE_URL_DIRECT points at the pooled endpoint",
                          fix, target=VAR_DIRECT, host=f.direct.host))
        elif f.direct.neon:
            out.append(_r("postgres.direct_url", Status.PASS, "DATABASE_URL_DIRECT uses a direct endpoint",
                          target=VAR_DIRECT, host=f.direct.host))
        out.append(judge_sslmode(f.direct, VAR_DIRECT))
    return out


def judge_host(f: PgFacts, dsn: DsnInfo, var: str = VAR) -> CheckResult:
    """Loopback/private hosts are wrong in production unless explicitly allowed."""
    ev: dict[str, EvidenceValue] = {"host": dsn.host, "host_kind": f.host_kind}
    if f.gate is not None and f.gate.refused:
        return _r("postgres.host", Status.FAIL, refused_summary(var, f.gate),
                  fixes.fix("host_refused", endpoint(dsn)).replace(VAR, var), target=var,
                  ev=ev | f.gate.evidence())
    if f.host_kind == "public":
        return _r("postgres.host", Status.PASS, "DATABASE_URL names a public host", ev=ev)
    if f.allow_loopback:
        return _r("postgres.host", Status.PASS, f"DATABASE_URL names a {f.host_kind} host (allowed)",
                  loopback_allowed=True, ev=ev)
    fix = "Use the Neon endpoint host in production (PREFLIGHT_ALLOW_LOOPBACK=true only for local runs)."
    return _r("postgres.host", Status.FAIL, f"DATABASE_URL names a {f.host_kind} host", fix, ev=ev)


def judge_session(f: PgFacts, dsn: DsnInfo, settings: PostgresSettings) -> list[CheckResult]:
    """Results of a successful login: read-only session, certificate, version, latency, headroom, migration."""
    how = "over TLS (not verified)" if f.insecure else "over verified TLS"
    how = "WITHOUT TLS (--allow-plaintext-auth)" if f.plaintext else how
    out = [_r("postgres.connect", Status.PASS, f"logged in {how}",
              tls_version=f.tls_version, user=dsn.user, database=dsn.dbname)]
    if f.plaintext:
        out.append(_r("postgres.server_ssl", Status.FAIL, CONNECT_FAILURES["server_ssl"][1],
                      connect_fix("server_ssl", dsn), detail="The password was sent unencrypted, as "
                      "--allow-plaintext-auth permits."))
    if not f.read_only:
        return [*out, _r("postgres.read_only", Status.ERROR, "could not make the probe's transaction read-only; "
                         "stopped before running any query", "Report this as a bug in filot-preflight.")]
    out.append(_r("postgres.read_only", Status.PASS, "probe ran inside a READ ONLY transaction, rolled back",
                  transaction_read_only=True))
    if f.error:
        return [*out, _r("postgres.query", Status.FAIL, "a probe query failed", "Check the role may read "
                         "pg_stat_activity and settings (Neon roles can).", detail=f.error)]
    if f.cert_days_left is not None:
        ok = f.cert_days_left > CERT_WARN_DAYS
        out.append(_r("postgres.certificate", Status.PASS if ok else Status.WARN,
                      f"server certificate valid for {f.cert_days_left:g} more days",
                      "" if ok else "Renew the server certificate soon.",
                      not_after=f.cert_not_after, days_left=f.cert_days_left))
    major = (f.version_num or 0) // 10000
    if major and major < OLDEST_SUPPORTED_MAJOR:
        out.append(_r("postgres.version", Status.WARN, f"PostgreSQL {major} is past end of life",
                      f"Upgrade to PostgreSQL {OLDEST_SUPPORTED_MAJOR} or newer.", version=f.server_version,
                      major=major))
    else:
        out.append(_r("postgres.version", Status.PASS, f"PostgreSQL {major or '?'}", version=f.server_version,
                      major=major))
    if f.latency_ms is not None:
        slow = f.latency_ms > LATENCY_WARN_MS
        out.append(_r("postgres.latency", Status.WARN if slow else Status.PASS,
                      f"median round trip {f.latency_ms:g} ms",
                      "Run the API in the Neon project's region." if slow else "",
                      median_ms=f.latency_ms, warn_above_ms=LATENCY_WARN_MS))
    if f.connections_used is not None and f.max_connections:
        ratio = f.connections_used / f.max_connections
        busy = ratio > CONNECTIONS_WARN_RATIO
        out.append(_r("postgres.connections", Status.WARN if busy else Status.PASS,
                      f"{f.connections_used} of {f.max_connections} connections in use ({ratio:.0%})",
                      "Use the pooled endpoint, lower DATABASE_POOL_MAX, or size up the compute." if busy else "",
                      in_use=f.connections_used, max_connections=f.max_connections))
    out.extend(judge_writable(f.writable, VAR, NAME))
    out.append(judge_migration(f, settings))
    return out


def judge(f: PgFacts, settings: PostgresSettings) -> list[CheckResult]:
    """Turn facts into results (pure)."""
    if not f.configured:
        return [_r("postgres.config", Status.FAIL, "DATABASE_URL is not set: the database cannot be checked",
                   "Set DATABASE_URL to the pooled connection string from the Neon console, sslmode=verify-full.")]
    if f.dsn is None:
        fix = "Use postgresql://USER:PASSWORD@HOST/DB?sslmode=verify-full (no driver suffix such as +psycopg; "
        fix += "percent-encode special characters in the password)."
        return [_r("postgres.dsn", Status.FAIL, f"DATABASE_URL is malformed: {f.dsn_error}", fix)]
    dsn = f.dsn
    out = [judge_sslmode(dsn, VAR), judge_host(f, dsn), *judge_endpoint(f, dsn)]
    if f.insecure:
        out.append(_r("postgres.insecure", Status.WARN, "certificate verification is off (--insecure)",
                      fixes.insecure_fix(_CA_VARS)))
    if f.gate is not None and f.gate.refused:
        return out + judge_direct(f)  # nothing was sent: no connection to judge
    if not f.connected:
        return out + judge_no_login(f, dsn, VAR) + judge_direct(f)
    return out + judge_session(f, dsn, settings) + judge_direct(f)


def judge_no_login(f: PgFacts, dsn: DsnInfo, var: str) -> list[CheckResult]:
    """Why there was no session: the connection's failure, and/or the login we refused to send in clear."""
    out: list[CheckResult] = []
    kind = f.error_kind if f.error_kind in CONNECT_FAILURES else "other"
    if f.error_kind is not None or f.login_skipped is None:
        rid, summary = CONNECT_FAILURES[kind]
        out.append(_r(rid, Status.FAIL, summary.replace(VAR, var), connect_fix(kind, dsn), target=var,
                      detail=f.error, host=dsn.host, port=dsn.port, error_kind=f.error_kind))
    if f.login_skipped is not None:
        offered = {True: "the server offers TLS", False: "the server offers no TLS at all",
                   None: "whether the server offers TLS is unknown"}[f.tls_offered]
        out.append(_r("postgres.login", Status.SKIP, f"login not tried: {f.login_skipped} in {var} lets the "
                      f"password travel without TLS ({offered})",
                      f"Put sslmode=verify-full in {var}; only --allow-plaintext-auth logs in with a mode that "
                      "allows plain text.", target=var, detail="No credential was sent: the probe sent only the "
                      "protocol's SSLRequest. Role, writability and the other session checks were not run.",
                      sslmode=dsn.sslmode, tls_offered=f.tls_offered))
    return out


def judge_direct(f: PgFacts) -> list[CheckResult]:
    """DATABASE_URL_DIRECT (migrations) gets the same login and writability judgement as DATABASE_URL."""
    d = f.direct_facts
    if d is None or d.dsn is None:
        return []
    if d.gate is not None and d.gate.refused:
        return [judge_host(d, d.dsn, VAR_DIRECT)]
    if not d.connected:
        return judge_no_login(d, d.dsn, VAR_DIRECT)
    if d.read_only is False:
        return [_r("postgres.read_only", Status.ERROR, "could not make the probe's transaction read-only; "
                   "stopped before running any query", "Report this as a bug in filot-preflight.", target=VAR_DIRECT)]
    how = "WITHOUT TLS (--allow-plaintext-auth)" if d.plaintext else "over TLS"
    return [_r("postgres.connect", Status.PASS, f"{VAR_DIRECT}: logged in {how}", target=VAR_DIRECT,
               tls_version=d.tls_version, user=d.dsn.user, database=d.dsn.dbname),
            *judge_writable(d.writable, VAR_DIRECT, NAME)]


class PostgresChecker(Checker):
    """Neon Postgres over verified TLS, probed read-only, with endpoint and migration advice."""

    name = NAME
    subsystem = "postgres"
    description = "DATABASE_URL: sslmode, TLS login, version, latency, pooled endpoint, connections, migration"
    needs = (VAR,)
    libraries = libs.POSTGRES

    async def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Probe (blocking I/O in a daemon thread, bounded), then judge."""
        from filot_preflight.checkers.postgres.probe import probe

        return judge(await probe(ctx), ctx.manifest.checks.postgres)
