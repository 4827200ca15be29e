"""`preflight schema results|manifest`: the published JSON Schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from filot_preflight.commands.common import write_output

app = typer.Typer(
    help="Print the JSON Schema of the results (`--format json`) or of the manifest.", no_args_is_help=True
)

OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")]


def results_schema() -> dict[str, Any]:
    """JSON Schema of `preflight check --format json` output."""
    from filot_preflight.models import Report  # pydantic: only when asked for
    from filot_preflight.render.json_out import SCHEMA_VERSION

    schema = Report.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "filot-preflight results"
    schema["properties"] = {"schema_version": {"const": SCHEMA_VERSION}, **schema["properties"]}
    schema["required"] = sorted(
        {"schema_version", "ready", "partial", "summary", "results", *schema.get("required", [])}
    )
    return schema


@app.command()
def results(output: OutputOpt = None) -> None:
    """JSON Schema of the JSON results (stable; `schema_version` changes on any breaking change)."""
    write_output(json.dumps(results_schema(), indent=2) + "\n", output)


@app.command(name="manifest")
def manifest_schema(output: OutputOpt = None) -> None:
    """JSON Schema of the manifest (same as `preflight manifest schema`)."""
    from filot_preflight import manifest as manifest_mod

    write_output(json.dumps(manifest_mod.json_schema(), indent=2) + "\n", output)
