"""`preflight explain ID`: the documentation of a result id, read from the docs shipped inside the package.

The pages are docs/checks/<checker>.md (in a wheel: filot_preflight/_data/docs/checks, see
pyproject's force-include), one `## <id>` section per result id. Generic headings match a family:
`<checker>.timeout` explains `redis.timeout`, `plugin.<name>` explains `plugin.release_freeze`.
"""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass
from pathlib import Path

from filot_preflight.errors import UsageError
from filot_preflight.resources import data_path

_HEADING = re.compile(r"^## (.+?)\s*$", re.M)


@dataclass(frozen=True)
class Section:
    """One documented id: the page it is on, its heading and its text (markdown)."""

    page: str
    heading: str
    text: str


def docs_dir() -> Path:
    """Where the checker pages are: packaged with the wheel, or docs/checks in a source checkout."""
    return data_path("docs") / "checks"


def _sections(folder: Path) -> list[Section]:
    out = []
    for page in sorted(folder.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        marks = list(_HEADING.finditer(text))
        for i, m in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
            # &lt;checker&gt; is for the markdown renderers; a terminal reads the characters
            out.append(Section(page.stem, html.unescape(m.group(1)), html.unescape(text[m.start():end].strip())))
    return out


def _matches(heading: str, rid: str) -> bool:
    if heading == rid:
        return True
    if "<" not in heading:
        return False
    pattern = re.escape(heading)
    pattern = re.sub(r"<[^>]+>", r"[A-Za-z0-9_-]+", pattern.replace(r"\<", "<").replace(r"\>", ">"))
    return re.fullmatch(pattern, rid) is not None


def lookup(rid: str, folder: Path | None = None) -> Section:
    """The section documenting `rid` (exact heading first, then a generic one); UsageError (exit 2) if none."""
    sections = _sections(folder or docs_dir())
    if not sections:
        raise UsageError(f"explain: no documentation found in {folder or docs_dir()} (a broken install?)")
    exact = [s for s in sections if s.heading == rid]
    found = exact or [s for s in sections if _matches(s.heading, rid)]
    if found:
        return found[0]
    pages = {s.page for s in sections}
    if rid in pages:  # a checker name: its page's introduction and the ids on it
        page = (folder or docs_dir()) / f"{rid}.md"
        intro = _HEADING.split(page.read_text(encoding="utf-8"), maxsplit=1)[0].strip()
        ids = "\n".join(f"- {s.heading}" for s in sections if s.page == rid)
        return Section(rid, rid, f"{intro}\n\nResult ids (`preflight explain <id>`):\n\n{ids}")
    close = difflib.get_close_matches(rid, [s.heading for s in sections], n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; ids look like redis.tls (see the run's output)"
    raise UsageError(f"explain {rid}: no such result id{hint}")


def documentation_url() -> str | None:
    """The 'Documentation' project URL of the installed package's metadata, if it declares one."""
    from importlib import metadata

    try:
        urls = metadata.metadata("filot-preflight").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "documentation" and url.strip():
            return url.strip()
    return None
