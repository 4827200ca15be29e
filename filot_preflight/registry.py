"""Checker discovery: built-ins and plugins register the same way, through an entry-point group."""

from __future__ import annotations

from importlib.metadata import entry_points

from filot_preflight.checkers.base import Checker
from filot_preflight.errors import UsageError

GROUP = "filot_preflight.checkers"


# Entry points that failed to load in this process: (name, reason). The core turns them into ERROR results.
LOAD_ERRORS: list[tuple[str, str]] = []


def discover() -> dict[str, type[Checker]]:
    """Every registered checker class by name, sorted. A plugin that fails to import is reported, not fatal."""
    found: dict[str, type[Checker]] = {}
    LOAD_ERRORS.clear()
    for ep in entry_points(group=GROUP):
        try:
            cls = ep.load()
        except Exception as e:  # noqa: BLE001 - a broken plugin must not take the release gate down
            LOAD_ERRORS.append((ep.name, f"{e.__class__.__name__}: {e}"))
            continue
        if not (isinstance(cls, type) and issubclass(cls, Checker)):
            LOAD_ERRORS.append((ep.name, f"{ep.value} is not a Checker subclass"))
            continue
        found[getattr(cls, "name", ep.name)] = cls
    return dict(sorted(found.items()))


def select(
    available: dict[str, type[Checker]], only: list[str], skip: list[str], offline: bool
) -> list[Checker]:
    """Instances of the checkers to run; unknown names in --only/--skip are bad input (exit 2)."""
    for flag, names in (("--only", only), ("--skip", skip)):
        unknown = [n for n in names if n not in available]
        if unknown:
            raise UsageError(
                f"{flag} {unknown[0]}: unknown checker; available: {', '.join(available)}"
            )
    chosen = [c for n, c in available.items() if (not only or n in only) and n not in skip]
    if offline:
        chosen = [c for c in chosen if not c.network]
    return [c() for c in chosen]
