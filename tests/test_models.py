"""Exit codes and summaries are computed once, from the Report."""

import pytest

from filot_preflight.models import CheckResult, Report, Status, exit_code


def r(status: Status, id: str = "x.y") -> CheckResult:
    return CheckResult(id=id, subsystem="x", status=status, summary="s")


@pytest.mark.parametrize(
    ("statuses", "strict", "partial", "interrupted", "code"),
    [
        ([], False, False, False, 0),
        ([Status.PASS, Status.SKIP], False, False, False, 0),
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
    assert rep.summary == {"pass": 1, "warn": 1, "fail": 1, "skip": 0, "error": 1}
    assert [x.status for x in rep.sorted_results()] == [Status.ERROR, Status.FAIL, Status.WARN, Status.PASS]
    dumped = rep.model_dump(mode="json")
    assert dumped["ready"] is False and dumped["summary"]["fail"] == 1
