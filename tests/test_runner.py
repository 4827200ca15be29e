"""Concurrency, per-checker budgets, the global deadline, crashes and redaction in the runner."""

import asyncio
import time

from filot_preflight import manifest
from filot_preflight.checkers.base import CheckContext, Checker, Options, result
from filot_preflight.models import Status
from filot_preflight.redact import Redactor
from filot_preflight.runner import run_checks
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
    assert elapsed < 0.4 * 1.5 + 0.5
    assert not out.partial
    assert all(SECRET not in (r.summary + r.detail) for r in out.results)
    assert all(r.duration_ms > 0 for r in out.results)


def test_deadline_gives_a_partial_report():
    t0 = time.perf_counter()
    out = asyncio.run(run_checks([Quick(), Hang()], ctx(timeout=30), deadline=0.3, handle_signals=False))
    assert time.perf_counter() - t0 < 1.0
    assert out.partial and not out.interrupted
    assert {r.id for r in out.results} == {"quick.ok", "hang.unfinished"}


def test_checkers_run_concurrently():
    class Slow(Checker):
        name = subsystem = "slow"
        description = "sleeps"

        async def run(self, ctx):
            await asyncio.sleep(0.3)
            return [result(f"{self.name}.ok", self.name, Status.PASS, "ok")]

    t0 = time.perf_counter()
    out = asyncio.run(run_checks([Slow(), Slow(), Slow(), Slow()], ctx(timeout=5), handle_signals=False))
    assert len(out.results) == 4
    assert time.perf_counter() - t0 < 0.9


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
