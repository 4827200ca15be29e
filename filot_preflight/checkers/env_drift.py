"""env_drift: every variable the code reads is in the manifest, for the right service, and vice versa.

Also compares the queue names the backend and the GPU worker use in code (`env_drift.queue_keys`).
Reads the trees given with `--source-dir SERVICE=PATH`; offline, no network.

Severity of a variable a service reads while the manifest does not list that service as a consumer:
FAIL, because the service's task definition is built from the manifest and will not provide it; WARN
when every such read has a fallback in code (the service starts, with the fallback).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from filot_preflight.audit.model import EnvRead, TreeScan
from filot_preflight.audit.paths import compile_globs
from filot_preflight.audit.queue_judge import judge_queues
from filot_preflight.audit.report import (
    audit_config,
    by_service,
    capped,
    code_location,
    no_sources,
    probe_scans,
    sources_results,
    where_list,
)
from filot_preflight.checkers.base import CheckContext, Checker, result
from filot_preflight.manifest import Manifest
from filot_preflight.models import CheckResult, Status
from filot_preflight.net import libraries as libs

NAME = "env_drift"
Matcher = Callable[[str], object]
SUBSYSTEM = "code"

# Set by the platform or the runtime, not by the deployment: reading them needs no manifest entry.
DEFAULT_IGNORE_VARS = (
    "HOME", "PATH", "PWD", "USER", "SHELL", "HOSTNAME", "TZ", "LANG", "LC_*", "TMPDIR", "TEMP", "TMP",
    "CI", "npm_*", "INIT_CWD", "ECS_CONTAINER_METADATA_URI*", "AWS_EXECUTION_ENV", "AWS_CONTAINER_*",
    "KUBERNETES_*", "JEST_WORKER_ID", "VITEST*", "PYTEST_*", "PYTHON*", "VIRTUAL_ENV", "CUDA_VISIBLE_DEVICES",
    "NVIDIA_*", "PREFLIGHT_*", "MODE", "DEV", "PROD", "SSR", "BASE_URL",
)
# Read by SDKs and runtimes rather than by the code: never reported as unread.
DEFAULT_IMPLICIT_READS = (
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_PROFILE", "AWS_ENDPOINT_URL*", "NODE_ENV", "NODE_OPTIONS", "TZ",
)
_PARSE_FIX = (
    "Fix the syntax error at that line (or exclude the file with checks.code.skip_dirs / extra_test_paths if it "
    "is not production code): reads after the error may be missed."
)
_EXAMPLE_FIX = (
    "Commit the example file dotenv-safe checks (it lists every variable the service requires; pass its path "
    "as `example:` when it is not .env.example at the service's root), so the audit can compare it with the "
    "manifest."
)
_DYNAMIC_FIX = (
    "Read the variable by a literal name (process.env.NAME, os.environ['NAME']) so it can be audited; "
    "if the computed name is intended, add `preflight: allow <reason>` and declare every name it can take."
)


@dataclass(frozen=True)
class DriftFacts:
    """Scans of the trees, and the configured values of the (non-secret) queue variables per service."""

    scans: tuple[TreeScan, ...]
    configured: Mapping[tuple[str, str], str] = field(default_factory=dict)


async def probe(ctx: CheckContext) -> DriftFacts:
    """Scan the trees in a thread (shared with mock_code); note queue keys as the run configures them."""
    dirs = ctx.options.source_dirs
    if not dirs:
        return DriftFacts(())
    scans = await ctx.blocking(probe_scans, dirs, audit_config(ctx.manifest, ctx.values.values))
    configured: dict[tuple[str, str], str] = {}
    for var in _queue_vars(ctx.manifest):
        for svc in dirs:
            value = ctx.value(var, svc)
            if value:
                configured[(svc, var)] = value
    return DriftFacts(scans, configured)


def _queue_vars(m: Manifest) -> list[str]:
    q = m.checks.queue
    named = {*q.queue_key_vars, *([q.dead_letter_var] if q.dead_letter_var else [])}
    return [v.name for v in m.variables if not v.secret and (v.name in named or "QUEUE" in v.name)]


def judge(facts: DriftFacts, manifest: Manifest) -> list[CheckResult]:
    """Pure: drift between the code's reads and the manifest, then the queue comparison."""
    services = {s.name for s in manifest.services}
    if not facts.scans:
        return [no_sources(NAME, SUBSYSTEM)]
    head = sources_results(NAME, SUBSYSTEM, facts.scans, services)
    scans = [s for s in facts.scans if s.error is None and s.service in services]
    if not scans:
        return head
    code = manifest.checks.code
    ignored = compile_globs((*DEFAULT_IGNORE_VARS, *code.ignore_vars)).match
    implicit = compile_globs((*DEFAULT_IMPLICIT_READS, *code.implicit_reads)).match
    reads: dict[str, dict[str, list[EnvRead]]] = {}
    roots: dict[tuple[str, str], str] = {}  # (service, file) -> its tree, to name the file from the working dir
    found: list[CheckResult] = []
    for s in scans:
        for r in s.env_reads:
            if r.name is None:
                found.append(result(f"{NAME}.dynamic", SUBSYSTEM, Status.WARN,
                                    f"{s.service}: env var read by a computed name: {r.expr}",
                                    target=r.where, remediation=_DYNAMIC_FIX,
                                    evidence={"service": s.service, **code_location(s.root, r.path, r.line)}))
            else:
                reads.setdefault(r.name, {}).setdefault(s.service, []).append(r)
                roots.setdefault((s.service, r.path), s.root)
    for s in scans:
        for e in s.parse_errors:
            found.append(result(f"{NAME}.parse_error", SUBSYSTEM, Status.WARN,
                                f"{s.service}: {e.where} does not parse ({e.message}); read as far as the parser "
                                "recovered", target=e.where, remediation=_PARSE_FIX,
                                evidence={"service": s.service, **code_location(s.root, e.path, e.line)}))
        for e in s.missing_examples:
            found.append(result(f"{NAME}.dotenv_safe_example", SUBSYSTEM, Status.WARN,
                                f"{s.service}: {e.where} loads dotenv-safe, whose example file "
                                f"{e.message.rsplit(':', 1)[-1].strip()} is not in the tree: the variables it "
                                "requires are unknown", target=e.where, remediation=_EXAMPLE_FIX,
                                evidence={"service": s.service, **code_location(s.root, e.path, e.line)}))
    found += _undeclared(reads, manifest, ignored, roots)
    found += _consumers(reads, manifest, {s.service for s in scans}, implicit, roots)
    for rule, summary in (
        ("undeclared", "every variable the code reads is in the manifest"),
        ("consumer_missing", "every variable a service reads lists that service as a consumer"),
        ("unread", "every manifest variable of the scanned services is read by their code"),
        ("consumer_unused", "every listed consumer reads its variables"),
        ("dynamic", "no env var is read by a computed name"),
        ("parse_error", "every source file parses"),
    ):
        if not any(r.id == f"{NAME}.{rule}" for r in found):
            found.append(result(f"{NAME}.{rule}", SUBSYSTEM, Status.PASS, summary,
                                evidence={"variables_read": len(reads)}))
    return head + capped(found) + judge_queues(by_service(scans), facts.configured)


def _locs(by_svc: dict[str, list[EnvRead]]) -> list[str]:
    return [f"{svc}:{r.where}" for svc, rs in sorted(by_svc.items()) for r in rs]


def _first(by_svc: dict[str, list[EnvRead]], roots: dict[tuple[str, str], str]) -> dict[str, str | int]:
    """The first read's place (file, line, path), so outputs can point at code."""
    svc, rs = sorted(by_svc.items())[0]
    r = rs[0]
    return code_location(roots.get((svc, r.path), ""), r.path, r.line)


def _undeclared(
    reads: dict[str, dict[str, list[EnvRead]]], m: Manifest, ignored: Matcher, roots: dict[tuple[str, str], str]
) -> list[CheckResult]:
    out: list[CheckResult] = []
    for var, by_svc in sorted(reads.items()):
        if m.has(var) or ignored(var):
            continue
        locs = _locs(by_svc)
        svcs = sorted(by_svc)
        out.append(result(
            f"{NAME}.undeclared", SUBSYSTEM, Status.FAIL,
            f"{var} is read by {', '.join(svcs)} but missing from the manifest (at {where_list(locs, 3)})",
            target=var,
            detail=f"Read at {where_list(locs)}.",
            remediation=f"Add {var} to the manifest (section, description, consumers: [{', '.join(svcs)}]) or stop "
            "reading it; if the platform sets it, list it in checks.code.ignore_vars.",
            evidence={"services": svcs, "locations": locs, **_first(by_svc, roots)},
        ))
    return out


def _consumers(
    reads: dict[str, dict[str, list[EnvRead]]], m: Manifest, scanned: set[str], implicit: Matcher,
    roots: dict[tuple[str, str], str],
) -> list[CheckResult]:
    out: list[CheckResult] = []
    for v in m.variables:
        by_svc = reads.get(v.name, {})
        for svc, rs in sorted(by_svc.items()):
            if svc in v.consumers:
                continue
            soft = all(r.has_default for r in rs)
            out.append(result(
                f"{NAME}.consumer_missing", SUBSYSTEM, Status.WARN if soft else Status.FAIL,
                f"{svc} reads {v.name}, but the manifest does not list {svc} as a consumer "
                f"(at {where_list([r.where for r in rs], 3)})", target=v.name,
                detail=f"Read at {where_list([r.where for r in rs])}"
                + ("; every read has a fallback, so the service runs with the fallback." if soft else "."),
                remediation=f"Add {svc} to consumers of {v.name} in the manifest (its task definition then "
                f"provides it), or stop reading it in {svc}.",
                evidence={"service": svc, "consumers": list(v.consumers), "locations": [r.where for r in rs],
                          **_first({svc: rs}, roots)},
            ))
        listed = [c for c in v.consumers if c in scanned]
        if not listed or implicit(v.name):
            continue
        if not by_svc:
            out.append(result(
                f"{NAME}.unread", SUBSYSTEM, Status.WARN,
                f"{v.name} is in the manifest but no code of {', '.join(listed)} reads it", target=v.name,
                remediation=f"Remove {v.name} from the manifest if nothing uses it; if a library reads it, "
                "list it in checks.code.implicit_reads.",
                evidence={"consumers": listed},
            ))
            continue
        for c in listed:
            if c not in by_svc:
                out.append(result(
                    f"{NAME}.consumer_unused", SUBSYSTEM, Status.WARN,
                    f"{v.name} lists {c} as a consumer, but {c}'s code never reads it", target=v.name,
                    detail=f"Read only by {', '.join(sorted(by_svc))}.",
                    remediation=f"Remove {c} from consumers of {v.name} (it need not receive the value), or list "
                    f"{v.name} in checks.code.implicit_reads if a library of {c} reads it.",
                    evidence={"service": c, "readers": sorted(by_svc)},
                ))
    return out


class EnvDriftChecker(Checker):
    """Env-var drift between the services' code and the manifest, and queue names in code."""

    name = NAME
    subsystem = SUBSYSTEM
    description = "Variables read in code match the manifest (and its consumers); queue names agree"
    network = False
    libraries = libs.AUDIT

    def libraries_for(self, ctx: CheckContext) -> tuple[str, ...]:
        """The audit's libraries only when there are source trees to read."""
        return libs.audit_for(ctx.options.source_dirs)

    async def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Probe, then judge."""
        return judge(await probe(ctx), ctx.manifest)
