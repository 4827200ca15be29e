"""Waivers: active ones turn FAIL/WARN into a visible waived PASS, expired ones fail, bad config is exit 2."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from filot_preflight import cli, waivers
from filot_preflight.documents import render_documents
from filot_preflight.models import CheckResult, Report, Status, exit_code
from filot_preflight.waivers import EXPIRED_ID, UNMATCHED_ID, Waiver, WaiverError

TODAY = dt.date(2024, 11, 30)


def res(id: str, status: Status, target: str = "") -> CheckResult:
    return CheckResult(id=id, subsystem=id.split(".")[0], status=status, target=target, summary=f"{id} {status}")


def report(*results: CheckResult) -> Report:
    return Report(results=list(results))


def w(id: str = "redis.eviction_policy", expires: dt.date = dt.date(2024, 12, 31), target: str | None = None) -> Waiver:
    return Waiver(id, "Upstash forbids CONFIG; set in console (OPS-1)", expires, target, "preflight.toml:waivers[0]")


@pytest.mark.parametrize("status", [Status.FAIL, Status.WARN])
def test_active_waiver_turns_failure_into_waived_pass(status):
    out = waivers.apply(report(res("redis.eviction_policy", status, "REDIS_URL")), [w()], today=TODAY)
    (r,) = out.results
    assert r.status is Status.WAIVED and r.waiver == "Upstash forbids CONFIG; set in console (OPS-1)"
    assert r.evidence["waived_status"] == status.value and r.evidence["waiver_expires"] == "2024-12-31"
    assert exit_code(out) == 0


def test_waiver_is_valid_through_its_expiry_day():
    out = waivers.apply(report(res("redis.eviction_policy", Status.FAIL)), [w(expires=TODAY)], today=TODAY)
    assert out.results[0].status is Status.WAIVED


@pytest.mark.parametrize(
    ("result", "waiver"),
    [
        (res("redis.eviction_policy", Status.ERROR), w()),  # a broken check is never waived
        (res("redis.eviction_policy", Status.SKIP), w()),
        (res("redis.tls", Status.FAIL), w()),  # other id
        (res("redis.eviction_policy", Status.FAIL, "OTHER"), w(target="REDIS_URL")),  # other target
    ],
)
def test_waiver_leaves_other_results_alone(result, waiver):
    out = waivers.apply(report(result), [waiver], today=TODAY).results
    assert out[0] == result
    # a waiver about another id or target matches nothing: it says so instead of being silently accepted
    assert [(r.id, r.status) for r in out[1:]] == ([] if waiver.matches(result) else [(UNMATCHED_ID, Status.WARN)])


def test_a_waiver_that_matches_nothing_warns_once_and_only_when_its_checker_ran():
    typo = w(id="secrets.missnig")
    ran = Report(results=[res("secrets.missing", Status.FAIL, "JWT_SECRET")], checkers_run=["secrets"],
                 checkers_not_run=["redis"])
    out = waivers.apply(ran, [typo], today=TODAY)
    (warn,) = [r for r in out.results if r.id == UNMATCHED_ID]
    assert warn.status is Status.WARN and warn.target == "secrets.missnig" and "matches no result" in warn.summary
    assert out.results[0].status is Status.FAIL  # the failure it was meant for still counts
    assert [r.id for r in waivers.apply(out, [typo], today=TODAY).results].count(UNMATCHED_ID) == 1
    # a waiver for a checker that --only/--skip left out is not a typo
    narrowed = Report(results=[], checkers_run=["secrets"], checkers_not_run=["redis"])
    assert not waivers.apply(narrowed, [w()], today=TODAY).results
    # an id of no installed checker at all is always reported
    assert waivers.apply(narrowed, [w(id="sekrets.missing")], today=TODAY).results[0].id == UNMATCHED_ID


def test_expired_waiver_waives_nothing_and_fails_naming_it():
    original = res("redis.eviction_policy", Status.WARN, "REDIS_URL")
    out = waivers.apply(report(original), [w(expires=dt.date(2024, 11, 1), target="REDIS_URL")], today=TODAY)
    assert out.results[0] == original
    expired = out.results[1]
    assert (expired.id, expired.status, expired.target) == (EXPIRED_ID, Status.FAIL, "redis.eviction_policy [REDIS_URL]")
    assert "expired on 2024-11-01" in expired.summary and "preflight.toml" in expired.remediation
    assert expired.evidence["days_expired"] == 29
    assert exit_code(out) == 1
    # applying again (check, then report --from) does not duplicate it
    again = waivers.apply(out, [w(expires=dt.date(2024, 11, 1), target="REDIS_URL")], today=TODAY)
    assert [r.id for r in again.results].count(EXPIRED_ID) == 1


def test_waived_result_is_shown_as_waived_in_the_documents():
    from tests.test_documents import golden_manifest

    out = waivers.apply(report(res("redis.eviction_policy", Status.WARN, "REDIS_URL")), [w()], today=TODAY)
    docs = render_documents(golden_manifest(), out)
    assert "☑️ waived (was warn) | `redis.eviction_policy`" in docs["redis_validation_report.md"]
    assert "Upstash forbids CONFIG" in docs["T8A_summary.md"]


def test_load_preflight_toml(tmp_path):
    (tmp_path / "preflight.toml").write_text(
        '[[waivers]]\nid = "redis.eviction_policy"\ntarget = "REDIS_URL"\nreason = "why"\nexpires = 2025-01-31\n'
        '[[waivers]]\nid = "gpu_worker.queue_depth"\nreason = "backlog"\nexpires = "2025-02-01"\n'
    )
    found = waivers.load_default(tmp_path)
    assert [(x.id, x.target, x.expires) for x in found] == [
        ("redis.eviction_policy", "REDIS_URL", dt.date(2025, 1, 31)),
        ("gpu_worker.queue_depth", None, dt.date(2025, 2, 1)),
    ]


def test_load_pyproject_tool_table_and_ignore_foreign_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert waivers.find_config(tmp_path) is None and waivers.load_default(tmp_path) == []
    (tmp_path / "pyproject.toml").write_text(
        '[tool.preflight]\n[[tool.preflight.waivers]]\nid = "a.b"\nreason = "r"\nexpires = 2025-01-01\n'
    )
    assert [x.id for x in waivers.load_default(tmp_path)] == ["a.b"]
    (tmp_path / "preflight.toml").write_text("")  # preflight.toml wins
    assert waivers.load_default(tmp_path) == []


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[[waivers]]\nreason = 'r'\nexpires = 2025-01-01\n", "waivers[0].id: required"),
        ("[[waivers]]\nid = 'a.b'\nexpires = 2025-01-01\n", "waivers[0].reason: required"),
        ("[[waivers]]\nid = 'a.b'\nreason = 'r'\n", "waivers[0].expires: required"),
        ("[[waivers]]\nid = 'a.b'\nreason = '  '\nexpires = 2025-01-01\n", "waivers[0].reason: expected a non-empty"),
        ("[[waivers]]\nid = 'a.b'\nreason = 'r'\nexpires = 'soon'\n", "waivers[0].expires: expected a date"),
        ("[[waivers]]\nid = 'nodot'\nreason = 'r'\nexpires = 2025-01-01\n", "waivers[0].id: expected a result id"),
        ("[[waivers]]\nid = 'a.b'\nreason = 'r'\nexpires = 2025-01-01\nexpiry = 1\n", "waivers[0].expiry: unknown"),
        ("[[waivers]]\nid = 'a.b'\nreason = 'r'\nexpires = 2025-01-01\ntarget = 3\n", "waivers[0].target"),
        ("waivers = 'x'\n", "waivers: expected an array of tables"),
        ("waivers = ['x']\n", "waivers[0]: expected a table"),
        ("[[waivers]\n", "invalid TOML"),
    ],
)
def test_malformed_config_names_file_and_field(tmp_path, text, needle):
    path = tmp_path / "preflight.toml"
    path.write_text(text)
    with pytest.raises(WaiverError) as e:
        waivers.load(path)
    assert str(e.value).startswith(str(path)) and needle in str(e.value)
    assert e.value.exit_code == 2


def test_malformed_waivers_stop_the_report_command_with_exit_2(tmp_path, capsys):
    bad = tmp_path / "preflight.toml"
    bad.write_text("[[waivers]]\nid = 'a.b'\n")
    saved = tmp_path / "r.json"
    saved.write_text(json.dumps(Report().model_dump(mode="json")))
    with pytest.raises(SystemExit) as e:
        cli.main(["report", "--from", str(saved), "--config", str(bad), "-o", str(tmp_path / "out")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "preflight.toml: waivers[0].reason: required" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_waived_result_is_shown_as_waived_in_console_markdown_and_json():
    from filot_preflight import render

    out = waivers.apply(report(res("redis.eviction_policy", Status.FAIL, "REDIS_URL"), res("redis.ping", Status.PASS)),
                        [w()], today=TODAY)
    con = render.get("console")(out, width=100)
    assert "Waived (1)" in con and "WAIVED redis.eviction_policy" in con and "was fail" in con
    assert "passed: redis 1" in con  # the waived one is not folded into the passes
    assert "☑️ WAIVED (was fail) | `redis.eviction_policy`" in render.get("markdown")(out)
    data = json.loads(render.get("json")(out))
    assert [r["status"] for r in data["results"]] == ["waived", "pass"] and data["summary"]["waived"] == 1
    assert data["ready"] is True and "1 waived" in data["verdict"]
