"""Run checkers concurrently, each bounded in time, the whole run under a deadline.

A checker that crashes becomes an ERROR result and the others still finish; one that overruns its
budget becomes a FAIL naming the timeout; at the deadline (or on SIGINT/SIGTERM) whatever finished
is kept and the report is marked partial.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import logging
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from filot_preflight import collector
from filot_preflight.checkers.base import Budget, CheckContext, Checker, result
from filot_preflight.models import CheckResult, Status
from filot_preflight.models import docs_link as models_docs_link

log = logging.getLogger("filot_preflight")

# A checker's own budget is --timeout, counted from its start and shared by all of its steps
# (ctx.budget()). The runner's cap is only the safety net for a checker that ignores it: well above,
# so that on a loaded machine a late thread or a slow import never lets it fire before the checker's
# own, precise result (with 1.5 x timeout it did: "backend.timeout: no answer within 3s").
BACKSTOP_FACTOR = 1.5
# The share of --timeout a checker has at least, counted from the start of the checks, however long the
# command's start-up took (its budget counts from the command's start: see run_checks).
MIN_SHARE = 0.5
BACKSTOP_MARGIN = 2.0


def backstop(timeout: float) -> float:
    """The runner's cap on one checker, in seconds."""
    return timeout * BACKSTOP_FACTOR + BACKSTOP_MARGIN


@dataclass
class RunOutcome:
    """What the runner hands back: results in completion order, and how the run ended."""

    results: list[CheckResult] = field(default_factory=list)
    partial: bool = False
    interrupted: bool = False


Callback = Callable[[Checker, list[CheckResult] | None], None]


async def run_checks(
    checkers: list[Checker],
    ctx: CheckContext,
    *,
    deadline: float | None = None,
    on_event: Callback | None = None,
    handle_signals: bool = True,
    started: float | None = None,
) -> RunOutcome:
    """Run every checker concurrently; never raises for a checker's failure.

    Each checker's budget (--timeout) counts from `started`, the command's start (time.monotonic()), so
    that the command ends within --timeout: reading the inputs and importing the client libraries are
    every checker's first steps. A start-up that took long (a busy machine) still leaves every checker
    `MIN_SHARE` of its budget from the start of the checks. Without `started`, from the start of the checks.
    """
    outcome = RunOutcome()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[tuple[signal.Signals, Any]] = []
    if handle_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                previous = signal.getsignal(sig)
                loop.add_signal_handler(sig, stop.set)
                installed.append((sig, previous))

    now = time.monotonic()
    started = now if started is None else max(min(started, now), now - ctx.options.timeout * (1 - MIN_SHARE))
    end = None if deadline is None else loop.time() + deadline
    preload(checkers, ctx)  # for all of them at once: each checker's first step

    async def one(c: Checker) -> None:
        log.info("%s: started (budget %gs)", c.name, ctx.options.timeout)
        if on_event:
            on_event(c, None)
        res = await _run_one(c, ctx, started)
        outcome.results.extend(res)
        counts = Counter(r.status.value for r in res)
        took = max((r.duration_ms for r in res), default=0.0)
        log.info("%s: done in %.0f ms: %s", c.name, took, ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        if on_event:
            on_event(c, res)

    tasks = {asyncio.create_task(one(c)): c for c in checkers}
    stopper = asyncio.create_task(stop.wait())
    try:
        while not stop.is_set() and not all(t.done() for t in tasks):
            remaining = None if end is None else end - loop.time()
            if remaining is not None and remaining <= 0:
                break
            await asyncio.wait(
                [t for t in tasks if not t.done()] + [stopper],
                timeout=remaining,
                return_when=asyncio.FIRST_COMPLETED,
            )
    finally:
        for sig, previous in installed:
            loop.remove_signal_handler(sig)
            # remove_signal_handler resets to the default (for SIGTERM: die at once); give back the caller's
            # handler, so that a signal while the report is rendered still ends as an interrupt (exit 130).
            if previous is not None:
                with contextlib.suppress(ValueError, TypeError):
                    signal.signal(sig, previous)
    unfinished = [c for t, c in tasks.items() if not t.done()]
    for t in tasks:
        t.cancel()
    stopper.cancel()
    await asyncio.gather(*tasks, stopper, return_exceptions=True)
    if unfinished:
        outcome.partial = True
        outcome.interrupted = stop.is_set()
        why = "interrupted" if stop.is_set() else f"not finished before the --deadline of {deadline:g}s"
        for c in unfinished:
            outcome.results.append(
                result(
                    f"{c.name}.unfinished",
                    c.subsystem,
                    Status.ERROR,
                    f"{c.name}: {why}",
                    remediation="Run again with a longer --deadline, or --skip this checker to see the rest.",
                ).with_updates(docs=docs_link(c, f"{c.name}.unfinished"))
            )
    elif stop.is_set():
        outcome.interrupted = True
    return outcome


def preload(checkers: list[Checker], ctx: CheckContext) -> None:
    """Import the client libraries of the chosen checkers, one after another, before any checker starts.

    Imported side by side in the checkers' threads, every import's file reads handed the GIL from thread
    to thread (68,000 futex calls in a full check, against 14,000): the full sandbox check took 1.83 s
    of CPU and 1.70 s, against 1.51 s and 1.42 s with the imports first. A module that does not import
    is left to the checker's own import, which reports it.
    """
    wanted: dict[str, None] = {}
    for c in checkers:
        try:
            wanted.update(dict.fromkeys(c.libraries_for(ctx)))
        except Exception:  # noqa: BLE001 - a plugin's declaration: its run reports its own trouble
            log.debug("%s: libraries_for failed", c.name, exc_info=True)
    missing = [name for name in wanted if name not in sys.modules]
    if missing:  # a later run in the process (a watch cycle) leaves the collector alone
        collector.pause()  # see collector.py; a no-op when entry.run paused it already
    try:
        for name in missing:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - not installed or broken: the probe's own import says so
                log.debug("preload: %s did not import", name, exc_info=True)
    finally:
        collector.resume()


async def _run_one(c: Checker, ctx: CheckContext, started: float | None = None) -> list[CheckResult]:
    budget = backstop(ctx.options.timeout)
    # Its duration counts from where its budget does: the run's start, when its libraries were imported.
    t0 = time.perf_counter() - (0.0 if started is None else max(0.0, time.monotonic() - started))
    # The checker's own budget, on its own copy of the context, counts from the run's start (`started`:
    # the libraries were imported for it then) or, called alone, from now.
    ctx = dataclasses.replace(ctx, checker_budget=Budget(ctx.options.timeout, start=started))
    try:
        # The runner's backstop counts from this checker's own task. Checkers begin one after another on
        # the shared loop, and one whose first step does synchronous work (parsing) delays the start of the
        # next; with a timer started for all of them at once (wait_for on a new task), that delay was taken
        # from the later checkers' backstops, and a checker lost its own diagnosis to a generic `.timeout`
        # (seen with every subsystem pointed at a silent host: redis, gpu_worker, backend, buli2).
        async with asyncio.timeout(budget):
            res = await c.run(ctx)
    except TimeoutError:
        res = [
            result(
                f"{c.name}.timeout",
                c.subsystem,
                Status.FAIL,
                f"{c.name}: no answer within {budget:g}s",
                remediation=f"Check that the {c.subsystem} endpoint is reachable from here, "
                "or raise --timeout if it is merely slow.",
            )
        ]
    except asyncio.CancelledError:
        # The runner cancels a checker at the deadline or on a signal: that must go on. A checker that
        # raises CancelledError itself (nobody cancelled it) would vanish from the report: contain it.
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        res = [_crashed(c, ctx, asyncio.CancelledError())]
    except BaseException as e:  # noqa: BLE001 - a crashing checker must not stop the others
        # BaseException too: a plugin's sys.exit(0) ended the run with exit 0 and no report, and a
        # KeyboardInterrupt it raised gave 130 with no report. A real Ctrl-C/SIGTERM never arrives as an
        # exception here: run_checks turns the signal into `stop` (partial report, exit 130).
        res = [_crashed(c, ctx, e)]
    else:
        res = _valid_results(c, res)
    # Microseconds kept: a checker that returns (or crashes) in its first step now runs without a task
    # switch and can take well under 0.1 ms; its duration must still read as measured, not as unset.
    ms = round((time.perf_counter() - t0) * 1000, 3)
    return [
        r.with_updates(
            duration_ms=r.duration_ms or ms,
            docs=r.docs or docs_link(c, r.id),
            target=ctx.redactor.redact(r.target),
            summary=ctx.redactor.redact(r.summary),
            detail=ctx.redactor.redact(r.detail),
            remediation=ctx.redactor.redact_values(r.remediation),  # the checker's own fix: patterns would eat prose
            evidence=ctx.redactor.redact_obj(r.evidence),
        )
        for r in res
    ]


def _crashed(c: Checker, ctx: CheckContext, e: BaseException) -> CheckResult:
    return result(
        f"{c.name}.crashed",
        c.subsystem,
        Status.ERROR,
        f"{c.name} crashed: {e.__class__.__name__}: {ctx.redactor.redact(safe_str(e))[:300]}",
        remediation="This is a bug in the checker; run with -v for details and report it.",
    )


def safe_str(e: BaseException) -> str:
    """str(e), or a placeholder when the exception's own __str__ fails (it must not crash the runner)."""
    try:
        return str(e)
    except BaseException:  # noqa: BLE001 - any failure of a plugin's __str__ is contained
        return "(the exception's message could not be built)"


def _valid_results(c: Checker, res: Any) -> list[CheckResult]:
    """The checker's results, re-validated; anything else is one ERROR result naming the checker.

    A plugin returning None, a dict or a list of strings made its checker vanish from the report, and a
    run whose only failing check vanished said READY. A result built with model_construct (skipping
    validation) is validated here too, so a bad status cannot slip through.
    """
    problem = ""
    if not isinstance(res, list):
        problem = f"returned {type(res).__name__}, not a list of CheckResult"
    else:
        bad = next((r for r in res if not isinstance(r, CheckResult)), None)
        if bad is not None:
            problem = f"returned a list holding {type(bad).__name__}, not only CheckResult"
        else:
            try:
                return [CheckResult.model_validate(r.model_dump(warnings=False)) for r in res]
            except Exception as e:  # noqa: BLE001 - pydantic's ValidationError, or a broken field
                problem = f"returned an invalid CheckResult ({e.__class__.__name__})"
    return [
        result(
            f"{c.name}.invalid_result",
            c.subsystem,
            Status.ERROR,
            f"{c.name} {problem}",
            remediation="This is a bug in the checker: its run() must return a list of CheckResult; report it.",
        )
    ]


_RUNNER_RULES = ("timeout", "crashed", "unfinished", "invalid_result")


def docs_link(c: Checker, result_id: str) -> str:
    """The docs page and anchor of a built-in checker's result id ('' for plugins, which bring their own)."""
    if not type(c).__module__.startswith("filot_preflight."):
        return ""
    rule = result_id.rsplit(".", 1)[-1]
    if result_id == f"{c.name}.{rule}" and rule in _RUNNER_RULES:
        return models_docs_link("core", f"<checker>.{rule}")
    return models_docs_link(c.name, result_id)
