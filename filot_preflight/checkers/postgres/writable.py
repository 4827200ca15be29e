"""Can the app's role write? Judged from the server's own answers, without writing anything.

`read_writability` (blocking, inside the probe's READ ONLY transaction) asks the server: is it a hot
standby (`pg_is_in_recovery()`), does this role start its transactions read-only
(`default_transaction_read_only` and where that setting comes from, `pg_settings.source`), and may it
INSERT/UPDATE/DELETE the tables the manifest names (`checks.postgres.tables`) or, by default, every
table of its schema (`has_schema_privilege`, `has_table_privilege`). None of it assigns a transaction
id. `judge_writable` (pure) turns the answers into results with the fix for each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from filot_preflight.checkers.base import result
from filot_preflight.models import CheckResult, EvidenceValue, Status

WRITE_PRIVILEGES = ("INSERT", "UPDATE", "DELETE")
MAX_TABLES = 1000  # a bound on the catalogue read; an app schema has far fewer
SHOWN = 8  # tables named in a summary or a GRANT before "and N more"

_TABLES_SQL = (
    "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), n.nspname, has_schema_privilege(n.oid, 'USAGE'),"
    " has_table_privilege(c.oid, 'INSERT'), has_table_privilege(c.oid, 'UPDATE'),"
    " has_table_privilege(c.oid, 'DELETE') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
)


@dataclass(frozen=True)
class WriteFacts:
    """The server's answers about writing as this role. `error` (already redacted later) if they could not be read."""

    role: str | None = None
    database: str | None = None
    schema: str | None = None
    in_recovery: bool | None = None
    primary: str | None = None  # host:port the standby replicates from, when the role may see it
    default_read_only: bool | None = None
    read_only_source: str | None = None  # pg_settings.source: user, database, database user, configuration file ...
    schema_usage: bool | None = None
    tables_checked: int = 0
    missing: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (table, privileges it lacks)
    no_usage: tuple[str, ...] = ()  # schemas of checked tables without USAGE
    absent: tuple[str, ...] = ()  # tables the manifest names that do not exist
    explicit: bool = False  # the tables came from checks.postgres.tables
    error: str | None = None


def read_writability(conn: Any, tables: list[str]) -> WriteFacts:
    """Blocking: the catalogue and settings reads, in a savepoint of the caller's READ ONLY transaction."""
    import psycopg

    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(
                "SELECT current_user::text, current_database()::text, current_schema()::text, pg_is_in_recovery(),"
                " current_setting('default_transaction_read_only') = 'on',"
                " (SELECT source FROM pg_settings WHERE name = 'default_transaction_read_only')"
            )
            role, database, schema, recovery, default_ro, source = cur.fetchone()
            primary = None
            if recovery:
                # Only superusers and pg_read_all_stats see these columns; NULL otherwise.
                cur.execute("SELECT sender_host, sender_port FROM pg_stat_wal_receiver")
                row = cur.fetchone()
                if row and row[0]:
                    primary = f"{row[0]}:{row[1]}"
            absent: list[str] = []
            if tables:
                oids = []
                for name in tables:
                    cur.execute("SELECT to_regclass(%s)::oid", (name,))
                    oid = cur.fetchone()[0]
                    (oids.append(oid) if oid is not None else absent.append(name))
                cur.execute(_TABLES_SQL + " WHERE c.oid = ANY(%s) ORDER BY 1", (oids,))
            else:
                cur.execute(_TABLES_SQL + " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
                            " AND NOT c.relispartition ORDER BY 1 LIMIT %s", (MAX_TABLES,))
            rows = cur.fetchall()
            usage = None
            if schema is not None:
                cur.execute("SELECT has_schema_privilege(current_schema(), 'USAGE')")
                usage = bool(cur.fetchone()[0])
    except psycopg.Error as e:
        return WriteFacts(error=f"{e.__class__.__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    missing = tuple(
        (str(table), tuple(p for p, ok in zip(WRITE_PRIVILEGES, privs, strict=True) if not ok))
        for table, _, _, *privs in rows
        if not all(privs)
    )
    return WriteFacts(
        role=role, database=database, schema=schema, in_recovery=bool(recovery), primary=primary,
        default_read_only=bool(default_ro), read_only_source=source, schema_usage=usage, tables_checked=len(rows),
        missing=missing, no_usage=tuple(sorted({str(nsp) for _, nsp, ok, *_ in rows if not ok})),
        absent=tuple(absent), explicit=bool(tables),
    )


def _ident(name: str | None) -> str:
    """A role or database name as SQL would need it in a fix."""
    text = name or "?"
    return text if text.isidentifier() and text.islower() else '"' + text.replace('"', '""') + '"'


def _listed(names: list[str]) -> str:
    more = len(names) - SHOWN
    return ", ".join(names[:SHOWN]) + (f" and {more} more" if more > 0 else "")


def read_only_fix(w: WriteFacts, var: str) -> str:
    """The statement that turns the read-only default off, for where the setting comes from."""
    role, db = _ident(w.role), _ident(w.database)
    by_source = {
        "user": f"ALTER ROLE {role} SET default_transaction_read_only = off;",
        "database": f"ALTER DATABASE {db} SET default_transaction_read_only = off;",
        "database user": f"ALTER ROLE {role} IN DATABASE {db} SET default_transaction_read_only = off;",
        "configuration file": "set default_transaction_read_only = off in postgresql.conf (or ALTER SYSTEM RESET "
        "default_transaction_read_only) and reload",
        "client": f"remove default_transaction_read_only from the options in {var} (or PGOPTIONS)",
    }
    how = by_source.get(w.read_only_source or "", f"ALTER ROLE {role} SET default_transaction_read_only = off;")
    return f"Run as the database owner: {how} (or use a read-write role in {var}); the app's INSERTs fail until then."


def judge_writable(w: WriteFacts | None, var: str, name: str) -> list[CheckResult]:
    """postgres.standby, postgres.default_read_only and postgres.privileges for the endpoint in `var` (pure)."""
    if w is None:
        return []

    def r(rid: str, status: Status, summary: str, fix: str = "", **ev: EvidenceValue) -> CheckResult:
        return result(rid, name, status, summary, target=var, remediation=fix, evidence=ev)

    if w.error is not None:
        return [r("postgres.privileges", Status.FAIL, f"could not tell whether the role may write: {w.error}",
                  "Let the role read pg_settings, pg_class and its own privileges (any PostgreSQL role can), "
                  "then run again.")]
    out: list[CheckResult] = []
    if w.in_recovery:
        where = f" (it replicates from {w.primary})" if w.primary else ""
        out.append(r("postgres.standby", Status.FAIL, f"{var} reaches a hot standby (pg_is_in_recovery()): every "
                     "write fails with ReadOnlySqlTransaction",
                     f"Point {var} at the primary's read-write endpoint{where}, not a replica (Neon: the branch's "
                     "read-write compute, not a read replica).", in_recovery=True, primary=w.primary))
    else:
        out.append(r("postgres.standby", Status.PASS, "the server is a primary (not in recovery)", in_recovery=False))
    ro_ev: dict[str, EvidenceValue] = {"role": w.role, "default_transaction_read_only": w.default_read_only,
                                       "source": w.read_only_source}
    if w.default_read_only:
        out.append(r("postgres.default_read_only", Status.FAIL, f"role {w.role} starts every transaction read-only "
                     f"(default_transaction_read_only = on, from {w.read_only_source or 'an unknown source'})",
                     read_only_fix(w, var), **ro_ev))
    else:
        out.append(r("postgres.default_read_only", Status.PASS, f"role {w.role}'s transactions are read-write by "
                     "default", "", **ro_ev))
    out.append(_privileges(w, var, r))
    return out


def _privileges(w: WriteFacts, var: str, r: Any) -> CheckResult:
    what = "the tables in checks.postgres.tables" if w.explicit else f"the tables of schema {w.schema}"
    ev: dict[str, EvidenceValue] = {"role": w.role, "schema": w.schema, "tables_checked": w.tables_checked}
    role = _ident(w.role)
    problems: list[str] = []
    grants: list[str] = []
    fixes: list[str] = []
    if not w.explicit and w.schema is None:
        return r("postgres.privileges", Status.FAIL, f"role {w.role} has no schema: no schema of its search_path "
                 "exists", f"Create the app's schema, or set the role's search_path (ALTER ROLE {role} SET "
                 "search_path = ...), or name the tables in checks.postgres.tables.", **ev)
    no_usage = sorted({*w.no_usage, *([w.schema] if w.schema and w.schema_usage is False and not w.explicit else [])})
    if no_usage:
        problems.append(f"no USAGE on schema {', '.join(no_usage)}")
        grants.append(f"GRANT USAGE ON SCHEMA {', '.join(no_usage)} TO {role};")
    if w.missing:
        lacking = sorted({p for _, privs in w.missing for p in privs}, key=WRITE_PRIVILEGES.index)
        tables = [t for t, _ in w.missing]
        problems.append(f"may not {'/'.join(lacking)} {len(tables)} of {w.tables_checked} tables ({_listed(tables)})")
        grants.append(f"GRANT {', '.join(lacking)} ON {', '.join(tables)} TO {role};")
        ev["lacking"] = [f"{t}: {','.join(privs)}" for t, privs in w.missing[:50]]
    if grants:
        fixes.append(f"Run as the owner: {' '.join(grants)} (or use a role that has these grants in {var}).")
    if w.absent:
        problems.append(f"{len(w.absent)} table(s) named in checks.postgres.tables do not exist "
                        f"({_listed(list(w.absent))})")
        fixes.append("Run the migrations (over DATABASE_URL_DIRECT), or correct checks.postgres.tables.")
        ev["absent"] = list(w.absent[:50])
    if problems:
        return r("postgres.privileges", Status.FAIL, f"role {w.role}: " + "; ".join(problems), " ".join(fixes), **ev)
    if not w.tables_checked:
        return r("postgres.privileges", Status.PASS, f"schema {w.schema} has no tables yet; role {w.role} may use "
                 "it", **ev)
    count = f"{w.tables_checked} table" + ("s" if w.tables_checked > 1 else "")
    return r("postgres.privileges", Status.PASS, f"role {w.role} may INSERT, UPDATE and DELETE on {what} "
             f"({count})", **ev)
