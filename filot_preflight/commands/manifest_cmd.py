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
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Manifest files (YAML or JSON). Default: the FiLot manifest.", show_default=False),
    ] = None,
) -> None:
    """Check manifests against the schema; each error names the file and line/column or field path (exit 2)."""
    from filot_preflight import manifest as manifest_mod  # pydantic: only when asked for
    from filot_preflight.errors import ManifestError

    bad = 0
    for path in paths or [manifest_mod.default_path()]:
        try:
            m = manifest_mod.load(path)
        except ManifestError as e:  # one line per bad file, then exit 2, so pre-commit shows them all
            typer.echo(f"preflight: error: {e}", err=True)
            bad += 1
            continue
        secrets = len(m.secrets())
        mapped = sum(1 for v in m.variables if v.aws_secret)
        typer.echo(
            f"{path}: valid manifest {m.name} {m.version}: "
            f"{len(m.variables)} variables, {secrets} secret, {mapped} mapped to Secrets Manager"
        )
    if bad:
        raise typer.Exit(2)


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Print the manifest's JSON Schema (also committed as manifests/manifest.schema.json)."""
    from filot_preflight import manifest as manifest_mod

    write_output(json.dumps(manifest_mod.json_schema(), indent=2) + "\n", output)
