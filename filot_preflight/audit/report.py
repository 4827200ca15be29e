"""Plumbing shared by the mock_code and env_drift checkers: config from the manifest, the scan probe,
the `*.sources` results, and capping many findings into a readable number of results.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from filot_preflight.audit.credentials import value_digests
from filot_preflight.audit.model import AuditConfig, TreeScan
from filot_preflight.audit.paths import make_config
from filot_preflight.checkers.base import result
from filot_preflight.manifest import Manifest
from filot_preflight.models import CheckResult, Status
from filot_preflight.sources import Value

MAX_PER_RULE = 20  # results of one rule before the rest are grouped into one "+N more" result
MAX_LISTED = 50  # locations spelled out in a grouped result's detail (its evidence lists every one)
SOURCE_DIR_USAGE = "preflight check --source-dir backend=PATH --source-dir gpu-worker=PATH"


def audit_config(manifest: Manifest, values: Iterable[Value] = ()) -> AuditConfig:
    """Scanner settings from the manifest's `checks.code` (defaults when absent); with the run's values,
    the digests of the manifest's secret values, so that a secret committed to code is found.
    """
    code = manifest.checks.code
    q = manifest.checks.queue
    queue_vars = [*q.queue_key_vars, *([q.dead_letter_var] if q.dead_letter_var else [])]
    config = make_config(
        code.test_paths, code.extra_test_paths, code.skip_dirs, code.max_file_kb * 1024, queue_vars
    )
    secret = {v.name for v in manifest.variables if v.secret}
    digests = value_digests((v.name, v.value.get_secret_value()) for v in values if v.name in secret)
    return replace(config, secret_digests=digests) if digests else config


def probe_scans(source_dirs: Mapping[str, Path | Sequence[Path]], config: AuditConfig) -> tuple[TreeScan, ...]:
    """Scan every tree of every service (blocking; run it through ctx.blocking). Shared between checkers.

    A service may have several trees (`--source-dir backend=A --source-dir backend=B`): each is scanned
    and reported on its own; `by_service` merges them for judgements over the whole service.
    """
    from filot_preflight.audit.scan import scan_tree_cached  # the parsers load only when a tree is scanned

    out: list[TreeScan] = []
    for service, paths in sorted(source_dirs.items()):
        for path in [paths] if isinstance(paths, str | os.PathLike) else paths:
            out.append(scan_tree_cached(path, service, config))
    return tuple(out)


def by_service(scans: Iterable[TreeScan]) -> dict[str, TreeScan]:
    """One scan per service: a service's several trees merged into one (facts keep their own paths)."""
    out: dict[str, TreeScan] = {}
    for s in scans:
        if s.service not in out:
            out[s.service] = s
            continue
        first = out[s.service]
        merged = TreeScan(root=f"{first.root}, {s.root}", service=s.service,
                          files_scanned=first.files_scanned + s.files_scanned)
        for part in (first, s):
            merged.findings += part.findings
            merged.env_reads += part.env_reads
            merged.queue_refs += part.queue_refs
            merged.const_env.update(part.const_env)
            merged.allowed += part.allowed
            merged.parse_errors += part.parse_errors
        out[s.service] = merged
    return out


def code_location(root: str, rel: str, line: int) -> dict[str, str | int]:
    """Evidence naming a place in code: `file` (relative to the tree), `line`, and `path`, the file as seen from
    the working directory (what GitHub annotations and SARIF need to show it on a pull request).
    """
    full = os.path.normpath(os.path.join(root, rel))
    try:
        rel_cwd = os.path.relpath(full)
        path = full if rel_cwd.startswith("..") else rel_cwd
    except ValueError:  # another drive (Windows)
        path = full
    return {"file": rel, "line": line, "path": Path(path).as_posix()}


def no_sources(checker: str, subsystem: str) -> CheckResult:
    """The SKIP when no --source-dir was given."""
    return result(
        f"{checker}.sources",
        subsystem,
        Status.SKIP,
        "no source trees given, so the code was not audited",
        detail="This check reads the services' source code; pass each tree with --source-dir SERVICE=PATH.",
        remediation=f"Run: {SOURCE_DIR_USAGE}",
    )


def sources_results(
    checker: str, subsystem: str, scans: Iterable[TreeScan], known: set[str] | None = None
) -> list[CheckResult]:
    """One result per tree: what was scanned (PASS), or why it could not be (FAIL).

    `known`: the manifest's services, when the checker needs trees labelled with one of them.
    """
    out: list[CheckResult] = []
    for s in scans:
        target = f"{s.service}={s.root}"
        if s.error is not None:
            out.append(
                result(
                    f"{checker}.sources", subsystem, Status.FAIL, f"{s.service}: source tree {s.error}",
                    target=target,
                    remediation=f"Point --source-dir {s.service}=PATH at the service's checkout.",
                )
            )
            continue
        if known is not None and s.service not in known:
            out.append(
                result(
                    f"{checker}.sources", subsystem, Status.FAIL,
                    f"{s.service}: not a service of the manifest ({', '.join(sorted(known))})",
                    target=target,
                    remediation="Label --source-dir with a service name the manifest declares.",
                )
            )
            continue
        out.append(
            result(
                f"{checker}.sources", subsystem, Status.PASS,
                f"{s.service}: scanned {s.files_scanned} files in {s.seconds:.2f}s",
                target=target,
                evidence={
                    "service": s.service,
                    "files_scanned": s.files_scanned,
                    "test_files_excluded": s.test_files,
                    "test_dirs_excluded": s.test_dirs,
                    "env_files": s.env_files,
                    "skipped_large": s.skipped_large,
                    "skipped_binary": s.skipped_binary,
                    "seconds": round(s.seconds, 3),
                    "waived": [f"{a.path}:{a.line} [{a.rule}] {a.reason}" for a in s.allowed][:MAX_LISTED],
                },
            )
        )
    return out


def capped(results: list[CheckResult]) -> list[CheckResult]:
    """At most MAX_PER_RULE results per id (worst first); the rest become one '+N more' result."""
    by_id: dict[str, list[CheckResult]] = {}
    for r in results:
        by_id.setdefault(r.id, []).append(r)
    out: list[CheckResult] = []
    for rid, group in by_id.items():
        group.sort(key=lambda r: (-r.status.severity, r.target))
        out.extend(group[:MAX_PER_RULE])
        rest = group[MAX_PER_RULE:]
        if rest:
            worst = max((r.status for r in rest), key=lambda s: s.severity)
            out.append(
                result(
                    rid, rest[0].subsystem, worst, f"{len(rest)} more like the above",
                    target=f"+{len(rest)} more",
                    detail="; ".join(f"{r.target}: {r.summary}" for r in rest[:MAX_LISTED]),
                    remediation=rest[0].remediation,
                    evidence={"count": len(rest), "locations": [r.target for r in rest]},  # all of them
                )
            )
    return out


def where_list(locs: list[str], n: int = 5) -> str:
    """'a:1, b:2 (+3 more)'."""
    head = ", ".join(locs[:n])
    return head + (f" (+{len(locs) - n} more)" if len(locs) > n else "")
