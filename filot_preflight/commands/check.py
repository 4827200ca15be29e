"""`preflight check`: the release gate, and `preflight checkers`: what can be checked."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from filot_preflight import render as render_mod
from filot_preflight.commands.common import (
    AwsEndpointOpt,
    AwsProfileOpt,
    AwsRegionOpt,
    ConfigOpt,
    EnvFileOpt,
    ManifestOpt,
    SourceOpt,
    VerboseOpt,
    setup_logging,
    sources_or_default,
    write_output,
)
from filot_preflight.errors import UsageError

if TYPE_CHECKING:
    from filot_preflight import core
    from filot_preflight.checkers.base import Checker
    from filot_preflight.models import CheckResult


def _source_dirs(specs: list[str]) -> dict[str, Path]:
    out = {}
    for spec in specs:
        svc, sep, path = spec.partition("=")
        if not sep or not svc or not path:
            raise UsageError(f"--source-dir {spec}: expected SERVICE=PATH, e.g. backend=../filot-backend")
        out[svc] = Path(path)
    return out


def check(
    manifest: ManifestOpt = None,
    env_file: EnvFileOpt = None,
    source: SourceOpt = None,
    only: Annotated[list[str] | None, typer.Option("--only", help="Run only this checker (repeatable).")] = None,
    skip: Annotated[list[str] | None, typer.Option("--skip", help="Do not run this checker (repeatable).")] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Run only checks that need no network (secrets, code audits).")
    ] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0.1, help="Seconds for each network step (default 10).")
    ] = None,
    deadline: Annotated[
        float | None,
        typer.Option(
            "--deadline", min=0.1, envvar="PREFLIGHT_DEADLINE", help="Seconds for the whole run; then a partial report."
        ),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option("--ca-file", envvar="PREFLIGHT_CA_FILE", help="Extra CA bundle to trust (private CA)."),
    ] = None,
    insecure: Annotated[
        bool | None,
        typer.Option("--insecure", help="Do not verify TLS certificates (shown as a warning).", show_default=False),
    ] = None,
    allow_loopback: Annotated[
        bool | None,
        typer.Option(
            "--allow-loopback",
            help="Accept loopback/private hosts (local sandbox); shown as a warning.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help=f"Output format: {', '.join(render_mod.FORMATS)}.")
    ] = "console",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report here instead of stdout.")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings make the run not ready (exit 1).")] = False,
    send_signed_callback: Annotated[
        bool,
        typer.Option(
            "--send-signed-callback", help="Also send a correctly signed BULI2 test callback (may start real work)."
        ),
    ] = False,
    task_def: Annotated[
        list[Path] | None, typer.Option("--task-def", help="ECS task definition JSON file to check (repeatable).")
    ] = None,
    source_dir: Annotated[
        list[str] | None,
        typer.Option("--source-dir", help="Source tree to audit, SERVICE=PATH (repeatable)."),
    ] = None,
    aws_region: AwsRegionOpt = None,
    aws_profile: AwsProfileOpt = None,
    aws_endpoint: AwsEndpointOpt = None,
    show_pass: Annotated[bool, typer.Option("--show-pass", help="Console: list passing checks too.")] = False,
    save: Annotated[
        Path | None, typer.Option("--save", help="Also save the JSON result here (for `preflight report --from`).")
    ] = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Check every secret, setting and subsystem; exit 0 ready, 1 not ready, 2 bad input, 130 interrupted."""
    # Imported here, not at the top: they load pydantic models, and `preflight --version` must stay cheap.
    from filot_preflight import config as config_mod
    from filot_preflight import core, waivers
    from filot_preflight.checkers.base import Options
    from filot_preflight.models import exit_code

    if fmt not in render_mod.FORMATS:
        raise UsageError(f"--format {fmt}: unknown format; choose from {', '.join(render_mod.FORMATS)}")
    redactor = setup_logging(verbose)
    cfg = config_mod.load(config)
    base = Options(
        offline=offline,
        strict=strict or bool(cfg.get("strict", False)),
        send_signed_callback=send_signed_callback,
        task_defs=tuple(task_def or [Path(p) for p in cfg.get("task_defs", [])]),
        source_dirs=_source_dirs(source_dir or [f"{k}={v}" for k, v in cfg.get("source_dirs", {}).items()]),
        aws_region=aws_region,
        aws_profile=aws_profile,
        aws_endpoint=aws_endpoint,
    )
    inputs = core.load_inputs(
        manifest or cfg.get("manifest"),
        env_file or cfg.get("env_files", []),
        sources_or_default(source or cfg.get("sources")),
        options=base,
        redactor=redactor,
    )
    flags = {"timeout": timeout, "ca_file": ca_file, "insecure": insecure, "allow_loopback": allow_loopback}
    options = core.resolve_options(inputs.store, base, flags, config=cfg.as_settings())
    if options.task_defs:  # a broken file is bad input (exit 2), not a failed check
        from filot_preflight.checkers._ecs_probe import load_files

        load_files(options.task_defs)
    inputs.read_remote(options)
    report = core.run_report(
        inputs,
        options,
        only=only or [],
        skip=skip or [],
        deadline=deadline or cfg.get("deadline"),
        on_event=_progress(),
    )
    report = waivers.apply(report, cfg.waivers)
    if save is not None:
        write_output(render_mod.get("json")(report), save)
    color = fmt == "console" and output is None and sys.stdout.isatty()
    write_output(render_mod.get(fmt)(report, color=color, show_pass=show_pass), output)
    if output is not None and fmt != "console":
        sys.stderr.write(render_mod.verdict(report) + "\n")
    raise typer.Exit(exit_code(report))


def _progress() -> core.Callback | None:
    """A one-line live status on stderr while checkers run (only on a terminal)."""
    if not sys.stderr.isatty():
        return None
    from rich.console import Console

    con = Console(stderr=True)
    running: set[str] = set()
    done: list[str] = []

    def on_event(c: Checker, res: list[CheckResult] | None) -> None:
        if res is None:
            running.add(c.name)
        else:
            running.discard(c.name)
            done.append(c.name)
        con.print(
            f"[dim]preflight: {len(done)} done; running: {', '.join(sorted(running)) or '-'}[/dim]",
            end="\r" if running else "\n",
            soft_wrap=True,
        )

    return on_event


def checkers() -> None:
    """List the registered checkers (built-in and plugins), what each checks and needs."""
    from rich.console import Console
    from rich.table import Table

    from filot_preflight import registry

    table = Table("name", "subsystem", "offline", "needs", "what it checks", box=None, pad_edge=False)
    for name, cls in registry.discover().items():
        table.add_row(name, cls.subsystem, "yes" if not cls.network else "no", ", ".join(cls.needs), cls.description)
    Console(width=160).print(table)
