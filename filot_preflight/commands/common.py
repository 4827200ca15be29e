"""Options shared by every command that reads values, declared once so they stay identical."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from filot_preflight.errors import UsageError
from filot_preflight.redact import RedactingFilter, Redactor

if TYPE_CHECKING:  # core loads the pydantic models: imported in make_request so --version stays cheap
    from filot_preflight.core import RunRequest

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
        "--config",
        envvar="PREFLIGHT_CONFIG",
        help="preflight.toml or pyproject.toml with \\[tool.preflight]. Default: the one in the current folder.",
    ),
]

# --- the options of every command that runs checks (check, report, secrets missing/status) ---
OnlyOpt = Annotated[list[str] | None, typer.Option("--only", help="Run only this checker (repeatable).")]
SkipOpt = Annotated[list[str] | None, typer.Option("--skip", help="Do not run this checker (repeatable).")]
OfflineOpt = Annotated[
    bool, typer.Option("--offline", help="Run only checks that need no network (secrets, code audits).")
]
PhaseOpt = Annotated[
    str,
    typer.Option("--phase", help="predeploy: is the environment ready to deploy (default); postdeploy: is the "
                 "deployment live and healthy (ECS services, scaling, alarms, rotation, live endpoints); all: both."),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", min=0.1, help="Each checker's time budget in seconds, counted from the start of the "
                 "command and shared by all of its network steps (default 10)."),
]
DeadlineOpt = Annotated[
    float | None,
    typer.Option(
        "--deadline",
        min=0.1,
        envvar="PREFLIGHT_DEADLINE",
        help="Seconds for the whole command, start-up included; then a partial report.",
    ),
]
CaFileOpt = Annotated[
    Path | None, typer.Option("--ca-file", envvar="PREFLIGHT_CA_FILE", help="Extra CA bundle to trust (private CA).")
]
InsecureOpt = Annotated[
    bool | None,
    typer.Option(
        "--insecure/--no-insecure", help="Do not verify TLS certificates (shown as a warning).", show_default=False
    ),
]
AllowPlaintextAuthOpt = Annotated[
    bool | None,
    typer.Option(
        "--allow-plaintext-auth/--no-allow-plaintext-auth",
        help="Send Redis/PostgreSQL credentials even over a connection without TLS (shown as a warning).",
        show_default=False,
    ),
]
AllowLoopbackOpt = Annotated[
    bool | None,
    typer.Option(
        "--allow-loopback/--no-allow-loopback",
        help="Contact loopback/private hosts (local sandbox; never cloud metadata addresses); shown as a warning.",
        show_default=False,
    ),
]
StrictOpt = Annotated[
    bool | None,
    typer.Option("--strict/--no-strict", help="Warnings make the run not ready (exit 1).", show_default=False),
]
TaskDefOpt = Annotated[
    list[Path] | None, typer.Option("--task-def", help="ECS task definition JSON file to check (repeatable).")
]
SourceDirOpt = Annotated[
    list[str] | None, typer.Option("--source-dir", help="Source tree to audit, SERVICE=PATH (repeatable).")
]
PartialOkOpt = Annotated[
    bool,
    typer.Option(
        "--partial-ok",
        help="Exit 0 when a run narrowed by --only/--skip/--offline (or not fully checked) finds nothing wrong; "
        "the verdict still says it is not a release verdict.",
    ),
]
SendSignedCallbackOpt = Annotated[
    bool,
    typer.Option(
        "--send-signed-callback", help="Also send a correctly signed BULI2 test callback (may start real work)."
    ),
]


def source_dirs(specs: list[str]) -> dict[str, Path | tuple[Path, ...]]:
    """Parse `--source-dir SERVICE=PATH` values; a service given several trees keeps all of them (in order)."""
    trees: dict[str, list[Path]] = {}
    for spec in specs:
        svc, sep, path = spec.partition("=")
        if not sep or not svc or not path:
            raise UsageError(f"--source-dir {spec}: expected SERVICE=PATH, e.g. backend=../filot-backend")
        if Path(path) not in trees.setdefault(svc, []):
            trees[svc].append(Path(path))
    return {svc: paths[0] if len(paths) == 1 else tuple(paths) for svc, paths in trees.items()}


def make_request(
    *,
    manifest: Path | None,
    env_file: list[str] | None,
    source: list[str] | None,
    config: Path | None,
    only: list[str] | None = None,
    skip: list[str] | None = None,
    offline: bool = False,
    strict: bool | None = None,
    timeout: float | None = None,
    deadline: float | None = None,
    ca_file: Path | None = None,
    insecure: bool | None = None,
    allow_loopback: bool | None = None,
    allow_plaintext_auth: bool | None = None,
    task_def: list[Path] | None = None,
    source_dir: list[str] | None = None,
    send_signed_callback: bool = False,
    aws_region: str | None = None,
    aws_profile: str | None = None,
    aws_endpoint: str | None = None,
    partial_ok: bool = False,
    phase: str = "predeploy",
) -> RunRequest:
    """Turn the shared flags into a RunRequest; flags win over the config file, which fills the gaps."""
    from filot_preflight import config as config_mod
    from filot_preflight.checkers.base import Options
    from filot_preflight.core import RunRequest

    cfg = config_mod.load(config)
    base = Options(
        offline=offline,
        strict=bool(cfg.get("strict", False)) if strict is None else strict,
        send_signed_callback=send_signed_callback,
        task_defs=tuple(task_def or [Path(p) for p in cfg.get("task_defs", [])]),
        source_dirs=source_dirs(source_dir or [f"{k}={p}" for k, v in cfg.get("source_dirs", {}).items()
                                               for p in (v if isinstance(v, list) else [v])]),
        aws_region=aws_region,
        aws_profile=aws_profile,
        aws_endpoint=aws_endpoint,
    )
    return RunRequest(
        manifest=manifest,
        env_files=tuple(env_file or ()),
        sources=tuple(source or ()),
        only=tuple(only or ()),
        skip=tuple(skip or ()),
        phase=phase,
        deadline=deadline,
        base=base,
        flags={"timeout": timeout, "ca_file": ca_file, "insecure": insecure, "allow_loopback": allow_loopback,
               "allow_plaintext_auth": allow_plaintext_auth},
        config=cfg,
        partial_ok=partial_ok,
    )


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


def write_output(text: str, output: Path | None) -> None:
    """Write to stdout, or to a file (atomically; a device, FIFO or stdout alias in place: see fileio)."""
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from filot_preflight.fileio import write_output_file

    write_output_file(output, text)
