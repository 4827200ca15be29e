"""`preflight secrets missing|status|generate`: the secrets documents, and new values from a CSPRNG."""

from __future__ import annotations

import base64
import secrets as csprng
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from filot_preflight.commands.common import (
    AllowLoopbackOpt,
    AwsEndpointOpt,
    AwsProfileOpt,
    AwsRegionOpt,
    ConfigOpt,
    EnvFileOpt,
    ManifestOpt,
    SourceOpt,
    VerboseOpt,
    make_request,
    setup_logging,
    write_output,
)
from filot_preflight.errors import UsageError

if TYPE_CHECKING:  # pydantic models: imported where used, so `preflight --version` stays cheap
    from filot_preflight.manifest import Generate, Manifest

app = typer.Typer(no_args_is_help=True)

MISSING_FILE = "missing_required_secrets.txt"
STATUS_FILE = "production_secrets_required.json"

OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="File to write ('-' for stdout).")]
TemplatesOpt = Annotated[
    Path | None, typer.Option("--templates", help="Folder of template overrides (same file names as templates/).")
]
VerifyOpt = Annotated[
    bool,
    typer.Option("--verify", help="Also run the live checks that confirm values (verified_by); needs network."),
]


@app.callback()
def _group() -> None:
    """Production secrets: what is missing, the machine-readable map, and new values."""


def _write_document(
    name: str, output: Path | None, manifest: Path | None, env_file: list[str] | None, source: list[str] | None,
    verify: bool, allow_loopback: bool | None, config: Path | None, templates: Path | None,
    aws: tuple[str | None, ...], verbose: bool, *, gate: bool,
) -> None:
    """Run the secrets checks, write document `name` to `output` (default: ./name) and say what it counted.

    `gate` (the missing list): the counts are always said and the exit is 1 when a required secret is
    missing or invalid; otherwise they are said only when the document went to a file.
    """
    from dataclasses import replace

    from filot_preflight import core
    from filot_preflight import manifest as manifest_mod
    from filot_preflight.documents import pipeline, render_documents
    from filot_preflight.documents.results import RunInfo
    from filot_preflight.documents.variables import counts, variable_views

    redactor = setup_logging(verbose)
    req = make_request(manifest=manifest, env_file=env_file, source=source, config=config,
                       allow_loopback=allow_loopback, aws_region=aws[0], aws_profile=aws[1], aws_endpoint=aws[2])
    m = manifest_mod.load(req.manifest or req.config.get("manifest"))
    only, offline = pipeline.secrets_selection(m, req.sources or req.config.get("sources") or ["env"], verify)
    req = replace(req, only=only, base=replace(req.base, offline=offline))
    inputs, report = core.execute(req, redactor)
    text = render_documents(inputs.manifest, report, names=[name], templates_dir=templates,
                            checkers=pipeline.checker_infos(), run=RunInfo.from_report(report),
                            redact=pipeline.value_masker(inputs.manifest, inputs.store))[name]
    c = counts([v for v in variable_views(inputs.manifest, report) if v.secret])
    out = output if output is not None else Path(name)
    write_output(text, out)
    if gate or str(out) != "-":
        where = "" if str(out) == "-" else f" -> {out}"
        sys.stderr.write(f"preflight: secrets: {_summary(c)}{where}\n")
    if gate:
        raise typer.Exit(1 if c["missing"] or c["invalid"] else 0)


def _summary(c: dict[str, int]) -> str:
    return (f"{c['missing']} missing, {c['invalid']} invalid, {c['needs verification']} need verification, "
            f"{c['existing']} existing")


@app.command("missing")
def missing(
    manifest: ManifestOpt = None,
    env_file: EnvFileOpt = None,
    source: SourceOpt = None,
    output: OutputOpt = None,
    verify: VerifyOpt = False,
    allow_loopback: AllowLoopbackOpt = None,
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
    aws_region: AwsRegionOpt = None,
    aws_profile: AwsProfileOpt = None,
    aws_endpoint: AwsEndpointOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Write missing_required_secrets.txt; exit 1 when a required secret is missing or invalid."""
    _write_document(MISSING_FILE, output, manifest, env_file, source, verify, allow_loopback, config, templates,
                    (aws_region, aws_profile, aws_endpoint), verbose, gate=True)


@app.command("status")
def status(
    manifest: ManifestOpt = None,
    env_file: EnvFileOpt = None,
    source: SourceOpt = None,
    output: OutputOpt = None,
    verify: VerifyOpt = False,
    allow_loopback: AllowLoopbackOpt = None,
    config: ConfigOpt = None,
    templates: TemplatesOpt = None,
    aws_region: AwsRegionOpt = None,
    aws_profile: AwsProfileOpt = None,
    aws_endpoint: AwsEndpointOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Write production_secrets_required.json: every secret, its Secrets Manager path, consumers and status."""
    _write_document(STATUS_FILE, output, manifest, env_file, source, verify, allow_loopback, config, templates,
                    (aws_region, aws_profile, aws_endpoint), verbose, gate=False)


def new_value(recipe: Generate) -> str:
    """A fresh value from the operating system's CSPRNG, encoded as the recipe says."""
    raw = csprng.token_bytes(recipe.bytes)
    if recipe.encoding == "hex":
        return raw.hex()
    if recipe.encoding == "urlsafe":
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return base64.b64encode(raw).decode()


def _recipes(m: Manifest, names: list[str]) -> list[tuple[str, Generate]]:
    out = []
    for name in dict.fromkeys(names):
        if not m.has(name):
            raise UsageError(f"{name}: not a variable of manifest {m.name}")
        var = m.variable(name)
        if var.generate is None:
            how = f" Obtain it instead: {var.obtain}" if var.obtain else ""
            raise UsageError(f"{name}: the manifest has no generate recipe for it (it cannot be made up).{how}")
        out.append((name, var.generate))
    return out


@app.command("generate")
def generate(
    names: Annotated[list[str], typer.Argument(help="Variables to generate (each needs a `generate` recipe).")],
    put: Annotated[
        bool, typer.Option("--put", help="Store each value at its Secrets Manager path instead of printing it.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="With --put: replace an existing value (kept as AWSPREVIOUS).")
    ] = False,
    manifest: ManifestOpt = None,
    env_file: EnvFileOpt = None,
    aws_region: AwsRegionOpt = None,
    aws_profile: AwsProfileOpt = None,
    aws_endpoint: AwsEndpointOpt = None,
    ca_file: Annotated[
        Path | None, typer.Option("--ca-file", envvar="PREFLIGHT_CA_FILE", help="Extra CA bundle to trust.")
    ] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", min=0.1, help="Seconds for each AWS call.")] = None,
    allow_loopback: AllowLoopbackOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """New values from a CSPRNG, per the manifest's recipe: printed as NAME=value on stdout, or stored with --put."""
    setup_logging(verbose)
    if overwrite and not put:
        raise UsageError("--overwrite only applies with --put")
    from filot_preflight import manifest as manifest_mod

    m = manifest_mod.load(manifest)
    recipes = _recipes(m, names)
    if not put:
        # The point of this command: the values go to stdout, and nowhere else.
        for name, recipe in recipes:
            sys.stdout.write(f"{name}={new_value(recipe)}\n")
        sys.stdout.flush()
        return
    from filot_preflight import core
    from filot_preflight.checkers.base import Options
    from filot_preflight.net import secrets_manager as aws_source
    from filot_preflight.sources import load_values

    store = load_values(m, env_file or [], use_process_env=True)
    base = Options(aws_region=aws_region, aws_profile=aws_profile, aws_endpoint=aws_endpoint)
    # --allow-loopback: an --aws-endpoint on this machine (the sandbox's moto); the host gate refuses it otherwise.
    options = core.resolve_options(store, base, {"timeout": timeout, "ca_file": ca_file,
                                                 "allow_loopback": allow_loopback}, config={})
    for name, recipe in recipes:
        res = aws_source.put_generated(m, name, new_value(recipe), options, overwrite=overwrite, values=store)
        key = f" key {res.key}" if res.key else ""
        sys.stdout.write(f"{name}: {res.action} {res.secret_id}{key}"
                         f"{f' (version {res.version_id})' if res.version_id else ''}\n")
