"""`preflight env template`: every manifest variable as NAME=, grouped by section, from the template;
`preflight env check-template FILE...`: a committed template holds no secret and lists every variable."""

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


@app.command("check-template")
def check_template(
    files: Annotated[list[Path], typer.Argument(help="Env templates to check (e.g. prod.env.template).")],
    manifest: ManifestOpt = None,
    service: Annotated[
        str | None,
        typer.Option("--service", help="The template is this service's own: require only the variables it reads."),
    ] = None,
) -> None:
    """Check committed env templates: secrets empty or placeholders, every variable listed, settings valid."""
    from filot_preflight import manifest as manifest_mod
    from filot_preflight.sources import read_env_file
    from filot_preflight.template_check import check_template as judge

    m = manifest_mod.load(manifest)
    services = [s.name for s in m.services]
    if service is not None and service not in services:
        from filot_preflight.errors import UsageError

        raise UsageError(f"--service {service}: unknown service; manifest services: {', '.join(services)}")
    parsed = [(path, read_env_file(path)) for path in files]  # every file read first: bad input is exit 2 alone
    failed = warned = 0
    for path, values in parsed:
        for f in judge(m, values, service):
            where = f"{path}:{f.line}" if f.line is not None else str(path)
            sys.stdout.write(f"{where}: {f.status}: {f.variable}: {f.message}\n")
            failed += f.status == "fail"
            warned += f.status == "warn"
    verdict = "FAILED" if failed else "OK"
    sys.stdout.write(f"preflight: {len(files)} template(s) checked: {failed} failed, {warned} warning(s): {verdict}\n")
    if failed:
        raise typer.Exit(1)
