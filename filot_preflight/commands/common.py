"""Options shared by every command that reads values, declared once so they stay identical."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from filot_preflight.redact import RedactingFilter, Redactor

ManifestOpt = Annotated[
    Path | None,
    typer.Option(
        "--manifest",
        "-m",
        envvar="PREFLIGHT_MANIFEST",
        help="Manifest (YAML or JSON). Default: the FiLot manifest shipped with preflight.",
    ),
]
EnvFileOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--env-file",
        "-e",
        help="Dotenv file to read, repeatable; 'SERVICE=PATH' labels it for one service (e.g. gpu-worker=worker.env).",
    ),
]
SourceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--source",
        "-s",
        help="Value source, repeatable: 'env' (process environment, default) and/or 'aws' (Secrets Manager).",
    ),
]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Log each step to stderr (redacted like all output).")
]
AwsRegionOpt = Annotated[
    str | None, typer.Option("--aws-region", envvar="AWS_REGION", help="AWS region of Secrets Manager / ECS.")
]
AwsProfileOpt = Annotated[
    str | None, typer.Option("--aws-profile", envvar="AWS_PROFILE", help="AWS credentials profile.")
]
AwsEndpointOpt = Annotated[
    str | None,
    typer.Option("--aws-endpoint", envvar="AWS_ENDPOINT_URL", help="AWS endpoint override (e.g. a moto server)."),
]

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", envvar="PREFLIGHT_CONFIG",
        help="preflight.toml or pyproject.toml with [tool.preflight]. Default: the one in the current folder.",
    ),
]

# One redactor for the whole process, so log lines written before the values are loaded are
# covered by what is learned afterwards.
LOG_REDACTOR = Redactor()


def setup_logging(verbose: bool) -> Redactor:
    """Configure stderr logging through the redactor; returns the redactor to teach secret values to."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("preflight: %(message)s"))
    handler.addFilter(RedactingFilter(LOG_REDACTOR))
    root = logging.getLogger("filot_preflight")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    root.propagate = False
    return LOG_REDACTOR


def sources_or_default(sources: list[str] | None) -> list[str]:
    """`--source` defaults to the process environment."""
    return sources or ["env"]


def write_output(text: str, output: Path | None) -> None:
    """Write to a file atomically, or to stdout."""
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from filot_preflight.fileio import atomic_write

    atomic_write(output, text)
