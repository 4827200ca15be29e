"""The migration result of the postgres checker: the manifest's latest migration against the applied ones (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from filot_preflight.checkers.base import result
from filot_preflight.manifest import PostgresSettings
from filot_preflight.models import CheckResult, EvidenceValue, Status

if TYPE_CHECKING:
    from filot_preflight.checkers.postgres.probe import PgFacts


def _r(rid: str, status: Status, summary: str, fix: str = "", *, target: str,
       ev: dict[str, EvidenceValue] | None = None) -> CheckResult:
    return result(rid, "postgres", status, summary, target=target, remediation=fix, evidence=ev or {})


def judge_migration(f: PgFacts, settings: PostgresSettings) -> CheckResult:
    """The manifest's latest migration must be applied, and be the newest one."""
    expected = settings.latest_migration
    target = f"{settings.migrations_table}.{settings.migrations_column}"
    if expected is None:
        return _r("postgres.migration", Status.SKIP, "no checks.postgres.latest_migration in the manifest",
                  target=target).with_updates(not_applicable=True)
    ev: dict[str, EvidenceValue] = {"expected": expected, "latest_applied": f.migration_latest}
    if f.migration_error is not None:
        fix = "Run the migrations (over DATABASE_URL_DIRECT), or fix checks.postgres.migrations_table/_column."
        return _r("postgres.migration", Status.FAIL, f"cannot read applied migrations: {f.migration_error}", fix,
                  target=target, ev=ev)
    if not f.migration_applied:
        fix = "Run the pending migrations over DATABASE_URL_DIRECT before deploying."
        return _r("postgres.migration", Status.FAIL, f"migration {expected} is not applied", fix, target=target, ev=ev)
    if f.migration_latest != expected:
        fix = "Update checks.postgres.latest_migration, or make sure this release matches the newer schema."
        return _r("postgres.migration", Status.WARN, f"database is ahead: newest applied is {f.migration_latest}",
                  fix, target=target, ev=ev)
    return _r("postgres.migration", Status.PASS, f"latest migration {expected} is applied", target=target, ev=ev)
