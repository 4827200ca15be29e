"""Exit codes and summaries are computed once, from the Report."""

import pytest

from filot_preflight.models import CheckResult, Report, Status, exit_code


def r(status: Status, id: str = "x.y") -> CheckResult:
    return CheckResult(id=id, subsystem="x", status=status, summary="s")


@pytest.mark.parametrize(
    ("statuses", "strict", "partial", "interrupted", "code"),
    [
        ([], False, False, False, 1),  # no check ran: no verdict
        ([Status.PASS, Status.SKIP], False, False, False, 1),  # a real skip: not fully checked
        ([Status.PASS], False, False, False, 0),
        ([Status.PASS, Status.WARN], False, False, False, 0),
        ([Status.PASS, Status.WARN], True, False, False, 1),
        ([Status.FAIL], False, False, False, 1),
        ([Status.ERROR], False, False, False, 1),
        ([Status.PASS], False, True, False, 1),
        ([Status.PASS], False, True, True, 130),
        ([Status.FAIL], True, False, True, 130),
    ],
)
def test_exit_code(statuses, strict, partial, interrupted, code):
    rep = Report(results=[r(s) for s in statuses], strict=strict, partial=partial, interrupted=interrupted)
    assert exit_code(rep) == code
    assert rep.ready is (code == 0)


def test_summary_has_every_status_and_sorting_is_worst_first():
    rep = Report(results=[r(Status.PASS, "a"), r(Status.ERROR, "b"), r(Status.WARN, "c"), r(Status.FAIL, "d")])
    assert rep.summary == {"pass": 1, "warn": 1, "fail": 1, "skip": 0, "error": 1, "waived": 0}
    assert [x.status for x in rep.sorted_results()] == [Status.ERROR, Status.FAIL, Status.WARN, Status.PASS]
    dumped = rep.model_dump(mode="json")
    assert dumped["ready"] is False and dumped["summary"]["fail"] == 1


def na(status: Status, id: str = "x.na") -> CheckResult:
    return r(status, id).with_updates(not_applicable=True)


@pytest.mark.parametrize(
    ("results", "kw", "decision", "code", "head"),
    [
        ([r(Status.PASS), na(Status.SKIP)], {}, "ready", 0, "READY for production: 1 pass, 1 skip (1 not applicable)"),
        ([r(Status.PASS), r(Status.SKIP)], {}, "incomplete", 1, "NOT FULLY CHECKED for production"),
        ([r(Status.PASS), r(Status.SKIP)], {"partial_ok": True}, "incomplete", 0, "not a release verdict"),
        ([r(Status.PASS)], {"only": ["redis"], "checkers_run": ["redis"], "checkers_not_run": ["postgres"]},
         "ready_selected", 1, "READY for the selected checks: redis; not a release verdict (--only redis)"),
        ([r(Status.PASS)], {"offline": True, "checkers_run": ["secrets"], "checkers_not_run": ["redis"],
                            "partial_ok": True}, "ready_selected", 0, "READY for the selected checks: secrets"),
        ([r(Status.FAIL)], {"skip": ["secrets"], "checkers_run": ["redis"], "checkers_not_run": ["secrets"]},
         "not_ready", 1, "NOT READY for production (only the selected checks ran: redis)"),
        ([], {"checkers_run": [], "checkers_not_run": ["redis"], "partial_ok": True}, "no_checks", 1, "NO VERDICT"),
        # a saved report from before the checkers were recorded: the flags alone say it was narrowed
        ([r(Status.PASS)], {"only": ["x"]}, "ready_selected", 1, "READY for the selected checks: x"),
    ],
)
def test_decision_scope_and_headline(results, kw, decision, code, head):
    rep = Report(results=results, **kw)
    assert rep.decision == decision
    assert exit_code(rep) == code
    assert head in rep.verdict
    assert rep.ready is (decision == "ready")
    if decision not in ("ready", "not_ready"):
        assert "READY for production" not in rep.verdict
    dumped = rep.model_dump(mode="json")
    assert dumped["scope"]["complete"] is (decision in ("ready", "incomplete") or not kw)
    assert dumped["verdict"] == rep.verdict and dumped["decision"] == decision


def test_not_applicable_skip_is_no_gap():
    rep = Report(results=[r(Status.PASS, "x.a"), na(Status.SKIP)])
    assert rep.subsystems == {"x": "ready"}
    only_na = Report(results=[na(Status.SKIP)])
    assert only_na.subsystems == {"x": "not applicable"}
    gap = Report(results=[r(Status.PASS, "x.a"), r(Status.SKIP)])
    assert gap.subsystems == {"x": "partial"} and gap.scope["incomplete_subsystems"] == ["x"]
