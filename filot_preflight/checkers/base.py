"""What every checker is: it needs some variables, probes with bounded I/O, then judges facts into results.

A checker module reads: `probe(ctx) -> Facts` (I/O, every step bounded by `ctx.options.timeout`),
`judge(facts) -> list[CheckResult]` (pure, unit-tested with tables), and a `Checker` subclass whose
`run` glues the two. An unreachable service is a fact that becomes a FAIL with a fix, never an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
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
