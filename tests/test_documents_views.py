"""The pure parts of the documents, as tables: variable status, subsystem verdicts, checklist, diagram."""

from __future__ import annotations

import pytest

from filot_preflight.documents import architecture
from filot_preflight.documents.checklist import Checklist
from filot_preflight.documents.results import CheckerInfo, RunInfo, not_checked_reason, subsystem_views, verdict
from filot_preflight.documents.variables import variable_views
from filot_preflight.models import CheckResult, Report, Status
from tests.test_documents import CHECKERS, fixed_report, golden_manifest

P, W, F, S, E = Status.PASS, Status.WARN, Status.FAIL, Status.SKIP, Status.ERROR


def res(id: str, status: Status, target: str = "", subsystem: str | None = None, **kw) -> CheckResult:
    sub = subsystem or {"aws_secrets": "aws"}.get(id.split(".")[0], id.split(".")[0].replace("_", "-"))
    return CheckResult(id=id, subsystem=sub, status=status, target=target, summary=f"{id} {status}", **kw)


def status_of(name: str, *results: CheckResult) -> str:
    views = {v.name: v for v in variable_views(golden_manifest(), Report(results=list(results)))}
    return views[name].status


@pytest.mark.parametrize(
    ("name", "results", "expected"),
    [
        ("JWT_SECRET", [], "not checked"),
        ("JWT_SECRET", [res("secrets.missing", F, "JWT_SECRET")], "missing"),
        ("JWT_SECRET", [res("secrets.ok", P, "JWT_SECRET")], "existing"),
        ("JWT_SECRET", [res("secrets.weak", F, "JWT_SECRET")], "invalid"),
        ("JWT_SECRET", [res("secrets.weak", W, "JWT_SECRET")], "existing"),  # a warning, listed separately
        ("JWT_SECRET", [res("secrets.ok", P, "JWT_SECRET"), res("aws_secrets.exists", F, "app/prod/jwt-secret")],
         "missing"),
        ("JWT_SECRET", [res("secrets.ok", P, "JWT_SECRET"), res("aws_secrets.exists", P, "app/prod/jwt-secret")],
         "existing"),
        ("JWT_SECRET", [res("secrets.reused", F, "JWT_SECRET,SESSION_SECRET")], "invalid"),
        ("JWT_SECRET", [res("secrets.ok", P, "OTHER")], "not checked"),
        ("JWT_SECRET", [res("redis.auth", F, "JWT_SECRET")], "not checked"),  # live results do not judge values
        ("SERVICE_INTERNAL_KEY", [res("secrets.malformed", F, "gpu-worker:SERVICE_INTERNAL_KEY")], "invalid"),
        ("CF_R2_ACCESS_KEY_ID", [res("aws_secrets.json_key", F, "app/prod/r2#access_key_id")], "missing"),
        ("CF_R2_ACCESS_KEY_ID", [res("aws_secrets.json_key", F, "app/prod/r2#secret_access_key")], "not checked"),
        ("TEMPORAL_API_KEY", [res("secrets.optional", S, "TEMPORAL_API_KEY")], "not set"),
        ("TEMPORAL_API_KEY", [res("aws_secrets.exists", S, "app/prod/temporal")], "not set"),
        # verified_by: confirmed only by a live run of that checker with a pass and no failure
        ("REDIS_URL", [res("secrets.ok", P, "REDIS_URL")], "needs verification"),
        ("REDIS_URL", [res("secrets.ok", P, "REDIS_URL"), res("redis.tls", P, "REDIS_URL")], "existing"),
        ("REDIS_URL", [res("secrets.ok", P, "REDIS_URL"), res("redis.tls", P), res("redis.auth", F, "host:6379")],
         "needs verification"),
        ("REDIS_URL", [res("secrets.ok", P, "REDIS_URL"), res("redis.tls", S, "REDIS_URL")], "needs verification"),
        ("REDIS_URL", [res("secrets.needs_verification", W, "REDIS_URL"), res("redis.ping", P)], "existing"),
        ("REDIS_URL", [res("secrets.needs_verification", W, "REDIS_URL")], "needs verification"),
        ("REDIS_URL", [res("secrets.tls", F, "REDIS_URL"), res("redis.ping", P)], "invalid"),
    ],
)
def test_variable_status(name, results, expected):
    assert status_of(name, *results) == expected


def test_waived_missing_is_not_set_and_says_why():
    r = res("secrets.missing", P, "JWT_SECRET", waiver="issued at go-live (SEC-1)")
    v = next(v for v in variable_views(golden_manifest(), Report(results=[r])) if v.name == "JWT_SECRET")
    assert (v.status, v.reasons[-1]) == ("not set", "waived: issued at go-live (SEC-1)")


def test_views_never_carry_values():
    fields = set(variable_views(golden_manifest(), fixed_report())[0].__dataclass_fields__)
    assert not fields & {"value", "values", "secret_value"}


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [([], "not checked"), ([P], "ready"), ([P, S], "partial"), ([S, S], "skipped"), ([P, W], "warn"),
     ([W, F, P], "fail"), ([F, E], "error")],
)
def test_subsystem_verdict(statuses, expected):
    assert verdict([res("redis.x", s) for s in statuses]) == expected


@pytest.mark.parametrize(
    ("report", "run", "needle"),
    [
        (Report(), RunInfo(offline=True), "the run was --offline and these checks need network access (redis)"),
        (Report(), RunInfo(offline=False, only=("secrets",)), "not selected in this run (--only secrets)"),
        (Report(), RunInfo(offline=False, skip=("redis",)), "skipped with --skip redis"),
        (Report(results=[res("secrets.ok", P, "X")]), RunInfo(), "the run was probably --offline"),
        (Report(partial=True), RunInfo(offline=False), "the run was partial"),
        (Report(), RunInfo(offline=False), "no results for this subsystem in this run"),
    ],
)
def test_not_checked_reason(report, run, needle):
    assert needle in not_checked_reason("redis", report, CHECKERS, run)


def test_subsystem_without_checker_says_so():
    assert not_checked_reason("temporal", Report(), [CheckerInfo("redis", "redis", "d")], RunInfo()) == (
        "no checker for this subsystem is installed")


def test_every_known_subsystem_is_listed_even_without_results():
    subs = {s.id: s for s in subsystem_views(Report(results=[res("policy.relaxations", W)]), CHECKERS)}
    assert {"secrets", "redis", "gpu-worker", "r2", "temporal", "code", "policy"} <= set(subs)
    assert subs["r2"].status == "not checked" and subs["r2"].label == "NOT CHECKED"
    assert subs["policy"].status == "warn"


@pytest.mark.parametrize(
    ("results", "patterns", "done", "reason"),
    [
        ([res("redis.tls", P)], ("redis.tls",), True, "passed: `redis.tls`"),
        ([res("redis.tls", P), res("redis.auth", W)], ("redis.*",), False, "warn `redis.auth`"),
        ([res("redis.tls", F, remediation="use rediss://")], ("redis.tls",), False, "Fix: use rediss://"),
        ([res("redis.tls", S)], ("redis.tls",), False, "skipped: redis.tls skip"),
        ([res("mock_code.a", P), res("mock_code.sources", S)], ("mock_code.*",), False, "partly checked"),
        ([res("redis.tls", P, waiver="ok until Friday")], ("redis.tls",), True, "waived: ok until Friday"),
        ([], ("redis.tls",), False, "not checked in this run"),
        ([res("redis.ping", P)], ("redis.tls",), False, "no result decides this"),
        ([res("redis.timeout", F)], ("redis.tls",), False, "the `redis` check did not finish: redis.timeout fail"),
    ],
)
def test_checklist_decisions(results, patterns, done, reason):
    rep = Report(results=results)
    subs = {s.id: s for s in subsystem_views(rep, CHECKERS, RunInfo(offline=False))}
    d = Checklist(rep, subs, CHECKERS).decide(*patterns)
    assert d.done is done and reason in d.reason
    assert Checklist.manual("Deploy", "by hand").startswith("- [ ] Deploy — manual: by hand")


def test_architecture_links_and_status_boxes():
    m = golden_manifest()
    subs = {s.id: s for s in subsystem_views(fixed_report(), CHECKERS, RunInfo(offline=False))}
    services, comps = architecture.build(m, subs)
    by_key = {c.key: c for c in comps}
    assert [s.name for s in services] == ["backend", "gpu-worker"]
    assert dict(by_key["postgres"].used_by) == {"backend": ("DATABASE_URL", "DATABASE_POOL_MAX")}
    assert set(dict(by_key["redis"].used_by)) == {"backend", "gpu-worker"}  # REDIS_URL and the queue section
    assert by_key["r2"].label == "NOT CHECKED" and by_key["postgres"].label == "FAIL"
    text = architecture.diagram(services, comps)
    for c in comps:  # every system is a box with its status, and one `*` per service that uses it
        line = next(i for i, ln in enumerate(text.splitlines()) if f"| {c.title}" in ln)
        assert f"[{c.label}]" in text.splitlines()[line + 1]
        assert text.splitlines()[line].count("*") == len(c.used_by)
    assert len({ln.index("+", 1) for ln in text.splitlines() if ln.startswith("+--")}) == 1  # boxes line up
