"""`preflight report`: every document of a run; `preflight diff`: what changed between two saved runs.

`app` holds both as top-level commands: `cli.app.add_typer(report.app)` (no name) merges them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from filot_preflight.commands.common import (
    AllowLoopbackOpt,
    AllowPlaintextAuthOpt,
    AwsEndpointOpt,
    AwsProfileOpt,
    AwsRegionOpt,
    CaFileOpt,
    ConfigOpt,
    DeadlineOpt,
    EnvFileOpt,
    InsecureOpt,
    ManifestOpt,
    OfflineOpt,
    OnlyOpt,
    PartialOkOpt,
    SendSignedCallbackOpt,
    SkipOpt,
    SourceDirOpt,
    SourceOpt,
    StrictOpt,
    TaskDefOpt,
    TimeoutOpt,
    VerboseOpt,
    make_request,
    setup_logging,
    write_output,
)
from filot_preflight.errors import UsageError

app = typer.Typer()

DEFAULT_DIR = Path("preflight-report")
DIFF_FORMATS = ("text", "json", "markdown")


@app.command("report")
def report(
    from_json: Annotated[
        Path | None,
        typer.Option("--from", help="Render a saved run (`preflight check --save results.json`) "
                     "instead of running the checks now."),
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write the documents into.")] = DEFAULT_DIR,
    templates: Annotated[
        Path | None, typer.Option("--templates", help="Folder of template overrides (same file names as templates/).")
    ] = None,
    manifest: ManifestOpt = None,
    env_file: EnvFileOpt = None,
    source: SourceOpt = None,
    only: OnlyOpt = None,
    skip: SkipOpt = None,
    offline: OfflineOpt = False,
    timeout: TimeoutOpt = None,
    deadline: DeadlineOpt = None,
    ca_file: CaFileOpt = None,
    insecure: InsecureOpt = None,
    allow_loopback: AllowLoopbackOpt = None,
    allow_plaintext_auth: AllowPlaintextAuthOpt = None,
    strict: StrictOpt = None,
    partial_ok: PartialOkOpt = False,
    send_signed_callback: SendSignedCallbackOpt = False,
    save: Annotated[
        Path | None, typer.Option("--save", help="Also save the run's JSON result here (for `report --from`, `diff`).")
    ] = None,
    task_def: TaskDefOpt = None,
    source_dir: SourceDirOpt = None,
    aws_region: AwsRegionOpt = None,
    aws_profile: AwsProfileOpt = None,
    aws_endpoint: AwsEndpointOpt = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Write every document (reports, checklist, summary, secrets map, env template) for one run.

    Exits with the run's code (0 ready, 1 not ready), like `check` and `render`.
    """
    from filot_preflight import core
    from filot_preflight import manifest as manifest_mod
    from filot_preflight import waivers as waivers_mod
    from filot_preflight.diff import load_saved
    from filot_preflight.documents import pipeline, render_documents, write_documents
    from filot_preflight.documents.results import RunInfo
    from filot_preflight.models import exit_code
    from filot_preflight.render import get as get_renderer
    from filot_preflight.render import verdict

    redactor = setup_logging(verbose)
    req = make_request(
        manifest=manifest, env_file=env_file, source=source, config=config, only=only, skip=skip, offline=offline,
        strict=strict, timeout=timeout, deadline=deadline, ca_file=ca_file, insecure=insecure,
        allow_loopback=allow_loopback, allow_plaintext_auth=allow_plaintext_auth, task_def=task_def,
        source_dir=source_dir, aws_region=aws_region, aws_profile=aws_profile, aws_endpoint=aws_endpoint,
        partial_ok=partial_ok, send_signed_callback=send_signed_callback,
    )
    if from_json is not None:
        from filot_preflight.sources import load_values

        m = manifest_mod.load(req.manifest or req.config.get("manifest"))
        store = load_values(m, req.env_files, use_process_env=True)  # only to mask values, if any leaked
        run_report = waivers_mod.apply(load_saved(from_json), req.config.waivers)
        if (run_report.manifest_name, run_report.manifest_version) != (m.name, m.version):
            sys.stderr.write(f"preflight: warning: {from_json} was checked against manifest "
                             f"{run_report.manifest_name} {run_report.manifest_version}, "
                             f"rendering with {m.name} {m.version}\n")
        if partial_ok:
            run_report = run_report.model_copy(update={"partial_ok": True})
    else:
        inputs, run_report = core.execute(req, redactor)
        m, store = inputs.manifest, inputs.store
    if save is not None:
        write_output(get_renderer("json")(run_report), save)
    rendered = render_documents(m, run_report, templates_dir=templates, checkers=pipeline.checker_infos(),
                                run=RunInfo.from_report(run_report), redact=pipeline.value_masker(m, store))
    paths = write_documents(rendered, output)
    sys.stderr.write(f"preflight: wrote {len(paths)} documents to {output}/\n{verdict(run_report)}\n")
    raise typer.Exit(exit_code(run_report))


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
