"""`preflight diff`: newly failing, fixed, new and removed checks between two saved runs; exit 1 on regression."""

from __future__ import annotations

import json

import pytest

from filot_preflight import cli
from filot_preflight.diff import diff, format_markdown, format_text, load_saved
from filot_preflight.errors import PreflightError
from filot_preflight.models import CheckResult, Report, Status

P, W, F, S, E = Status.PASS, Status.WARN, Status.FAIL, Status.SKIP, Status.ERROR


def res(id: str, status: Status, target: str = "", **kw) -> CheckResult:
    return CheckResult(id=id, subsystem=id.split(".")[0], status=status, target=target, summary=f"{id} is {status}", **kw)


def rep(*results: CheckResult) -> Report:
    return Report(results=list(results))


def labels(changes) -> list[str]:
    return [f"{c.label}:{c.old}->{c.new}" for c in changes]


def test_groups_every_kind_of_change():
    old = rep(res("redis.tls", P, "REDIS_URL"), res("postgres.sslmode", F, "DATABASE_URL"), res("r2.cors", W),
              res("gone.check", P), res("same.check", F))
    new = rep(res("redis.tls", F, "REDIS_URL", remediation="Use rediss://"), res("postgres.sslmode", P, "DATABASE_URL"),
              res("r2.cors", P), res("new.ok", P), res("new.bad", E), res("same.check", F))
    d = diff(old, new)
    assert labels(d.newly_failing) == ["new.bad:None->error", "redis.tls [REDIS_URL]:pass->fail"]
    assert labels(d.fixed) == ["postgres.sslmode [DATABASE_URL]:fail->pass"]
    assert labels(d.new_checks) == ["new.bad:None->error"]  # a failing new check is listed
    assert d.newly_checked == {"new": 1}  # a passing check of a checker that did not run before is counted
    assert labels(d.removed_checks) == ["gone.check:pass->None"]
    assert labels(d.changed) == ["r2.cors:warn->pass"]
    assert d.regressed
    assert d.newly_failing[1].remediation == "Use rediss://"


@pytest.mark.parametrize(
    ("old", "new", "strict", "regressed"),
    [
        (P, F, False, True), (P, E, False, True), (W, F, False, True), (S, F, False, True),
        (P, W, False, False), (P, W, True, True), (F, E, False, False), (F, P, False, False), (P, S, False, False),
    ],
)
def test_regression_rule(old, new, strict, regressed):
    assert diff(rep(res("x.y", old)), rep(res("x.y", new)), strict=strict).regressed is regressed


def test_waived_counts_as_pass_and_targets_are_told_apart():
    old = rep(res("x.y", F, "A"), res("x.y", P, "B"))
    new = rep(res("x.y", P, "A", waiver="accepted"), res("x.y", P, "B"))
    d = diff(old, new)
    assert labels(d.fixed) == ["x.y [A]:fail->pass"] and not d.regressed


def test_duplicate_key_keeps_the_worst():
    d = diff(rep(res("x.y", P)), rep(res("x.y", P), res("x.y", F)))
    assert d.regressed


def test_text_and_markdown_lead_with_regressions():
    d = diff(rep(res("a.b", P, "T")), rep(res("a.b", F, "T", remediation="do X")))
    text = format_text(d, "v1.json", "v2.json")
    assert text.startswith("preflight diff v1.json -> v2.json: REGRESSION")
    assert "a.b [T]: pass -> fail" in text and "fix: do X" in text
    md = format_markdown(d, "v1", "v2")
    assert "**Regression**" in md and "| `a.b` | T | pass | fail |" in md


def test_cli_diff_exit_codes_and_json(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(rep(res("a.b", P)).model_dump(mode="json")))
    b.write_text(json.dumps(rep(res("a.b", F)).model_dump(mode="json")))
    for argv, code in ((["diff", str(a), str(a)], 0), (["diff", str(a), str(b)], 1), (["diff", str(b), str(a)], 0)):
        with pytest.raises(SystemExit) as e:
            cli.main(argv)
        assert e.value.code == code, argv
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli.main(["diff", str(a), str(b), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert data["regressed"] is True and data["newly_failing"][0]["id"] == "a.b"


@pytest.mark.parametrize(
    ("content", "needle"),
    [("{", "invalid JSON"), ("[]", "not a preflight JSON report"), ('{"results": [{"id": 1}]}', "results.0")],
)
def test_bad_saved_report_is_bad_input(tmp_path, content, needle):
    p = tmp_path / "r.json"
    p.write_text(content)
    with pytest.raises(PreflightError, match=needle):
        load_saved(p)


def test_saved_report_round_trips():
    r = rep(res("a.b", W, "T", evidence={"n": 1, "l": ["x"]}))
    assert load_saved_from(r).results == r.results


def load_saved_from(r: Report, tmp=None) -> Report:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "r.json"
        p.write_text(json.dumps(r.model_dump(mode="json")))
        return load_saved(p)


def test_a_failure_fixed_under_another_id_pairs_by_subsystem_and_target():
    # a wrong password fails redis.auth; once it is right, redis.auth is gone and redis.ping passes
    old = rep(res("redis.auth", F, "REDIS_URL"), res("redis.tls", P, "REDIS_URL"), res("postgres.auth", F, "DATABASE_URL"))
    new = rep(res("redis.ping", P, "REDIS_URL"), res("redis.tls", P, "REDIS_URL"), res("postgres.auth", F, "DATABASE_URL"),
              res("postgres.dsn", F, "DATABASE_URL"))
    d = diff(old, new)
    assert labels(d.fixed) == ["redis.auth [REDIS_URL]:fail->pass"]
    assert "now redis.ping" in d.fixed[0].summary
    assert not d.removed_checks and not [c for c in d.new_checks if c.id == "redis.ping"]
    assert labels(d.newly_failing) == ["postgres.dsn [DATABASE_URL]:None->fail"]  # still failing: not fixed
    assert "Fixed (1)" in format_text(d)


def test_offline_to_live_counts_the_newly_run_checkers():
    old = rep(res("secrets.missing", F, "JWT_SECRET"))
    new = rep(res("secrets.missing", P, "JWT_SECRET"), *(res("redis.x", P, f"T{i}") for i in range(8)))
    d = diff(old, new)
    assert d.newly_checked == {"redis": 8} and not d.new_checks
    assert "redis: 8 check(s)" in format_text(d) and "`redis`: 8 check(s)" in format_markdown(d)
