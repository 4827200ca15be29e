"""`preflight explain ID`: what a result id means and how to fix it, from the docs inside the package."""

from __future__ import annotations

from typing import Annotated

import typer


def explain(
    result_id: Annotated[str, typer.Argument(metavar="ID", help="A result id (redis.tls) or a checker name (redis).")],
) -> None:
    """Print the documentation of a result id: what it checks, what each status means, the fix."""
    from filot_preflight import explain as explain_mod

    section = explain_mod.lookup(result_id.strip())
    url = explain_mod.documentation_url()
    where = f"{url.rstrip('/')}/checks/{section.page}.md" if url else f"docs/checks/{section.page}.md"
    typer.echo(f"{section.text}\n\n(from {where})")
