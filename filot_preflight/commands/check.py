"""`preflight check`: the release gate, and `preflight checkers`: what can be checked."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from filot_preflight import render as render_mod
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
    PhaseOpt,
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

if TYPE_CHECKING:  # these load the pydantic models: imported where used so --version stays cheap
    from filot_preflight.checkers.base import Checker
    from filot_preflight.models import CheckResult
    from filot_preflight.runner import Callback


def check(
    manifest: ManifestOpt = None,
    env_file: EnvFileOpt = None,
    source: SourceOpt = None,
    only: OnlyOpt = None,
    skip: SkipOpt = None,
    phase: PhaseOpt = "predeploy",
    offline: OfflineOpt = False,
    timeout: TimeoutOpt = None,
    deadline: DeadlineOpt = None,
    ca_file: CaFileOpt = None,
    insecure: InsecureOpt = None,
    allow_loopback: AllowLoopbackOpt = None,
    allow_plaintext_auth: AllowPlaintextAuthOpt = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help=f"Output format: {', '.join(render_mod.FORMATS)}.")
    ] = "console",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report here instead of stdout.")
    ] = None,
    strict: StrictOpt = None,
    partial_ok: PartialOkOpt = False,
    send_signed_callback: SendSignedCallbackOpt = False,
    task_def: TaskDefOpt = None,
    source_dir: SourceDirOpt = None,
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
    from filot_preflight import core
    from filot_preflight.models import exit_code

    renderer = render_mod.get(fmt)  # an unknown --format is bad input, found before any probe runs
    redactor = setup_logging(verbose)
    req = make_request(
        manifest=manifest, env_file=env_file, source=source, config=config, only=only, skip=skip, offline=offline,
        strict=strict, timeout=timeout, deadline=deadline, ca_file=ca_file, insecure=insecure,
        allow_loopback=allow_loopback, allow_plaintext_auth=allow_plaintext_auth, task_def=task_def,
        source_dir=source_dir,
        send_signed_callback=send_signed_callback, aws_region=aws_region, aws_profile=aws_profile,
        aws_endpoint=aws_endpoint, partial_ok=partial_ok, phase=phase,
    )
    with _progress() as on_event:
        _, report = core.execute(req, redactor, on_event=on_event)
    if save is not None:
        write_output(render_mod.get("json")(report), save)
    color = fmt == "console" and output is None and _want_color()
    write_output(renderer(report, color=color, show_pass=show_pass), output)
    if output is not None and fmt != "console":
        sys.stderr.write(render_mod.verdict(report) + "\n")
    raise typer.Exit(exit_code(report))


def _want_color() -> bool:
    from filot_preflight.render.console import want_color

    return want_color(sys.stdout)


@contextmanager
def _progress() -> Iterator[Callback | None]:
    """A live display on stderr while checkers run: one line per running checker, cleared when done.

    Only on a terminal (a log or a pipe gets nothing); Rich redraws the lines in place, so nothing
    is left behind and nothing stacks up whatever the width.
    """
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console, Group, RenderableType
    from rich.live import Live
    from rich.spinner import Spinner
    from rich.text import Text

    con = Console(stderr=True, no_color=True if os.environ.get("NO_COLOR") else None)
    running: dict[str, tuple[float, Spinner]] = {}  # one spinner each, kept so it animates
    done: list[str] = []

    def view() -> Group:
        lines: list[RenderableType] = []
        for name, (t0, spinner) in running.items():
            spinner.update(text=Text(f"{name}  {time.monotonic() - t0:4.1f} s", style="dim"))
            lines.append(spinner)
        lines.append(Text(f"preflight: {len(done)} checker(s) done, {len(running)} running", style="dim"))
        return Group(*lines)

    with Live(view(), console=con, transient=True, refresh_per_second=8, get_renderable=view) as live:

        def on_event(c: Checker, res: list[CheckResult] | None) -> None:
            if res is None:
                running[c.name] = (time.monotonic(), Spinner("dots"))
            else:
                running.pop(c.name, None)
                done.append(c.name)
            live.refresh()

        yield on_event


def checkers() -> None:
    """List the registered checkers (built-in and plugins), what each checks and needs."""
    from rich.console import Console
    from rich.table import Table

    from filot_preflight import registry

    table = Table("name", "subsystem", "phase", "offline", "needs", "what it checks", box=None, pad_edge=False)
    for name, cls in registry.discover().items():
        table.add_row(name, cls.subsystem, cls.phase, "yes" if not cls.network else "no", ", ".join(cls.needs),
                      cls.description)
    Console().print(table)  # Rich's own width detection: the terminal's, COLUMNS, or 80
