"""judge_writable is pure: each fact gives its result and the fix that matches where the problem comes from."""

from __future__ import annotations

import pytest

from filot_preflight.checkers.postgres.writable import WriteFacts, judge_writable
from filot_preflight.models import Status

OK = WriteFacts(role="filot_app", database="filot", schema="public", in_recovery=False, default_read_only=False,
                read_only_source="default", schema_usage=True, tables_checked=3)


def judged(w: WriteFacts, var: str = "DATABASE_URL") -> dict:
    out = {r.id: r for r in judge_writable(w, var, "postgres")}
    for r in out.values():
        assert r.target == var
        if r.status is not Status.PASS:
            assert r.remediation
    return out


def test_healthy_role_passes_all_three() -> None:
    assert {k: v.status for k, v in judged(OK).items()} == {
        "postgres.standby": Status.PASS, "postgres.default_read_only": Status.PASS, "postgres.privileges": Status.PASS}


@pytest.mark.parametrize(("source", "fix"), [
    ("user", "ALTER ROLE filot_app SET default_transaction_read_only = off;"),
    ("database", "ALTER DATABASE filot SET default_transaction_read_only = off;"),
    ("database user", "ALTER ROLE filot_app IN DATABASE filot SET default_transaction_read_only = off;"),
    ("configuration file", "postgresql.conf"),
    ("client", "remove default_transaction_read_only from the options in DATABASE_URL_DIRECT"),
])
def test_read_only_fix_follows_the_source(source: str, fix: str) -> None:
    w = WriteFacts(**{**OK.__dict__, "default_read_only": True, "read_only_source": source})
    r = judged(w, "DATABASE_URL_DIRECT")["postgres.default_read_only"]
    assert r.status is Status.FAIL and fix in r.remediation


def test_standby_names_the_primary_when_known() -> None:
    r = judged(WriteFacts(**{**OK.__dict__, "in_recovery": True, "primary": "10.0.0.5:5432"}))["postgres.standby"]
    assert r.status is Status.FAIL and "10.0.0.5:5432" in r.remediation


def test_missing_grants_and_usage_give_the_grant_statements() -> None:
    w = WriteFacts(**{**OK.__dict__, "missing": (("public.jobs", ("UPDATE", "DELETE")),), "no_usage": ("app",),
                      "role": "Filot-App"})
    r = judged(w)["postgres.privileges"]
    assert r.status is Status.FAIL
    assert 'GRANT UPDATE, DELETE ON public.jobs TO "Filot-App";' in r.remediation
    assert 'GRANT USAGE ON SCHEMA app TO "Filot-App";' in r.remediation


def test_no_schema_and_unreadable_catalogue_fail() -> None:
    assert judged(WriteFacts(**{**OK.__dict__, "schema": None}))["postgres.privileges"].status is Status.FAIL
    r = judged(WriteFacts(error="InsufficientPrivilege: x"))
    assert list(r) == ["postgres.privileges"] and r["postgres.privileges"].status is Status.FAIL


def test_no_facts_no_results() -> None:
    assert judge_writable(None, "DATABASE_URL", "postgres") == []


def test_login_not_tried_is_a_skip_with_its_reason() -> None:
    from filot_preflight.checkers.postgres import DsnInfo, PgFacts, judge
    from filot_preflight.manifest import PostgresSettings

    dsn = DsnInfo(host="db.example.com", port="5432", dbname="filot", user="app", sslmode="prefer")
    res = {r.id: r for r in judge(PgFacts(dsn=dsn, login_skipped="sslmode=prefer", tls_offered=True),
                                  PostgresSettings())}
    assert res["postgres.login"].status is Status.SKIP and "login not tried" in res["postgres.login"].summary
    assert "--allow-plaintext-auth" in res["postgres.login"].remediation
    assert res["postgres.sslmode"].status is Status.FAIL and "postgres.connect" not in res
    direct = PgFacts(dsn=dsn, error_kind="auth", error="password authentication failed")
    out = judge(PgFacts(dsn=dsn, direct=dsn, connected=True, read_only=True, writable=OK, direct_facts=direct),
                PostgresSettings())
    (auth,) = [r for r in out if r.target == "DATABASE_URL_DIRECT" and r.id == "postgres.auth"]
    assert auth.status is Status.FAIL
