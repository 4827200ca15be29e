"""The documents of a run (reports, checklist, summary, secrets map, env template), rendered from templates.

`render_documents(manifest, report)` builds a view-model from the two (pure) and renders each
template; `write_documents(rendered, out_dir)` writes them atomically. See `catalog.DOCUMENTS`.
"""

from filot_preflight.documents.catalog import DOCUMENT_NAMES, DOCUMENTS, Document
from filot_preflight.documents.context import build_context, build_env_context
from filot_preflight.documents.render import environment, render_documents, write_documents
from filot_preflight.documents.results import CheckerInfo, RunInfo

__all__ = [
    "DOCUMENTS",
    "DOCUMENT_NAMES",
    "CheckerInfo",
    "Document",
    "RunInfo",
    "build_context",
    "build_env_context",
    "environment",
    "render_documents",
    "write_documents",
]
