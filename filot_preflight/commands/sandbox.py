"""`preflight sandbox up | down | status`: a real FiLot-shaped stack on loopback, for demos and tests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from filot_preflight.errors import PreflightError

app = typer.Typer(
    help="Start, inspect and stop a local FiLot-shaped stack (Redis TLS, Postgres SSL, Temporal, S3, AWS, BULI2).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)

DirOpt = Annotated[Path, typer.Option("--dir", "-d", help="Folder for the sandbox's state, logs, certs and env files.")]


@app.command()
def up(
    *,
    dir: DirOpt = Path(".sandbox"),  # noqa: A002 - the option is --dir
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Start only these services (repeatable); a missing binary is then an error."),
    ] = None,
    manifest: Annotated[Path | None, typer.Option("--manifest", "-m", help="Manifest the env files follow.")] = None,
) -> None:
    """Start every installed service on free loopback ports and write DIR/sandbox.env and DIR/gpu-worker.env."""
    from filot_preflight.sandbox import stack
    from filot_preflight.sandbox.base import ServiceStartError

    names = [n.strip() for item in only or [] for n in item.split(",") if n.strip()]
    try:
        result = stack.up(dir, only=names or None, manifest_path=manifest, echo=typer.echo)
    except PreflightError as e:
        _fail(str(e), e.exit_code)
    except ServiceStartError as e:
        _fail(f"sandbox did not start: {e}", 1)
    if result.skipped and not names:  # the demo needs every service: a half stack would fail with production fixes
        stack.down(dir)
        _fail(f"sandbox did not start: {missing_line(result.skipped)}", 1)
    typer.echo(f"sandbox up in {result.seconds:.1f}s: {len(result.handles)} services, {len(result.skipped)} skipped")
    typer.echo(f"  backend env:    {result.env_file}")
    typer.echo(f"  gpu-worker env: {result.worker_env_file}")
    typer.echo(f"  CA:             {result.ca_file}")
    typer.echo(f"next: preflight check --env-file {result.env_file} --env-file gpu-worker={result.worker_env_file}")
    typer.echo(f"stop: preflight sandbox down --dir {result.dir}")


@app.command()
def down(*, dir: DirOpt = Path(".sandbox")) -> None:  # noqa: A002
    """Stop exactly the processes `up` started in DIR."""
    from filot_preflight.sandbox import stack

    try:
        stopped = stack.down(dir)
    except PreflightError as e:
        _fail(str(e), e.exit_code)
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else f"no sandbox running in {dir}")


@app.command()
def status(*, dir: DirOpt = Path(".sandbox")) -> None:  # noqa: A002
    """Show each service of the sandbox in DIR; exit 1 unless all are running and answering."""
    from filot_preflight.sandbox import stack

    try:
        rows = stack.status(dir)
    except PreflightError as e:
        _fail(str(e), e.exit_code)
    if not rows:
        typer.echo(f"no sandbox in {dir}")
        raise typer.Exit(1)
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        state = "up" if row["answering"] else ("not answering" if row["running"] else "stopped")
        info = row["info"]
        where = next((info[k] for k in ("url", "endpoint", "address", "queue", "task_queue") if k in info), "")
        pids = ",".join(map(str, row["pids"]))
        typer.echo(f"{row['name']:<{width}}  {state:<13}  pid {pids:<8}  {where}".rstrip())
    if not all(r["answering"] for r in rows):
        raise typer.Exit(1)


def install_extra() -> str:
    """The command that adds the `sandbox` extra, for the way this preflight was installed."""
    import sys

    prefix = sys.prefix.replace("\\", "/")
    if "/pipx/venvs/" in prefix:
        return "pipx install --force 'filot-preflight[sandbox]'"
    if "/uv/tools/" in prefix:
        return "uv tool install --force 'filot-preflight[sandbox]'"
    return f"{sys.executable} -m pip install 'filot-preflight[sandbox]'"


def missing_line(skipped: list[str]) -> str:
    """'temporal, s3 not available; install: <extra>; sudo apt-get install -y ...' from stack.up's skip lines."""
    names = [line.split(":", 1)[0] for line in skipped]
    apt = sorted({pkg for line in skipped if "apt-get install -y " in line
                  for pkg in line.rsplit("apt-get install -y ", 1)[1].split()})
    cmds = [install_extra()] if any("pip install" in line for line in skipped) else []
    cmds += [f"sudo apt-get install -y {' '.join(apt)}"] if apt else []
    return f"{', '.join(names)} not available; install: {' && '.join(cmds) or 'see the lines above'}"


def _fail(message: str, code: int) -> NoReturn:
    # One line, no traceback: the same shape cli.main gives every error.
    typer.echo(f"preflight: error: {message}" if code == 2 else f"preflight: {message}", err=True)
    raise typer.Exit(code)
