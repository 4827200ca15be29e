"""The view-model every template renders: built from (Manifest, Report) alone, with no I/O (pure).

It holds names, paths, statuses, summaries, fixes and evidence; never a value. Without a report
only the manifest part exists (enough for `prod.env.template`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from filot_preflight import __version__
from filot_preflight.documents import architecture
from filot_preflight.documents.catalog import DOCUMENTS, Document
from filot_preflight.documents.checklist import Checklist
from filot_preflight.documents.results import (
    CheckerInfo,
    RunInfo,
    SubsystemView,
    sort_key,
    subsystem_views,
    view_result,
)
from filot_preflight.documents.variables import VariableView, counts, variable_views
from filot_preflight.manifest import Manifest
from filot_preflight.models import Report, Status
from filot_preflight.render import verdict


@dataclass(frozen=True)
class Risk:
    """One row of the risk table, derived from a subsystem's verdict."""

    subsystem: str
    risk: str
    likelihood: str
    impact: str
    mitigation: str


def _ts(t: datetime | None) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if t else "–"


def _meta(manifest: Manifest, generated_at: datetime) -> dict[str, Any]:
    return {
        "generated_at": _ts(generated_at),
        "tool_version": __version__,
        "manifest_name": manifest.name,
        "manifest_version": manifest.version,
        "environment": manifest.environment,
    }


def _sections(manifest: Manifest, views: Sequence[VariableView]) -> list[dict[str, Any]]:
    return [
        {"id": s.id, "title": s.title, "description": s.description,
         "variables": [v for v in views if v.section == s.id]}
        for s in manifest.sections
    ]


def build_env_context(manifest: Manifest, generated_at: datetime | None = None) -> dict[str, Any]:
    """The manifest-only part (no report): what `prod.env.template` renders."""
    views = variable_views(manifest, None)
    return {
        "meta": _meta(manifest, generated_at or datetime.now(UTC)),
        "manifest": manifest,
        "services": manifest.services,
        "sections": _sections(manifest, views),
        "variables": views,
        "has_report": False,
    }


def _next_actions(variables: Sequence[VariableView], report: Report, subs: Sequence[SubsystemView]) -> list[str]:
    acts: list[str] = []
    for v in variables:
        where = f" at `{v.aws_path}`" if v.aws_path else ""
        if v.status == "missing":
            acts.append(f"Create `{v.name}`{where}: {v.how_to_get}")
        elif v.status == "invalid":
            acts.append(f"Fix `{v.name}`: {v.fixes[0] if v.fixes else '; '.join(v.reasons)}")
    about_vars = {c.id + "|" + c.target for v in variables for c in v.checks}
    for r in sorted(report.results, key=sort_key):
        if r.status in (Status.FAIL, Status.ERROR) and f"{r.id}|{r.target}" not in about_vars:
            target = f" ({r.target})" if r.target else ""
            acts.append(f"`{r.id}`{target}: {r.remediation or r.summary}")
    for v in variables:
        if v.status == "needs verification":
            acts.append(f"Verify `{v.name}`: {'; '.join(v.reasons)}")
    for s in subs:
        if not s.checked and s.checkers:
            acts.append(f"Check {s.title} live (not checked in this run: {s.reason})")
    return list(dict.fromkeys(acts))


def _risks(subs: Sequence[SubsystemView]) -> list[Risk]:
    likelihood = {"fail": "Observed", "error": "Unknown (check errored)", "warn": "Possible",
                  "not checked": "Unknown (not checked)", "skipped": "Unknown (skipped)",
                  "partial": "Unknown (partly checked)"}
    out = []
    for s in subs:
        if s.status not in likelihood or (s.status == "not checked" and not s.checkers and s.risk == ""):
            continue
        worst = s.problems[0] if s.problems else None
        skip = next((r for r in s.skipped if r.remediation), None)
        risk = f"{s.risk or s.title}" + (f": {worst.summary}" if worst else "")
        if worst and worst.remediation:
            mitigation = worst.remediation
        elif skip is not None:
            mitigation = skip.remediation
        else:
            mitigation = f"Run `preflight check` with access to {s.title} ({s.reason or s.note})"
        out.append(Risk(s.title, risk, likelihood[s.status], s.impact, mitigation))
    return out


_WORST_FIRST = ("missing", "invalid", "needs verification", "not checked", "existing", "not set")


def _secret_paths(secrets: Sequence[VariableView]) -> list[dict[str, Any]]:
    """Secrets Manager paths, each with the variables (JSON keys) it holds and its worst status."""
    by_id: dict[str, list[VariableView]] = {}
    for v in secrets:
        if v.aws_id:
            by_id.setdefault(v.aws_id, []).append(v)
    out = []
    for sid, vs in by_id.items():
        status = min((v.status for v in vs), key=_WORST_FIRST.index)
        consumers = sorted({c for v in vs for c in v.consumers})
        out.append({"id": sid, "variables": vs, "consumers": consumers, "status": status,
                    "icon": vs[0].icon if len(vs) == 1 else next(v.icon for v in vs if v.status == status)})
    return out


def _code(status: str) -> str:
    return status.replace(" ", "_")


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z") if t else None


def _secrets_json(
    meta: dict[str, Any], report: Report, secrets: Sequence[VariableView], generated_at: datetime
) -> dict[str, Any]:
    """The machine-readable secrets map (rendered with the `json` filter, never by hand).

    Statuses are snake_case codes here (`needs_verification`, `not_set`, `not_checked`), times ISO 8601.
    """
    return {
        "generated_at": _iso(generated_at),
        "tool_version": meta["tool_version"],
        "manifest": {"name": meta["manifest_name"], "version": meta["manifest_version"],
                     "environment": meta["environment"]},
        "run": {"started_at": _iso(report.started_at), "finished_at": _iso(report.finished_at),
                "partial": report.partial, "ready": report.ready},
        "counts": {_code(k): n for k, n in counts(secrets).items()},
        "secrets": [
            {
                "name": v.name, "section": v.section, "description": v.description,
                "requirement": v.requirement, "consumers": list(v.consumers),
                "aws_secret": {"id": v.aws_id, "key": v.aws_key} if v.aws_id else None,
                "status": _code(v.status), "reasons": list(v.reasons), "warnings": list(v.warnings),
                "checks": [{"id": c.id, "target": c.target, "status": c.status} for c in v.checks],
                "obtain": v.obtain, "generate": v.generate, "verified_by": v.verified_by,
            }
            for v in secrets
        ],
    }


def build_context(
    manifest: Manifest,
    report: Report,
    *,
    generated_at: datetime | None = None,
    checkers: Sequence[CheckerInfo] = (),
    run: RunInfo | None = None,
    documents: Sequence[Document] = DOCUMENTS,
) -> dict[str, Any]:
    """Everything the report templates use, from one manifest and one report."""
    generated = generated_at or datetime.now(UTC)
    ctx = build_env_context(manifest, generated)
    variables = variable_views(manifest, report)
    secrets = [v for v in variables if v.secret]
    subs = subsystem_views(report, checkers, run)
    by_id = {s.id: s for s in subs}
    services, components = architecture.build(manifest, by_id)
    results = [view_result(r) for r in sorted(report.results, key=sort_key)]
    ctx["meta"].update({
        "report_tool_version": report.tool_version, "started_at": _ts(report.started_at),
        "finished_at": _ts(report.finished_at), "partial": report.partial, "interrupted": report.interrupted,
        "ready": report.ready, "strict": report.strict, "summary": report.summary, "verdict": verdict(report),
        "offline": run.offline if run else None, "decision": report.decision, "scope": report.scope,
        "not_applicable": sum(1 for r in report.results if r.status is Status.SKIP and r.not_applicable),
    })
    checklist = Checklist(report, by_id, checkers)
    ctx.update({
        "has_report": True,
        "variables": variables,
        "sections": _sections(manifest, variables),
        "secrets": secrets,
        "secret_counts": counts(secrets),
        "secret_paths": _secret_paths(secrets),
        "settings": [v for v in variables if not v.secret],
        "subsystems": subs,
        "sub": by_id,
        "incomplete": [s for s in subs if not s.complete],
        "results": results,
        "service_results": {s.name: [r for r in results if r.target.startswith(s.name + ":")]
                            for s in manifest.services},
        "blocking": [r for r in results if r.status in ("fail", "error")],
        "warnings": [r for r in results if r.status == "warn"],
        "waived": [r for r in results if r.status == "waived"],
        "architecture": {"services": services, "components": components,
                         "diagram": architecture.diagram(services, components)},
        "next_actions": _next_actions(variables, report, subs),
        "risks": _risks(subs),
        "documents": list(documents),
        "item": checklist.item,
        "manual": checklist.manual,
        "decide": checklist.decide,
        "secret_item": checklist.secret,
    })
    ctx["secrets_json"] = _secrets_json(ctx["meta"], report, secrets, generated)
    return ctx
