"""`preflight manifest validate|schema`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from filot_preflight.commands.common import write_output

app = typer.Typer(help="Validate the manifest or print its JSON Schema.", no_args_is_help=True)


@app.command()
def validate(
    path: Annotated[
        Path | None, typer.Argument(help="Manifest file (YAML or JSON). Default: the FiLot manifest.")
    ] = None,
) -> None:
    """Check a manifest against the schema; errors name the line/column or the field path (exit 2)."""
    from filot_preflight import manifest as manifest_mod  # pydantic: only when asked for

    m = manifest_mod.load(path)
    secrets = len(m.secrets())
    mapped = sum(1 for v in m.variables if v.aws_secret)
    typer.echo(
        f"{path or manifest_mod.default_path()}: valid manifest {m.name} {m.version}: "
        f"{len(m.variables)} variables, {secrets} secret, {mapped} mapped to Secrets Manager"
    )


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Print the manifest's JSON Schema (also committed as manifests/manifest.schema.json)."""
    from filot_preflight import manifest as manifest_mod

    write_output(json.dumps(manifest_mod.json_schema(), indent=2) + "\n", output)
