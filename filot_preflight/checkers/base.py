"""What every checker is: it needs some variables, probes with bounded I/O, then judges facts into results.

A checker module reads: `probe(ctx) -> Facts` (I/O, all steps sharing one `ctx.budget()` of --timeout),
`judge(facts) -> list[CheckResult]` (pure, unit-tested with tables), and a `Checker` subclass whose
`run` glues the two. An unreachable service is a fact that becomes a FAIL with a fix, never an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from filot_preflight.manifest import Manifest
from filot_preflight.models import CheckResult, EvidenceValue, Status
from filot_preflight.redact import Redactor
from filot_preflight.sources import ValueStore

T = TypeVar("T")

# The shortest timeout a step is given, even when the budget is spent: a second step that classifies a
# failure (TLS or plain? silent or refused?) still gets one short try, and the checker reports what it found.
MIN_STEP = 0.1
# How far past the budget an outer bound (asyncio.wait_for around a blocking probe whose own steps are
# bounded) waits: the probe's steps end at the budget's end (+ MIN_STEP at most), so its own, precise
# facts arrive first; the outer bound only catches a step nothing else bounds (a stuck DNS lookup).
GRACE = 0.15
# A step whose failure needs a second step to be classified (a TLS handshake with no answer: a silent host,
# or a plain-text server waiting for a newline?) leaves this share of the budget for the second one: on a
# busy machine a starved server needs more than MIN_STEP to answer the classifying PING.
KEEP_SHARE = 0.25


class Budget:
    """One checker's time: `--timeout` seconds from the checker's start, shared by all of its steps.

    The runner gives each checker its own (`ctx.budget()`); every network step asks `step()` for its
    timeout and so gets what is left, never more than the whole budget: a checker whose first step
    waits for a silent host still classifies the failure with what remains, and the whole check ends
    within --timeout instead of adding up one --timeout per step.
    """

    def __init__(self, total: float, start: float | None = None) -> None:
        self.total = total
        self.end = (time.monotonic() if start is None else start) + total

    def left(self) -> float:
        """Seconds left (negative once spent)."""
        return self.end - time.monotonic()

    def step(self, cap: float | None = None, keep: float = 0.0) -> float:
        """Timeout for the next step: what is left minus `keep` (kept for a later step), at most `cap`,
        never below MIN_STEP."""
        left = self.left() - keep
        return max(MIN_STEP, left if cap is None else min(cap, left))

    def keep_for_next(self) -> float:
        """What a step that may need a classifying step after it keeps for that one (KEEP_SHARE of the total)."""
        return self.total * KEEP_SHARE

    def bound(self) -> float:
        """Timeout for an outer wait around steps that bound themselves by this budget (see GRACE)."""
        return self.step() + GRACE


@dataclass(frozen=True)
class Options:
    """Run-wide settings every checker may read. Relaxations (insecure, allow_loopback, plaintext auth) are explicit."""

    timeout: float = 10.0
    ca_file: Path | None = None
    insecure: bool = False
    allow_loopback: bool = False
    # Only this lets a probe send a password over a connection without TLS (a redis:// URL, sslmode=prefer).
    allow_plaintext_auth: bool = False
    offline: bool = False
    strict: bool = False
    send_signed_callback: bool = False
    task_defs: tuple[Path, ...] = ()
    source_dirs: dict[str, Path | tuple[Path, ...]] = field(default_factory=dict)  # several trees per service
    aws_region: str | None = None
    aws_profile: str | None = None
    aws_endpoint: str | None = None


@dataclass
class CheckContext:
    """Everything a checker sees: the manifest, the values (per service), options and the redactor."""

    manifest: Manifest
    values: ValueStore
    options: Options
    redactor: Redactor
    # Set by the runner for each checker (its own copy of the context); None: a probe called directly.
    checker_budget: Budget | None = None

    def budget(self) -> Budget:
        """This checker's time budget; called outside the runner, a new one of --timeout starting now.

        A probe takes it once at its start and hands the same object to all of its steps.
        """
        return self.checker_budget if self.checker_budget is not None else Budget(self.options.timeout)

    def value(self, name: str, service: str = "backend") -> str | None:
        """The plain value of `name` as `service` sees it. Only for probes; never put it in a result."""
        v = self.values.get(name, service)
        return v.value.get_secret_value() if v is not None else None

    async def blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking driver call in a daemon thread.

        Daemon threads, not the default executor: a driver stuck past its deadline must not keep
        the process alive at exit (the executor's threads are joined at interpreter shutdown).
        """
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()

        def target() -> None:
            try:
                res, exc = fn(*args, **kwargs), None
            except BaseException as e:  # noqa: BLE001 - handed to the awaiting coroutine
                res, exc = None, e
            # The run may be over (deadline, abandoned probe) and its loop closed: drop the late answer.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, fut, res, exc)

        threading.Thread(target=target, daemon=True, name=f"probe-{getattr(fn, '__name__', 'call')}").start()
        return await fut


def _settle(fut: asyncio.Future[Any], res: Any, exc: BaseException | None) -> None:
    if fut.done():  # the awaiting task was cancelled (deadline); drop the late answer
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(res)


PHASES = ("predeploy", "postdeploy", "all")  # what `preflight check --phase` accepts


def in_phase(checker_phase: str, run_phase: str) -> bool:
    """Whether a checker of `checker_phase` runs in a `--phase run_phase` run."""
    return run_phase == "all" or checker_phase in ("any", run_phase)


class Checker(ABC):
    """Base of every checker, built-in or plugin."""

    name: ClassVar[str]
    subsystem: ClassVar[str]
    description: ClassVar[str]
    needs: ClassVar[tuple[str, ...]] = ()
    network: ClassVar[bool] = True  # False: runs under --offline
    # When it runs: "predeploy" (is the environment ready to deploy?), "postdeploy" (is the deployment live
    # and healthy?) or "any" (both, e.g. liveness of the deployed endpoints). See PHASES.
    phase: ClassVar[str] = "predeploy"
    # The client libraries the probe imports (lazily, so that `preflight --help` stays fast). The runner
    # imports those of every chosen checker one after another before the checkers start (`libraries_for`).
    libraries: ClassVar[tuple[str, ...]] = ()

    def libraries_for(self, ctx: CheckContext) -> tuple[str, ...]:
        """The modules this run's probe will import (`libraries`; a checker narrows it, e.g. no AWS offline)."""
        return self.libraries

    @abstractmethod
    async def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Probe, judge, and return results. Exceptions become an ERROR result in the runner."""


def result(
    id: str,
    subsystem: str,
    status: Status,
    summary: str,
    *,
    target: str = "",
    detail: str = "",
    remediation: str = "",
    evidence: dict[str, EvidenceValue] | None = None,
) -> CheckResult:
    """Shorthand to build a CheckResult."""
    return CheckResult(
        id=id,
        subsystem=subsystem,
        status=status,
        target=target,
        summary=summary,
        detail=detail,
        remediation=remediation,
        evidence=evidence or {},
    )



class ResultMaker(Protocol):
    """`result` bound to one checker: called with the rule, it builds the id `<checker>.<rule>`."""

    def __call__(self, rule: str, status: Status, summary: str, *, target: str = "", detail: str = "",
                 remediation: str = "", evidence: dict[str, EvidenceValue] | None = None) -> CheckResult: ...


def results_for(checker: str, subsystem: str) -> ResultMaker:
    """A result factory for one checker: `_r = results_for(NAME, SUBSYSTEM)`, then `_r("rule", status, ...)`.

    Give the rule as a literal (or a name bound to literals): tests/test_docs.py follows the first
    argument of each call of the factory's product to find every id the checker can emit.
    """

    def make(rule: str, *args: Any, **kwargs: Any) -> CheckResult:
        return result(f"{checker}.{rule}", subsystem, *args, **kwargs)

    return make
