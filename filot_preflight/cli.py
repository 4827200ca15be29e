"""The `preflight` command: a list of thin commands. Errors are mapped to exit codes in one place (`main`)."""

from __future__ import annotations

import contextlib
import signal
import sys
from typing import Annotated, Any

import typer

from filot_preflight import __version__
from filot_preflight.commands import check as check_cmd
from filot_preflight.commands import env as env_cmd
from filot_preflight.commands import (
    explain_cmd,
    manifest_cmd,
    render_cmd,
    report,
    sandbox,
    schema_cmd,
    secrets,
    smoke_cmd,
)
from filot_preflight.commands import watch as watch_cmd
from filot_preflight.errors import PreflightError

app = typer.Typer(
    name="preflight",
    help="Is this FiLot environment ready for production? Checks secrets, settings and live subsystems, with fixes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # tracebacks could show locals holding secrets; main() prints one line
    pretty_exceptions_show_locals=False,
    add_completion=True,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"preflight {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Deployment readiness for FiLot's backend."""


app.command(name="check")(check_cmd.check)
app.command(name="checkers")(check_cmd.checkers)
app.command(name="render")(render_cmd.render)
app.command(name="explain")(explain_cmd.explain)
app.command(name="watch")(watch_cmd.watch)
app.command(name="smoke")(smoke_cmd.smoke)
app.add_typer(manifest_cmd.app, name="manifest")
app.add_typer(schema_cmd.app, name="schema")
app.add_typer(secrets.app, name="secrets", help="Which secrets are missing, their status map, and new values.")
app.add_typer(env_cmd.app, name="env", help="Write prod.env.template from the manifest; check committed templates.")
app.add_typer(report.app)  # `report` and `diff` at the top level
app.add_typer(sandbox.app, name="sandbox")


# How each option's value reads in --help: a word, not Typer's type names (<list[str]>, <float range>).
_METAVARS = {
    "manifest": "FILE", "env_file": "[SERVICE=]FILE", "source": "env|aws", "only": "CHECKER", "skip": "CHECKER",
    "timeout": "SECONDS", "deadline": "SECONDS", "ca_file": "FILE", "fmt": "FORMAT", "output": "PATH",
    "task_def": "FILE", "source_dir": "SERVICE=PATH", "aws_region": "REGION", "aws_profile": "PROFILE",
    "aws_endpoint": "URL", "save": "FILE", "config": "FILE", "from_json": "FILE", "templates": "FOLDER",
    "dir": "FOLDER", "service": "SERVICE",
}
_TYPE_WORDS = {"Path": "PATH", "float": "NUMBER", "int": "N", "str": "TEXT"}


def command() -> Any:
    """The click command behind `preflight`, its option values shown as words in --help (flags show none)."""
    import typer.main

    root = typer.main.get_command(app)
    _word_metavars(root)
    return root


def _type_word(desc: Any) -> str:
    """PATH, NUMBER, N or TEXT from the annotation (list[str] -> TEXT: a repeatable option says so in its help)."""
    from typing import get_args

    ann = getattr(desc, "annotation", str)
    args = get_args(ann)
    ann = args[0] if args else ann
    return _TYPE_WORDS.get(getattr(ann, "__name__", ""), "TEXT")


def _word_metavars(cmd: Any) -> None:
    make_help = getattr(cmd, "get_help_option", None)
    if make_help is not None:  # --help is made per context, outside cmd.params

        def help_option(ctx: Any, _make: Any = make_help) -> Any:
            opt = _make(ctx)
            if opt is not None:
                opt.metavar = ""
            return opt

        cmd.get_help_option = help_option
    for param in getattr(cmd, "params", []):
        if getattr(param, "param_type_name", "") != "option" or param.metavar is not None:
            continue
        if param.is_flag:
            param.metavar = ""
            continue
        word = _METAVARS.get(param.name or "") or _type_word(getattr(param, "type_descriptor", None))
        param.metavar = word
    for sub in getattr(cmd, "commands", {}).values():
        _word_metavars(sub)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and turn every way it can end into one line and an exit code."""
    previous = _handle_interrupts()
    try:
        _main(argv)
    finally:
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)


# Set when SIGINT/SIGTERM arrived outside the runner's own handling (loading inputs, rendering): the run
# then ends with "interrupted" and 130 whichever signal it was. During the checks the runner takes both
# signals over and writes a partial report instead.
_signalled: list[int] = []


def _on_signal(signum: int, _frame: object) -> None:
    _signalled.append(signum)
    raise KeyboardInterrupt


def _handle_interrupts() -> dict[signal.Signals, Any]:
    """SIGTERM is an interrupt like Ctrl-C (exit 130), not a kill; returns the handlers to restore."""
    _signalled.clear()
    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread (an embedding app): leave signals alone
            previous[sig] = signal.signal(sig, _on_signal)
    return previous


def _main(argv: list[str] | None) -> None:
    try:
        rv = command().main(args=argv, prog_name="preflight", standalone_mode=False)
    except typer.Exit as e:
        rv = e.exit_code
    except PreflightError as e:
        _fail(str(e), e.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        from filot_preflight.models import EXIT_INTERRUPTED

        _fail("interrupted", EXIT_INTERRUPTED)
    except Exception as e:  # noqa: BLE001 - last resort: one redacted line, never a traceback with secrets
        from filot_preflight.models import EXIT_INVALID_INPUT

        if _is_click_error(e):  # Typer vendors click; match its errors by shape, not by class
            ctx = getattr(e, "ctx", None)
            cmd = ctx.command_path if ctx is not None else "preflight"
            code = int(getattr(e, "exit_code", EXIT_INVALID_INPUT))
            message = str(e.format_message())  # type: ignore[attr-defined]
            if not message.strip() and ctx is not None and hasattr(ctx.command, "list_commands"):
                # a group called bare (`preflight schema`): its help is printed; say what it wants
                names = ", ".join(ctx.command.list_commands(ctx))
                _fail(f"{cmd}: missing command; choose one of: {names} (see '{cmd} --help')", code)
            _fail(f"{cmd}: {e.format_message()} (see '{cmd} --help')", code)  # type: ignore[attr-defined]
        from filot_preflight.commands.common import LOG_REDACTOR

        _fail(f"internal error: {e.__class__.__name__}: {LOG_REDACTOR.redact(str(e))[:300]}", 3)
    if _signalled:  # Typer turns the KeyboardInterrupt into a silent exit 130: say why the run stopped
        from filot_preflight.models import EXIT_INTERRUPTED

        _fail("interrupted", EXIT_INTERRUPTED)
    sys.exit(rv if isinstance(rv, int) else 0)


def _is_click_error(e: Exception) -> bool:
    return hasattr(e, "format_message") and hasattr(e, "exit_code")


def printable(text: str) -> str:
    """`text` with control characters escaped (`\\n`, `\\x1b`): a path holding a newline or an ANSI code
    (a hostile file name) must neither break the one-line error nor drive the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _fail(message: str, code: int) -> None:
    # models (pydantic) is imported only on this path: the happy path of --version/--help stays cheap.
    from filot_preflight.models import EXIT_INVALID_INPUT

    message = printable(message)
    sys.stderr.write(f"preflight: error: {message}\n" if code == EXIT_INVALID_INPUT else f"preflight: {message}\n")
    sys.exit(code)


def run() -> None:
    """Console-script entry: `main()`, then leave at once.

    Interpreter teardown after a run (unloading boto3, temporalio, ...; probe threads still blocked
    on a silent host) costs 0.3-0.9 s, which would break the promise that --deadline bounds the
    command. Everything worth keeping is written and flushed before os._exit.
    """
    import contextlib
    import os

    from filot_preflight import STARTED, clock

    clock.mark(STARTED)  # this process's one command: its run counts from the process's start
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    for stream in (sys.stdout, sys.stderr):
        # a closed pipe (e.g. `| head`) must not turn into a traceback
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    from filot_preflight.fileio import remove_temp_files

    remove_temp_files()  # os._exit skips atexit: CA bundles written for drivers go now
    os._exit(code)
