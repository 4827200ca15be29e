"""mock_code: mock and test-only code reachable in production (the seed's "Mock Code Validation").

Reads the trees given with `--source-dir SERVICE=PATH` (test paths excluded by convention, see
filot_preflight/audit/paths.py) and the env values given to the run. Offline: no network at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from filot_preflight.audit import mocks
from filot_preflight.audit.model import (
    COMMITTED_SECRET,
    LOCALHOST,
    MOCK_IMPORT,
    MOCK_RULES,
    MOCK_SWITCH,
    MOCKS_DIR,
    PROJECT_MOCK,
    TEST_KEY,
    TEST_PACKAGE,
    TreeScan,
)
from filot_preflight.audit.report import (
    audit_config,
    capped,
    code_location,
    no_sources,
    probe_scans,
    sources_results,
)
from filot_preflight.checkers.base import CheckContext, Checker, result
from filot_preflight.models import CheckResult, Status
from filot_preflight.net import libraries as libs
from filot_preflight.sources import Value

NAME = "mock_code"
SUBSYSTEM = "code"
ALLOW_HINT = "Or, if it is meant for production, waive the line with `preflight: allow <reason>`."

_FIX = {
    MOCKS_DIR: "Move __mocks__ under a test path and out of the image (.dockerignore), or list it in "
    "checks.code.extra_test_paths if it is test-only.",
    MOCK_IMPORT: "Move it into a test file or drop it (mocking libraries belong in devDependencies / test "
    "extras). " + ALLOW_HINT,
    MOCK_SWITCH: "Remove the switch from the production env file or set it to false.",
    TEST_KEY: "Use the live key from the provider, kept in Secrets Manager; never commit keys. " + ALLOW_HINT,
    LOCALHOST: "Read the endpoint from a manifest variable and fail at start-up when it is unset. " + ALLOW_HINT,
    PROJECT_MOCK: "Wire the real implementation in production code and keep the project's mock under a test "
    "path (tests/, __tests__/, *.test.*); if a mock must stay selectable, inject it from test set-up only. "
    + ALLOW_HINT,
    COMMITTED_SECRET: "Treat it as leaked: rotate it at the provider now, remove it from the code (and from git "
    "history), and read it from AWS Secrets Manager through a manifest variable (secret: true, aws_secret: ...). "
    "If it is a placeholder, waive the line with `preflight: allow <reason>`.",
    TEST_PACKAGE: "Do not import test-only packages from production code: move the import into a test file and "
    "the package into devDependencies / the test extras (in `dependencies` it ships a test harness; in "
    "devDependencies `npm ci --omit=dev` leaves it out and the import crashes). " + ALLOW_HINT,
}
_CLEAN = {
    MOCKS_DIR: "no __mocks__ folder on a production path",
    MOCK_IMPORT: "no mocking library used by production code",
    MOCK_SWITCH: "no mock switch turned on in a production env file",
    TEST_KEY: "no test key in production code or config",
    LOCALHOST: "no hard-coded loopback endpoint in production code",
    PROJECT_MOCK: "no project-defined mock/fake/stub/in-memory class or module imported by production code",
    TEST_PACKAGE: "no test-only package imported by production code",
    COMMITTED_SECRET: "no credential committed to a production path (detect-secrets)",
}


@dataclass(frozen=True)
class ValueHit:
    """A finding in the env values given to the run (origin 'prod.env:12'); never holds the value."""

    rule: str
    origin: str
    what: str


@dataclass(frozen=True)
class MockFacts:
    """Scans of the source trees (empty when none was given) and findings in the run's env values."""

    scans: tuple[TreeScan, ...]
    values: tuple[ValueHit, ...]


def value_hits(values: Iterable[Value]) -> tuple[ValueHit, ...]:
    """Mock switches and test keys among the run's values (every source, every service)."""
    out: list[ValueHit] = []
    for v in values:
        plain = v.value.get_secret_value()
        if mocks.is_mock_switch(v.name, plain):
            out.append(ValueHit(MOCK_SWITCH, v.origin, f"mock switch {v.name} is on"))
        desc = mocks.test_key(plain)
        if desc is not None:
            out.append(ValueHit(TEST_KEY, v.origin, f"test key: {v.name} holds {desc}"))
    return tuple(out)


async def probe(ctx: CheckContext) -> MockFacts:
    """Scan the trees (in a thread; the scan is shared with env_drift) and the run's env values."""
    hits = value_hits(ctx.values.values)
    dirs = ctx.options.source_dirs
    scans = await ctx.blocking(probe_scans, dirs, audit_config(ctx.manifest, ctx.values.values)) if dirs else ()
    return MockFacts(scans, hits)


def judge(facts: MockFacts) -> list[CheckResult]:
    """Pure: one result per finding (capped per rule), a PASS per rule with nothing found."""
    head = sources_results(NAME, SUBSYSTEM, facts.scans) if facts.scans else [no_sources(NAME, SUBSYSTEM)]
    found: list[CheckResult] = []
    for s in facts.scans:
        for f in s.findings:
            if f.rule == MOCKS_DIR and f.line == 0:
                status, summary = Status.WARN, f"{s.service}: __mocks__ folder on a production path ({f.what})"
            elif f.rule == LOCALHOST:
                status = Status.WARN if f.fallback else Status.FAIL
                kind = "fallback" if f.fallback else "endpoint"
                summary = f"{s.service}: hard-coded loopback {kind} {f.what}"
            elif f.rule == MOCK_SWITCH:
                status, summary = Status.FAIL, f"{s.service}: mock switch {f.what} in a production env file"
            elif f.rule == TEST_KEY:
                status, summary = Status.FAIL, f"{s.service}: test key on a production path ({f.what})"
            elif f.rule == COMMITTED_SECRET:
                status, summary = Status.FAIL, f"{s.service}: committed credential on a production path ({f.what})"
            elif f.rule == PROJECT_MOCK:
                status, summary = Status.FAIL, f"{s.service}: production code {f.what} (the project's own mock)"
            elif f.rule == TEST_PACKAGE:
                status, summary = Status.FAIL, f"{s.service}: production code {f.what} (a test-only package)"
            else:
                status, summary = Status.FAIL, f"{s.service}: {f.what} in production code"
            found.append(
                result(
                    f"{NAME}.{f.rule}", SUBSYSTEM, status, summary, target=f.where,
                    remediation=_FIX[f.rule],
                    evidence={"service": s.service, **code_location(s.root, f.path, f.line)},
                )
            )
    for h in facts.values:
        found.append(
            result(
                f"{NAME}.{h.rule}", SUBSYSTEM, Status.FAIL, f"{h.what} in a production env value",
                target=h.origin, remediation=_FIX[h.rule], evidence={"origin": h.origin},
            )
        )
    scanned = [s for s in facts.scans if s.error is None]
    where = ", ".join(s.service for s in scanned) or "no source tree"
    for rule in MOCK_RULES:
        if any(r.id == f"{NAME}.{rule}" for r in found):
            continue
        if not scanned and rule not in (MOCK_SWITCH, TEST_KEY):
            continue  # nothing was scanned: the sources SKIP/FAIL already says so
        scope = f"{where} and the run's env values" if rule in (MOCK_SWITCH, TEST_KEY) else where
        found.append(
            result(
                f"{NAME}.{rule}", SUBSYSTEM, Status.PASS, f"{_CLEAN[rule]} ({scope})",
                evidence={"files_scanned": sum(s.files_scanned for s in scanned)},
            )
        )
    return head + capped(found)


class MockCodeChecker(Checker):
    """Mock code, mock switches, test keys and loopback endpoints on production paths."""

    name = NAME
    subsystem = SUBSYSTEM
    description = "No mock/test-only code, mock switch or test key on production paths (source audit)"
    network = False
    libraries = libs.AUDIT

    def libraries_for(self, ctx: CheckContext) -> tuple[str, ...]:
        """The audit's libraries only when there are source trees to read."""
        return libs.audit_for(ctx.options.source_dirs)

    async def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Probe, then judge."""
        return judge(await probe(ctx))
