"""Glue for the document commands: run the checks through the core (or load a saved run), apply waivers.

The commands stay thin: they parse flags into a `RunRequest`, call `run_checks`, and hand the Report
to `render_documents`. The waiver step is here so every document command applies it the same way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence

from filot_preflight import registry
from filot_preflight.documents.results import CheckerInfo
from filot_preflight.manifest import Manifest
from filot_preflight.redact import MASK, MIN_SECRET_LEN, secret_values
from filot_preflight.sources import ValueStore

log = logging.getLogger("filot_preflight")


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
        CheckerInfo(name, cls.subsystem, cls.description, cls.network, tuple(cls.needs),
                    getattr(cls, "phase", "predeploy"))
        for name, cls in registry.discover().items()
    ]


def secrets_selection(manifest: Manifest, sources: Sequence[str], verify: bool) -> tuple[tuple[str, ...], bool]:
    """(checkers, offline) for the secrets commands: the offline rules; Secrets Manager with --source aws;
    with `verify` also the live checkers the manifest names in `verified_by`."""
    names = {"secrets"} | ({"aws_secrets"} if "aws" in sources else set())
    if verify:
        names |= {v.verified_by for v in manifest.variables if v.verified_by}
    installed = set(registry.discover())
    return tuple(sorted(names & installed)), not verify and "aws" not in sources
