"""Checker discovery: built-ins and plugins register the same way, through an entry-point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from filot_preflight.checkers.base import PHASES, Checker, in_phase
from filot_preflight.errors import UsageError
from filot_preflight.runner import safe_str

GROUP = "filot_preflight.checkers"


@cache
def _scan() -> tuple[dict[str, type[Checker]], tuple[tuple[str, str], ...]]:
    # One scan per process: a run asks for the checkers several times (process-env names they need,
    # selection, documents), and the load errors must describe the same scan as the checkers.
    found: dict[str, type[Checker]] = {}
    errors: list[tuple[str, str]] = []
    for ep in entry_points(group=GROUP):
        try:
            cls = ep.load()
        except (Exception, SystemExit) as e:  # noqa: BLE001 - a broken plugin must not take the release gate down
            errors.append((ep.name, f"{e.__class__.__name__}: {safe_str(e)}"))
            continue
        if not (isinstance(cls, type) and issubclass(cls, Checker)):
            errors.append((ep.name, f"{ep.value} is not a Checker subclass"))
            continue
        found[getattr(cls, "name", ep.name)] = cls
    return dict(sorted(found.items())), tuple(errors)


def discover() -> dict[str, type[Checker]]:
    """Every registered checker class by name, sorted. A plugin that fails to import is reported, not fatal."""
    return dict(_scan()[0])


def load_errors() -> tuple[tuple[str, str], ...]:
    """Entry points that failed to load: (name, reason). The core turns them into ERROR results."""
    return _scan()[1]


def select(
    available: dict[str, type[Checker]], only: list[str], skip: list[str], offline: bool, phase: str = "predeploy"
) -> list[Checker]:
    """Instances of the checkers to run; unknown names in --only/--skip are bad input (exit 2).

    `phase` keeps the checkers of that phase; a checker named by --only runs whatever its phase.
    """
    if phase not in PHASES:
        raise UsageError(f"--phase {phase}: unknown phase; choose from {', '.join(PHASES)}")
    for flag, names in (("--only", only), ("--skip", skip)):
        unknown = [n for n in names if n not in available]
        if unknown:
            raise UsageError(
                f"{flag} {unknown[0]}: unknown checker; available: {', '.join(available)}"
            )
    chosen = [c for n, c in available.items() if (n in only if only else in_phase(c.phase, phase)) and n not in skip]
    if offline:
        chosen = [c for c in chosen if not c.network]
        if not chosen and not only and phase == "postdeploy":  # a run that checks nothing must not read READY
            raise UsageError("--phase postdeploy --offline: every post-deployment check needs the network")
    if not chosen and (only or skip or offline):  # a run that can check nothing is a mistake in the flags
        flags = " ".join([*(f"--only {n}" for n in only), *(f"--skip {n}" for n in skip), *(["--offline"] * offline)])
        why = " (the selected checkers need network access)" if offline and only else ""
        raise UsageError(f"{flags}: selects no checker{why}; run `preflight checkers` to list them")
    return [c() for c in chosen]
