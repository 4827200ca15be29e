"""`preflight report`: every document of a run; `preflight diff`: what changed between two saved runs.

`app` holds both as top-level commands: `cli.app.add_typer(report.app)` (no name) merges them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from filot_preflight.commands.common import (
    AwsEndpointOpt,
    AwsProfileOpt,
    AwsRegionOpt,
    EnvFileOpt,
    ManifestOpt,
    SourceOpt,
    VerboseOpt,
    setup_logging,
    sources_or_default,
    write_output,
)
from filot_preflight.errors import UsageError

app = typer.Typer()

DEFAULT_DIR = Path("preflight-report")
DIFF_FORMATS = ("text", "json", "markdown")


def _source_dirs(specs: list[str]) -> dict[str, Path]:
    out = {}
    for spec in specs:
        svc, sep, path = spec.partition("=")
        if not sep or not svc or not path:
            raise UsageError(f"--source-dir {spec}: expected SERVICE=PATH, e.g. backend=../filot-backend")
        out[svc] = Path(path)
    return out


@app.command("report")
def report(
    from_json: Annotated[
        Path | None,
        typer.Option("--from", help="Render a saved run (`preflight check --format json -o results.json`) "
                     "instead of running the checks now."),
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write the documents into.")] = DEFAULT_DIR,
    templates: Annotated[
        Path | None, typer.Option("--templates", help="Folder of template overrides (same file names as templates/).")
    ] = None,
    waivers: Annotated[
        Path | None, typer.Option("--waivers", help="Waiver file (default: preflight.toml or [tool.preflight] here).")
    ] = None,
    manifest: ManifestOpt = None,
    env_file: EnvFileOpt = None,
    source: SourceOpt = None,
    only: Annotated[list[str] | None, typer.Option("--only", help="Run only this checker (repeatable).")] = None,
    skip: Annotated[list[str] | None, typer.Option("--skip", help="Do not run this checker (repeatable).")] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Run only checks that need no network.")] = False,
    timeout: Annotated[float | None, typer.Option("--timeout", min=0.1, help="Seconds for each network step.")] = None,
    deadline: Annotated[
        float | None,
        typer.Option("--deadline", min=0.1, envvar="PREFLIGHT_DEADLINE", help="Seconds for the whole run."),
    ] = None,
    ca_file: Annotated[
        Path | None, typer.Option("--ca-file", envvar="PREFLIGHT_CA_FILE", help="Extra CA bundle to trust.")
    ] = None,
    insecure: Annotated[
        bool | None, typer.Option("--insecure", help="Do not verify TLS certificates (a warning).", show_default=False)
    ] = None,
    allow_loopback: Annotated[
        bool | None,
        typer.Option("--allow-loopback", help="Accept loopback/private hosts (a warning).", show_default=False),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings make the run not ready.")] = False,
    task_def: Annotated[
        list[Path] | None, typer.Option("--task-def", help="ECS task definition JSON file (repeatable).")
    ] = None,
    source_dir: Annotated[
        list[str] | None, typer.Option("--source-dir", help="Source tree to audit, SERVICE=PATH (repeatable).")
    ] = None,
    aws_region: AwsRegionOpt = None,
    aws_profile: AwsProfileOpt = None,
    aws_endpoint: AwsEndpointOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Write every document (reports, checklist, summary, secrets map, env template) for one run."""
    from filot_preflight import manifest as manifest_mod
    from filot_preflight import waivers as waivers_mod
    from filot_preflight.checkers.base import Options
    from filot_preflight.diff import load_saved
    from filot_preflight.documents import pipeline, render_documents, write_documents
    from filot_preflight.render import verdict

    redactor = setup_logging(verbose)
    if from_json is not None:
        from filot_preflight.sources import load_values

        m = manifest_mod.load(manifest)
        store = load_values(m, env_file or [], use_process_env=True)  # only to mask values, if any leaked
        found = pipeline.load_waivers(waivers)
        saved = waivers_mod.apply(load_saved(from_json), found)
        if (saved.manifest_name, saved.manifest_version) != (m.name, m.version):
            sys.stderr.write(f"preflight: warning: {from_json} was checked against manifest "
                             f"{saved.manifest_name} {saved.manifest_version}, rendering with {m.name} {m.version}\n")
        run = pipeline.RunInfo()
        run_report = saved
    else:
        req = pipeline.RunRequest(
            manifest=manifest, env_files=tuple(env_file or ()), sources=tuple(sources_or_default(source)),
            only=tuple(only or ()), skip=tuple(skip or ()), deadline=deadline,
            base=Options(offline=offline, strict=strict, task_defs=tuple(task_def or ()),
                         source_dirs=_source_dirs(source_dir or []), aws_region=aws_region,
                         aws_profile=aws_profile, aws_endpoint=aws_endpoint),
            flags={"timeout": timeout, "ca_file": ca_file, "insecure": insecure, "allow_loopback": allow_loopback},
            waiver_file=waivers,
        )
        inputs, run_report, run = pipeline.run_checks(req, redactor)
        m, store = inputs.manifest, inputs.store
    rendered = render_documents(m, run_report, templates_dir=templates, checkers=pipeline.checker_infos(),
                                run=run, redact=pipeline.value_masker(m, store))
    paths = write_documents(rendered, output)
    sys.stderr.write(f"preflight: wrote {len(paths)} documents to {output}/\n{verdict(run_report)}\n")


@app.command("diff")
def diff(
    old: Annotated[Path, typer.Argument(help="Saved JSON report of the earlier run.")],
    new: Annotated[Path, typer.Argument(help="Saved JSON report of the later run.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="text, json or markdown.")] = "text",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="A new warning counts as a regression.")] = False,
) -> None:
    """Compare two runs: newly failing, fixed, new and removed checks; exit 1 when something regressed."""
    from filot_preflight import diff as diff_mod

    if fmt not in DIFF_FORMATS:
        raise UsageError(f"--format {fmt}: unknown format; choose from {', '.join(DIFF_FORMATS)}")
    d = diff_mod.diff(diff_mod.load_saved(old), diff_mod.load_saved(new), strict=strict)
    if fmt == "json":
        import json

        text = json.dumps(d.to_dict(), indent=2) + "\n"
    elif fmt == "markdown":
        text = diff_mod.format_markdown(d, old.name, new.name)
    else:
        text = diff_mod.format_text(d, old.name, new.name)
    write_output(text, output)
    raise typer.Exit(1 if d.regressed else 0)
