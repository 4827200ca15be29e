"""Render the documents from Jinja templates and write them atomically.

Templates are looked up first in `--templates DIR` (a team's overrides, same file names), then in
the packaged `templates/`, so overriding one file changes that document only. Every document is
rendered in memory before anything is written, and each file is written to a temp file beside it
and renamed: a failure (a broken override, a full disk, Ctrl-C) never leaves a half-written file.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from filot_preflight.documents.catalog import DOCUMENT_NAMES, ICONS, SECRET_ICONS, document
from filot_preflight.documents.context import build_context, build_env_context
from filot_preflight.documents.results import CheckerInfo, RunInfo
from filot_preflight.errors import PreflightError, UsageError
from filot_preflight.fileio import write_output_file
from filot_preflight.manifest import Manifest
from filot_preflight.models import Report
from filot_preflight.resources import data_path

log = logging.getLogger("filot_preflight")


class TemplateRenderError(PreflightError):
    """A template (usually an override) is broken; the message names the file and line."""


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _cell(value: Any) -> str:
    """Safe inside a markdown table cell; HTML (a file name or import from audited source) shown as text."""
    return html.escape(str(value), quote=False).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _comment(value: Any, prefix: str = "# ") -> str:
    """Every line prefixed as a comment (for the env template)."""
    return "\n".join(prefix + line if line else prefix.rstrip() for line in str(value).splitlines())


_PLAIN = re.compile(r"[A-Za-z0-9_./:@,+=-]*")


def _envquote(value: Any) -> str:
    """A dotenv value: bare when safe, else single-quoted (literal in dotenv)."""
    text = str(value)
    if _PLAIN.fullmatch(text):
        return text
    if "'" not in text:
        return f"'{text}'"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _evidence(pairs: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in pairs) or "–"


def squeeze_blank_lines(text: str) -> str:
    """Collapse runs of blank lines to one, outside fenced code blocks (templates stay readable)."""
    out: list[str] = []
    fenced = False
    for line in text.split("\n"):
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and not line.strip() and out and not out[-1].strip():
            continue
        out.append(line)
    return "\n".join(out)


def environment(templates_dir: Path | None = None) -> Environment:
    """The Jinja environment: overrides first, StrictUndefined, no autoescape (markdown/text; JSON via `json`).

    Sandboxed: a `--templates` override is code from a folder, and an unsandboxed template reached
    `os.popen` and any file through attribute walks (`''.__class__.__mro__...`); the sandbox refuses
    those (a SecurityError, reported as a template error, exit 2).
    """
    loaders = []
    if templates_dir is not None:
        if not Path(templates_dir).is_dir():
            raise UsageError(f"--templates {templates_dir}: not a directory")
        extra = sorted(
            p.name for p in Path(templates_dir).iterdir()
            if p.is_file() and p.name not in DOCUMENT_NAMES and not p.name.startswith(("_", "."))
        )
        if extra:
            log.warning("--templates %s: ignoring %s (not a document name; see `preflight report --help`)",
                        templates_dir, ", ".join(extra))
        loaders.append(FileSystemLoader(str(templates_dir)))
    loaders.append(FileSystemLoader(str(data_path("templates"))))
    env = SandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        autoescape=False,  # noqa: S701 - markdown and text, never HTML; JSON goes through the json filter
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update({"json": _json, "cell": _cell, "comment": _comment, "evidence": _evidence,
                        "envquote": _envquote})
    env.globals.update({"icons": ICONS, "secret_icons": SECRET_ICONS})
    return env


def render_documents(
    manifest: Manifest,
    report: Report | None,
    *,
    names: Sequence[str] | None = None,
    templates_dir: Path | None = None,
    generated_at: datetime | None = None,
    checkers: Sequence[CheckerInfo] = (),
    run: RunInfo | None = None,
    redact: Callable[[str], str] | None = None,
) -> dict[str, str]:
    """Render documents to strings (nothing is written). Default: every document the inputs allow."""
    if names is None:
        names = [n for n in DOCUMENT_NAMES if report is not None or not document(n).needs_report]
    for n in names:
        if n not in DOCUMENT_NAMES:
            raise UsageError(f"{n}: unknown document; known: {', '.join(DOCUMENT_NAMES)}")
        if report is None and document(n).needs_report:
            raise UsageError(f"{n}: needs the results of a run")
    env = environment(templates_dir)
    ctx = (build_context(manifest, report, generated_at=generated_at, checkers=checkers, run=run)
           if report is not None else build_env_context(manifest, generated_at))
    out = {}
    for n in names:
        try:
            text = env.get_template(n).render(ctx)
            if n.endswith((".md", ".txt")):
                text = squeeze_blank_lines(text)
        except TemplateError as e:
            where = getattr(e, "filename", None) or n
            line = getattr(e, "lineno", None)
            raise TemplateRenderError(f"{where}{f':{line}' if line else ''}: template error: {e.message}") from None
        out[n] = redact(text) if redact is not None else text
    return out


def write_documents(rendered: dict[str, str], out_dir: Path) -> list[Path]:
    """Write rendered documents into `out_dir`, each atomically (temp file + rename); special files in place."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"-o {out_dir}: exists and is not a directory")
    paths = []
    for name, text in rendered.items():
        path = out_dir / name
        write_output_file(path, text)
        paths.append(path)
    return paths
