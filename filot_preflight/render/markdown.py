"""Markdown: a short report for PR comments and step summaries, worst first, with the fix under each."""

from __future__ import annotations

import html
from typing import Any

from jinja2 import Environment, StrictUndefined

from filot_preflight.models import Report
from filot_preflight.render import verdict

_ICON = {"pass": "✅", "warn": "⚠️", "fail": "❌", "skip": "⏭️", "error": "💥", "waived": "☑️"}

_TEMPLATE = """\
## Preflight: {{ verdict }}

Manifest `{{ r.manifest_name }}` {{ r.manifest_version }} · preflight {{ r.tool_version }} · {{ r.started_at }}

| | check | target | summary |
|---|---|---|---|
{% for x in results -%}
| {{ icon[x.status.value] }} {{ x.status.value | upper if x.status.value == "waived" else x.status.value }}
{%- if x.evidence.get("waived_status") %} (was {{ x.evidence["waived_status"] }}){% endif %} | `{{ x.id }}` |
{{- " " }}{{ x.target | cell }} | {{ x.summary | cell }}
{%- if x.waiver %} (waived: {{ x.waiver | cell }}){% endif %} |
{% endfor %}
{%- if fixes %}

### What to fix
{% for x in fixes %}
- **`{{ x.id }}`{% if x.target %} {{ x.target | text }}{% endif %}**: {{ x.remediation | text }}
{%- if x.docs %} (`preflight explain {{ x.id }}`){% endif %}
{%- endfor %}
{% endif %}
"""


def _cell(text: str) -> str:
    return _text(text).replace("|", "\\|").replace("\n", " ")


def _text(text: str) -> str:
    # Markdown renders raw HTML: a path or import specifier from audited source (`<img onerror=...>`)
    # must show as text, not become markup in a PR comment.
    return html.escape(text, quote=False)


_env = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)  # noqa: S701 - markdown, not HTML
_env.filters["cell"] = _cell
_env.filters["text"] = _text
_tpl = _env.from_string(_TEMPLATE)


def render(report: Report, **_: Any) -> str:
    """The markdown document."""
    results = report.sorted_results()
    fixes = [x for x in results if x.remediation and x.status.value in ("fail", "error", "warn")]
    return _tpl.render(r=report, results=results, fixes=fixes, icon=_ICON, verdict=verdict(report))
