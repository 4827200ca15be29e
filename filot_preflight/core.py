"""The core the commands call: load manifest and values, build the context, run checkers into a Report."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filot_preflight import clock, consequences, registry, waivers
from filot_preflight import manifest as manifest_mod
from filot_preflight.checkers.base import CheckContext, Checker, Options, in_phase, result
from filot_preflight.config import Config
from filot_preflight.errors import UsageError
from filot_preflight.fileio import MAX_PEM_BYTES, read_limited
from filot_preflight.manifest import Manifest
from filot_preflight.models import CheckResult, Report, Status, docs_link
from filot_preflight.redact import Redactor, process_env_secrets, secret_values
from filot_preflight.runner import Callback, run_checks
from filot_preflight.settings import pick, seconds
from filot_preflight.sources import ValueStore, load_values

log = logging.getLogger("filot_preflight")

SOURCES = ("env", "aws")
EXIT_RESERVE = 0.1  # seconds kept back from --deadline to render and write the partial report


@dataclass
class Inputs:
    """What a command reads before it does anything: the manifest, the values, and a redactor that knows them."""

    manifest: Manifest
    store: ValueStore
    redactor: Redactor
    source_problems: list[CheckResult] = field(default_factory=list)
    sources: tuple[str, ...] = ("env",)

    def read_remote(self, options: Options) -> None:
        """Read the network sources (`--source aws`) with the resolved options; trouble becomes a result.

        Separate from load_inputs because the options (timeout, CA file, region) are only known once
        the PREFLIGHT_* settings in the env files have been read.
        """
        if "aws" not in self.sources:
            return
        from filot_preflight.net import secrets_manager as aws_source  # boto3 is heavy; only when asked for

        read = aws_source.read_secrets(self.manifest, options, self.store)
        self.store.add(read.values)
        _teach(self.redactor, self.manifest, self.store)
        log.info("read %d values from AWS Secrets Manager in %d call(s)", len(read.values), read.calls)
        if read.problem is not None:
            self.source_problems.append(
                result(
                    "source.aws",
                    "aws",
                    Status.FAIL,
                    "--source aws: could not read Secrets Manager: "
                    + self.redactor.redact(read.problem.message)[:300],
                    remediation=read.problem.remedy,
                    evidence={"kind": read.problem.kind, "region": read.region, "calls": read.calls},
                ).with_updates(docs=docs_link("core", "source.aws"))
            )


def load_inputs(
    manifest_path: Path | None,
    env_files: Sequence[str] = (),
    sources: Sequence[str] = ("env",),
    *,
    environ: Mapping[str, str] | None = None,
    redactor: Redactor | None = None,
) -> Inputs:
    """Load the manifest and every value source in precedence order (see sources.py)."""
    bad = [s for s in sources if s not in SOURCES]
    if bad:
        raise UsageError(f"--source {bad[0]}: unknown source; choose from {', '.join(SOURCES)}")
    m = manifest_mod.load(manifest_path)
    log.info("manifest %s %s: %d variables", m.name, m.version, len(m.variables))
    needed = {n for cls in registry.discover().values() for n in cls.needs}  # plugins may need undeclared names
    store = load_values(m, env_files, use_process_env="env" in sources, environ=environ, extra_names=needed)
    log.info("read %d values from %d env file(s)", len(store.values), len(env_files))
    redactor = redactor or Redactor()
    _teach(redactor, m, store)
    return Inputs(m, store, redactor, sources=tuple(sources))


def _teach(redactor: Redactor, m: Manifest, store: ValueStore) -> None:
    names = {v.name for v in m.variables}
    redactor.add(secret_values(store.values, {v.name for v in m.secrets()}, names))
    # Secrets the manifest does not name but a plugin or driver could still read from the process and
    # quote in a crash message.
    redactor.add(process_env_secrets(os.environ))


def resolve_options(store: ValueStore, base: Options, flags: dict[str, Any], config: Mapping[str, Any]) -> Options:
    """Fill options the flags left unset: PREFLIGHT_* in the process env, then in env files, then the config file."""
    layers: list[Mapping[str, Any]] = [store.settings("env"), store.settings("file"), config]
    return replace(
        base,
        timeout=seconds("--timeout", flags["timeout"]) if flags.get("timeout") is not None
        else pick(None, "PREFLIGHT_TIMEOUT", layers, base.timeout, "float"),
        ca_file=pick(flags.get("ca_file"), "PREFLIGHT_CA_FILE", layers, base.ca_file, "path"),
        insecure=pick(flags.get("insecure"), "PREFLIGHT_INSECURE", layers, base.insecure, "bool"),
        allow_loopback=pick(
            flags.get("allow_loopback"), "PREFLIGHT_ALLOW_LOOPBACK", layers, base.allow_loopback, "bool"
        ),
        allow_plaintext_auth=pick(
            flags.get("allow_plaintext_auth"), "PREFLIGHT_ALLOW_PLAINTEXT_AUTH", layers, base.allow_plaintext_auth,
            "bool",
        ),
    )


def relaxations(options: Options) -> list[CheckResult]:
    """One WARN naming every relaxation in force, so a relaxed run can never look like a strict one."""
    items = []
    if options.insecure:
        items.append("TLS certificate verification is OFF (--insecure)")
    if options.allow_loopback:
        items.append("loopback/private addresses are accepted (--allow-loopback / PREFLIGHT_ALLOW_LOOPBACK)")
    if options.allow_plaintext_auth:
        items.append(
            "credentials may be sent without TLS (--allow-plaintext-auth / PREFLIGHT_ALLOW_PLAINTEXT_AUTH)"
        )
    if not items:
        return []
    return [
        result(
            "policy.relaxations",
            "policy",
            Status.WARN,
            "Production rules relaxed: " + "; ".join(items),
            remediation="Run the release gate without these relaxations against the real environment.",
            evidence={"relaxations": items},
        ).with_updates(docs=docs_link("core", "policy.relaxations"))
    ]


def run_report(
    inputs: Inputs,
    options: Options,
    *,
    only: Sequence[str] = (),
    skip: Sequence[str] = (),
    deadline: float | None = None,
    on_event: Callback | None = None,
    checkers: list[Checker] | None = None,
    partial_ok: bool = False,
    phase: str = "predeploy",
    started: float | None = None,
) -> Report:
    """Run the selected checkers and assemble the Report (exit code is computed from it, later).

    `started` (time.monotonic()): when the command began; the checkers' budgets count from there (see
    runner.run_checks), else from the start of the checks.
    """
    available = registry.discover()
    chosen = checkers if checkers is not None else registry.select(
        available, list(only), list(skip), options.offline, phase
    )
    ran = [c.name for c in chosen]
    # Checkers of another phase are not this run's business (a predeploy gate does not miss ecs_services).
    not_run = [] if checkers is not None else [n for n, c in available.items()
                                               if n not in ran and in_phase(c.phase, phase)]
    ctx = CheckContext(inputs.manifest, inputs.store, options, inputs.redactor)
    report = Report(
        manifest_name=inputs.manifest.name,
        manifest_version=inputs.manifest.version,
        environment=inputs.manifest.environment,
        strict=options.strict,
        offline=options.offline,
        only=list(only),
        skip=list(skip),
        checkers_run=ran,
        checkers_not_run=not_run,
        partial_ok=partial_ok,
        phase=phase,
    )
    outcome = asyncio.run(run_checks(chosen, ctx, deadline=deadline, on_event=on_event, started=started))
    broken = [
        result(
            f"plugin.{name}",
            "plugin",
            Status.ERROR,
            f"checker {name!r} could not be loaded: {inputs.redactor.redact(reason)[:200]}",
            remediation="Reinstall or fix the package that provides this checker, or uninstall it.",
        ).with_updates(docs=docs_link("core", "plugin.<name>"))
        for name, reason in registry.load_errors()
        if checkers is None
    ]
    results = consequences.link([*relaxations(options), *broken, *inputs.source_problems, *outcome.results])
    return report.model_copy(
        update={
            "results": results,
            "partial": outcome.partial,
            "interrupted": outcome.interrupted,
            "finished_at": datetime.now(UTC),
        }
    )


@dataclass(frozen=True)
class RunRequest:
    """Everything a command asks of a run, as parsed from its flags; the config file fills the gaps."""

    manifest: Path | None = None
    env_files: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    phase: str = "predeploy"  # which checkers run: predeploy | postdeploy | all (checkers/base.py PHASES)
    deadline: float | None = None
    base: Options = field(default_factory=Options)
    flags: dict[str, Any] = field(default_factory=dict)  # timeout, ca_file, insecure, allow_loopback, ...
    config: Config = field(default_factory=Config)
    partial_ok: bool = False  # a narrowed or not fully checked run that found nothing wrong exits 0


def prepare(req: RunRequest, redactor: Redactor) -> tuple[Inputs, Options]:
    """Read the inputs and resolve the options of `req` (also reading `--source aws`); no checker runs.

    Bad input (manifest, env file, task definition file, flags) raises PreflightError.
    """
    cfg = req.config
    inputs = load_inputs(
        req.manifest or cfg.get("manifest"),
        list(req.env_files) or list(cfg.get("env_files", [])),
        list(req.sources) or list(cfg.get("sources", [])) or ["env"],
        redactor=redactor,
    )
    options = resolve_options(inputs.store, req.base, dict(req.flags), config=cfg.as_settings())
    if options.ca_file is not None:  # a FIFO or /dev/zero here would stall or flood every TLS checker
        # Missing or unreadable (OSError) is left to each checker, which reports it with its fix (redis.ca_file).
        with contextlib.suppress(OSError):
            read_limited(options.ca_file, MAX_PEM_BYTES, "--ca-file", UsageError)
    if options.task_defs:  # a broken file is bad input (exit 2), not a failed check
        from filot_preflight.taskdefs import load_files

        load_files(options.task_defs)
    inputs.read_remote(options)
    return inputs, options


def execute(req: RunRequest, redactor: Redactor, on_event: Callback | None = None) -> tuple[Inputs, Report]:
    """The one flow behind `check`, `report` and `secrets`: read inputs, resolve options, run, apply waivers.

    Bad input (manifest, env file, task definition file, flags) raises PreflightError before any probe.
    """
    started = clock.take()
    cfg = req.config
    inputs, options = prepare(req, redactor)
    deadline = seconds("--deadline", req.deadline) if req.deadline is not None else cfg.get("deadline")
    if deadline is not None:  # the deadline counts from the start of the command, not of the checks
        deadline = max(0.1, deadline - (time.monotonic() - started) - EXIT_RESERVE)
    report = run_report(inputs, options, only=req.only, skip=req.skip, deadline=deadline, on_event=on_event,
                        partial_ok=req.partial_ok, phase=req.phase, started=started)
    return inputs, waivers.apply(report, cfg.waivers)
