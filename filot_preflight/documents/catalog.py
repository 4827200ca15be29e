"""What the documents are, and the fixed vocabulary they share: subsystems, components, status labels."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """One generated file: its template (same name as the output), what it is for, and what it needs."""

    name: str
    purpose: str
    needs_report: bool = True
    kind: str = "doc"  # 'root' files sit at the repository root in the seed, 'doc' under docs/


DOCUMENTS: tuple[Document, ...] = (
    Document("prod.env.template", "Every production variable as NAME=, grouped by section", False, "root"),
    Document("production_secrets_required.json", "Machine-readable secrets map with status", True, "root"),
    Document("missing_required_secrets.txt", "Missing, invalid and to-verify secrets with how to fix", True, "root"),
    Document("redis_validation_report.md", "Redis configuration and live validation"),
    Document("gpu_worker_env_validation.md", "GPU worker environment and queue validation"),
    Document("r2_config_validation.md", "Cloudflare R2 configuration and canary round trip"),
    Document("temporal_env_validation.md", "Temporal (or its Redis fallback) validation"),
    Document("mock_cleanup_report.md", "Mock code on production paths, and env-var drift"),
    Document("T8A_production_secrets_overview.md", "Secrets architecture: who reads what, from where"),
    Document("T8A_production_architecture.md", "Components and links, each with its current status"),
    Document("T8A_predeployment_checklist.md", "Checklist ticked from the results"),
    Document("T8A_summary.md", "Executive summary of this run"),
)
DOCUMENT_NAMES = tuple(d.name for d in DOCUMENTS)


def document(name: str) -> Document:
    """The document called `name` (KeyError if unknown)."""
    for d in DOCUMENTS:
        if d.name == name:
            return d
    raise KeyError(name)


@dataclass(frozen=True)
class SubsystemInfo:
    """A subsystem as the documents present it."""

    id: str
    title: str
    impact: str  # what breaks if it is wrong: High / Medium / Low (used in the risk table)
    risk: str  # the risk in words
    document: str = ""  # the document that reports on it in detail


SUBSYSTEMS: tuple[SubsystemInfo, ...] = (
    SubsystemInfo("secrets", "Secrets and settings", "High", "Missing or weak secrets block or weaken the deployment",
                  "missing_required_secrets.txt"),
    SubsystemInfo("aws", "AWS (Secrets Manager, ECS)", "High", "Tasks start without their secrets",
                  "T8A_production_secrets_overview.md"),
    SubsystemInfo("backend", "Backend API", "High", "The API is unhealthy or unreachable"),
    SubsystemInfo("postgres", "PostgreSQL", "High", "Database unreachable or connections not encrypted"),
    SubsystemInfo("redis", "Redis", "High", "Queue/cache unreachable or not encrypted", "redis_validation_report.md"),
    SubsystemInfo("gpu-worker", "GPU worker", "Medium", "OCR jobs pile up or are lost", "gpu_worker_env_validation.md"),
    SubsystemInfo("r2", "Cloudflare R2", "High", "Document uploads or downloads fail", "r2_config_validation.md"),
    SubsystemInfo("buli2", "BULI2", "Medium", "Manual-review escalation or callbacks fail"),
    SubsystemInfo("temporal", "Temporal", "Low", "Workflows fall back to the Redis queue or stall",
                  "temporal_env_validation.md"),
    SubsystemInfo("code", "Code (mock code, env drift)", "Medium", "Mock code or undocumented variables ship",
                  "mock_cleanup_report.md"),
)
_BY_ID = {s.id: s for s in SUBSYSTEMS}


def subsystem_info(sid: str) -> SubsystemInfo:
    """Known subsystems by id; an unknown one (a plugin's) gets a neutral entry."""
    return _BY_ID.get(sid) or SubsystemInfo(sid, sid.replace("-", " ").replace("_", " ").title(), "Medium", "")


@dataclass(frozen=True)
class Component:
    """An external system in the architecture diagram, the subsystem that checks it, its manifest sections."""

    key: str
    title: str
    subsystem: str | None
    sections: tuple[str, ...]


# FiLot's external systems. A manifest section not listed here and not internal becomes its own
# component (titled from the manifest), so another manifest still gets a complete diagram.
COMPONENTS: tuple[Component, ...] = (
    Component("postgres", "PostgreSQL (Neon)", "postgres", ("database",)),
    Component("redis", "Redis (Upstash) + OCR queue", "redis", ("redis", "gpu_worker")),
    Component("r2", "Cloudflare R2", "r2", ("storage",)),
    Component("temporal", "Temporal Cloud (optional)", "temporal", ("temporal",)),
    Component("buli2", "BULI2 review API", "buli2", ("buli2",)),
    Component("auth", "Stack Auth", None, ("auth",)),
    Component("aws", "AWS Secrets Manager", "aws", ("aws",)),
)
INTERNAL_SECTIONS = frozenset({"security", "app"})  # settings of the services themselves, not systems

# How each status is shown. Subsystem verdicts add 'ready', 'skipped' and 'not checked'.
ICONS = {
    "pass": "✅", "ready": "✅", "partial": "◐", "waived": "☑️", "warn": "⚠️", "fail": "❌", "error": "💥",
    "skip": "⏭️", "skipped": "⏭️", "not checked": "❔", "no check": "➖",
    "n/a": "➖", "not applicable": "➖",
}
LABELS = {
    "ready": "READY", "partial": "PARTIAL", "warn": "WARN", "fail": "FAIL", "error": "ERROR", "skipped": "SKIPPED",
    "not checked": "NOT CHECKED", "no check": "NO CHECK",
    "not applicable": "NOT APPLICABLE",
}

SECRET_STATES = ("missing", "invalid", "needs verification", "existing", "not set", "not checked")
SECRET_ICONS = {
    "existing": "✅", "missing": "❌", "invalid": "❌", "needs verification": "⚠️", "not set": "➖",
    "not checked": "❔",
}
