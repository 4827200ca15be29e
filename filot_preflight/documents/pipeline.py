"""Glue for the document commands: run the checks through the core (or load a saved run), apply waivers.

The commands stay thin: they parse flags into a `RunRequest`, call `run_checks`, and hand the Report
to `render_documents`. The waiver step is here so every document command applies it the same way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from filot_preflight import core, registry, waivers
from filot_preflight.checkers.base import Options
from filot_preflight.documents.results import CheckerInfo, RunInfo
from filot_preflight.manifest import Manifest
from filot_preflight.models import Report
from filot_preflight.redact import MASK, MIN_SECRET_LEN, Redactor, secret_values
from filot_preflight.sources import ValueStore

log = logging.getLogger("filot_preflight")


@dataclass(frozen=True)
class RunRequest:
    """What to read and which checks to run; mirrors the flags of `preflight check`."""

    manifest: Path | None = None
    env_files: tuple[str, ...] = ()
    sources: tuple[str, ...] = ("env",)
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    deadline: float | None = None
    base: Options = field(default_factory=Options)
    flags: dict[str, object] = field(default_factory=dict)  # timeout, ca_file, insecure, allow_loopback
    waiver_file: Path | None = None


def value_masker(manifest: Manifest, store: ValueStore) -> Callable[[str], str]:
    """Masks the secret values read in this run, and nothing else.

    The documents hold no values by construction (names, paths, statuses, redacted result text);
    this is the last line of defence. It deliberately skips the Redactor's secret-shaped patterns,
    which would mangle ordinary prose such as "Create app/prod/jwt-secret: preflight secrets ...".
    """
    names = {v.name for v in manifest.variables}
    plain = sorted(set(secret_values(store.values, {v.name for v in manifest.secrets()}, names)), key=len, reverse=True)
    plain = [p for p in plain if len(p) >= MIN_SECRET_LEN]
    if not plain:
        return lambda text: text
    pattern = re.compile("|".join(re.escape(p) for p in plain))
    return lambda text: pattern.sub(MASK, text)


def checker_infos() -> list[CheckerInfo]:
    """The installed checkers as the documents describe them."""
    return [
        CheckerInfo(name, cls.subsystem, cls.description, cls.network, tuple(cls.needs))
        for name, cls in registry.discover().items()
    ]


def load_waivers(path: Path | None) -> list[waivers.Waiver]:
    """An explicit waiver file, else preflight.toml / [tool.preflight] in the current directory."""
    return waivers.load(path) if path is not None else waivers.load_default()


def run_checks(req: RunRequest, redactor: Redactor) -> tuple[core.Inputs, Report, RunInfo]:
    """Load inputs, run the selected checkers, apply waivers. Bad input raises PreflightError (exit 2)."""
    inputs = core.load_inputs(req.manifest, list(req.env_files), list(req.sources), options=req.base,
                              redactor=redactor)
    options = core.resolve_options(inputs.store, req.base, dict(req.flags), config={})
    found = load_waivers(req.waiver_file)  # read before running: a malformed file fails fast
    report = core.run_report(inputs, options, only=list(req.only), skip=list(req.skip), deadline=req.deadline)
    report = waivers.apply(report, found)
    log.info("ran %d results; %d waiver(s) configured", len(report.results), len(found))
    return inputs, report, RunInfo(offline=options.offline, only=req.only, skip=req.skip)


def secrets_selection(manifest: Manifest, sources: Sequence[str], verify: bool) -> tuple[tuple[str, ...], bool]:
    """(checkers, offline) for the secrets commands: the offline rules; Secrets Manager with --source aws;
    with `verify` also the live checkers the manifest names in `verified_by`."""
    names = {"secrets"} | ({"aws_secrets"} if "aws" in sources else set())
    if verify:
        names |= {v.verified_by for v in manifest.variables if v.verified_by}
    installed = set(registry.discover())
    return tuple(sorted(names & installed)), not verify and "aws" not in sources
