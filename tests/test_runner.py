"""Concurrency, per-checker budgets, the global deadline, crashes and redaction in the runner."""

import asyncio
import time
from typing import ClassVar

from filot_preflight import manifest
from filot_preflight.checkers.base import GRACE, MIN_STEP, Budget, CheckContext, Checker, Options, result
from filot_preflight.models import Status
from filot_preflight.redact import Redactor
from filot_preflight.runner import backstop, run_checks
from filot_preflight.sources import ValueStore

SECRET = "canary-secret-value-123"


class Quick(Checker):
    name = subsystem = "quick"
    description = "passes"

    async def run(self, ctx):
        return [result("quick.ok", "quick", Status.PASS, f"ok {SECRET}")]


class Crash(Checker):
    name = subsystem = "crash"
    description = "raises"

    async def run(self, ctx):
        raise RuntimeError(f"driver said postgresql://u:{SECRET}@h/db")


class Hang(Checker):
    name = subsystem = "hang"
    description = "a blocking driver call that never returns"

    async def run(self, ctx):
        await ctx.blocking(time.sleep, 60)
        return []


def ctx(timeout=0.4):
    return CheckContext(manifest.load(), ValueStore(), Options(timeout=timeout), Redactor([SECRET]))


def test_crash_and_hang_do_not_stop_the_others_and_are_bounded():
    t0 = time.perf_counter()
    out = asyncio.run(run_checks([Quick(), Crash(), Hang()], ctx(), handle_signals=False))
    elapsed = time.perf_counter() - t0
    by_id = {r.id: r for r in out.results}
    assert by_id["quick.ok"].status is Status.PASS
    assert by_id["crash.crashed"].status is Status.ERROR
    assert by_id["hang.timeout"].status is Status.FAIL and by_id["hang.timeout"].remediation
    # Stopped by the backstop (not before it), and not left to its 60 s sleep: behaviour, not a tight bound
    # (a tight one turns red on a busy machine).
    assert by_id["hang.timeout"].duration_ms >= backstop(0.4) * 1000 * 0.99
    assert elapsed < backstop(0.4) + 10
    assert not out.partial
    assert all(SECRET not in (r.summary + r.detail) for r in out.results)
    assert all(r.duration_ms > 0 for r in out.results)


def test_deadline_gives_a_partial_report():
    t0 = time.perf_counter()
    out = asyncio.run(run_checks([Quick(), Hang()], ctx(timeout=30), deadline=0.3, handle_signals=False))
    assert time.perf_counter() - t0 < 10  # the deadline, not the 30 s timeout or the 60 s sleep, ended it
    assert out.partial and not out.interrupted
    assert {r.id for r in out.results} == {"quick.ok", "hang.unfinished"}


def test_checkers_run_concurrently():
    """Every checker starts before any finishes (an ordering, which a busy machine cannot blur)."""
    events: list[str] = []

    class Slow(Checker):
        name = subsystem = "slow"
        description = "sleeps"

        async def run(self, ctx):
            events.append("start")
            await asyncio.sleep(0.3)
            events.append("end")
            return [result(f"{self.name}.ok", self.name, Status.PASS, "ok")]

    out = asyncio.run(run_checks([Slow(), Slow(), Slow(), Slow()], ctx(timeout=5), handle_signals=False))
    assert len(out.results) == 4
    assert events == ["start"] * 4 + ["end"] * 4


class TwoSteps(Checker):
    """A probe whose first step waits for a silent host with all the budget has left, then classifies."""

    name = subsystem = "two_steps"
    description = "two steps sharing one budget"
    seen: ClassVar[list[tuple[Budget, float, float]]] = []

    async def run(self, ctx):
        budget = ctx.budget()
        first = budget.step()
        await asyncio.sleep(first)  # "no answer": the whole budget spent waiting
        second = budget.step()  # what is left for the classifying step
        TwoSteps.seen.append((budget, first, second))
        return [result("two_steps.no_answer", "two_steps", Status.FAIL, "no answer", target="h:1",
                       evidence={"first_step_s": round(first, 3), "second_step_s": second})]


def test_each_checker_has_one_budget_of_timeout_shared_by_its_steps():
    """ctx.budget() is the checker's own: --timeout from its start, the same object for every step; the second
    step gets what is left (the floor), and the checker returns its own result, not the runner's `.timeout`."""
    TwoSteps.seen.clear()
    out = asyncio.run(run_checks([TwoSteps(), TwoSteps()], ctx(timeout=0.3), handle_signals=False))
    assert sorted(r.id for r in out.results) == ["two_steps.no_answer"] * 2
    assert all(r.target == "h:1" and r.evidence["second_step_s"] == MIN_STEP for r in out.results)
    (b1, first1, _), (b2, first2, _) = TwoSteps.seen
    assert b1 is not b2 and b1.total == b2.total == 0.3
    assert 0 < first1 <= 0.3 and 0 < first2 <= 0.3


def test_budget_outside_the_runner_starts_when_asked():
    """A probe called directly (tests, plugins' own tools) gets a fresh budget of --timeout each time."""
    c = ctx(timeout=0.5)
    a, b = c.budget(), c.budget()
    assert a is not b and a.total == 0.5 and 0.4 < a.left() <= 0.5
    spent = Budget(1.0, start=time.monotonic() - 5)
    assert spent.left() < 0 and spent.step() == MIN_STEP and spent.step(0.05) == MIN_STEP
    assert Budget(10).step(2.0) == 2.0 and spent.bound() == MIN_STEP + GRACE
    # A step that may need a classifying step after it keeps a share of the budget for that one.
    b = Budget(1.0)
    assert 0.7 < b.step(keep=b.keep_for_next()) <= 0.75 and b.step() > 0.75


def test_built_in_results_link_to_their_docs_heading():
    """Every result of a real run points at an existing docs page and `## <id>` heading."""
    import re
    from pathlib import Path

    from filot_preflight import core
    from filot_preflight.models import anchor

    root = Path(__file__).resolve().parents[1]
    inputs = core.load_inputs(None, [str(root / "manifests/example.prod.env")], ["env"], environ={})
    report = core.run_report(inputs, Options(offline=True))
    linked = [r for r in report.results if r.docs]
    assert len(linked) == len(report.results)
    for r in linked:
        page, _, frag = r.docs.partition("#")
        text = (root / page).read_text()
        anchors = {anchor(h.replace("&lt;", "<").replace("&gt;", ">")) for h in re.findall(r"^## (.+)$", text, re.M)}
        assert frag in anchors, (r.id, r.docs)


def test_plugins_get_no_docs_link_from_us():
    out = asyncio.run(run_checks([Quick()], ctx(), handle_signals=False))
    assert out.results[0].docs == ""


class NeedsLibrary(Checker):
    """Declares a module that nobody imported yet, and one that does not exist."""

    name = subsystem = "needs_library"
    description = "declares its client library"
    libraries = ("preflight_test_lib_probe", "no_such_module_for_preflight")
    seen: ClassVar[list[bool]] = []

    async def run(self, ctx):
        import sys

        self.seen.append("preflight_test_lib_probe" in sys.modules)
        return [result("needs_library.ok", "needs_library", Status.PASS, "ran")]


class BrokenDeclaration(Quick):
    name = subsystem = "broken_declaration"

    def libraries_for(self, ctx):
        raise RuntimeError("a plugin's bug")


def test_libraries_are_imported_before_the_checkers_start(tmp_path, monkeypatch):
    """The runner imports each chosen checker's declared libraries first; one that is missing, or a
    declaration that raises, is left to the checker (which still runs)."""
    import sys

    (tmp_path / "preflight_test_lib_probe.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "preflight_test_lib_probe", raising=False)
    NeedsLibrary.seen.clear()
    out = asyncio.run(run_checks([NeedsLibrary(), BrokenDeclaration()], ctx(timeout=5), handle_signals=False))
    assert {r.id for r in out.results} == {"needs_library.ok", "quick.ok"}
    assert NeedsLibrary.seen == [True]


class Left(Checker):
    """Reports what is left of its budget when it starts."""

    name = subsystem = "left"
    description = "budget probe"
    left: ClassVar[list[float]] = []

    async def run(self, ctx):
        self.left.append(ctx.budget().left())
        return [result("left.ok", "left", Status.PASS, "ok")]


def test_budget_counts_from_the_command_start_but_leaves_half_after_a_slow_start():
    """`started` (the command's start) is where the budget counts from; a start-up that took longer than
    half of --timeout still leaves MIN_SHARE of it. Asserted with a wide margin: behaviour, not a bound."""
    from filot_preflight.runner import MIN_SHARE

    Left.left.clear()
    asyncio.run(run_checks([Left()], ctx(timeout=20), handle_signals=False, started=time.monotonic() - 4))
    asyncio.run(run_checks([Left()], ctx(timeout=20), handle_signals=False, started=time.monotonic() - 60))
    asyncio.run(run_checks([Left()], ctx(timeout=20), handle_signals=False))
    from_start, floored, alone = Left.left
    assert 20 - 4 - 3 < from_start <= 16
    assert 20 * MIN_SHARE - 3 < floored <= 20 * MIN_SHARE
    assert 20 - 3 < alone <= 20
