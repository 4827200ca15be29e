"""`preflight env template`: every manifest variable as NAME=, grouped by section, from the template."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from filot_preflight.commands.common import ManifestOpt, VerboseOpt, setup_logging, write_output

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Environment files generated from the manifest."""

DEFAULT_OUTPUT = Path("prod.env.template")

TemplatesOpt = Annotated[
    Path | None,
    typer.Option("--templates", help="Folder of template overrides (same file names as templates/)."),
]


@app.command("template")
def template(
    manifest: ManifestOpt = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write ('-' for stdout).")
    ] = DEFAULT_OUTPUT,
    templates: TemplatesOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Write prod.env.template: every variable as NAME= (examples for settings, empty for secrets)."""
    setup_logging(verbose)
    from filot_preflight import manifest as manifest_mod
    from filot_preflight.documents import render_documents

    m = manifest_mod.load(manifest)
    name = DEFAULT_OUTPUT.name
    text = render_documents(m, None, names=[name], templates_dir=templates)[name]
    write_output(text, output)
    if str(output) != "-":
        sys.stderr.write(f"preflight: wrote {output} ({len(m.variables)} variables, {len(m.secrets())} secrets)\n")
