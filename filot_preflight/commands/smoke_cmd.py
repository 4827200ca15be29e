"""`preflight smoke`: one synthetic OCR job end to end (R2 upload, queue, worker result), then removed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from filot_preflight.commands.common import (
    AllowLoopbackOpt,
    AllowPlaintextAuthOpt,
    AwsEndpointOpt,
    AwsProfileOpt,
    AwsRegionOpt,
    CaFileOpt,
    ConfigOpt,
    EnvFileOpt,
    InsecureOpt,
    ManifestOpt,
    SourceOpt,
    TimeoutOpt,
    VerboseOpt,
    make_request,
    setup_logging,
    write_output,
)

if TYPE_CHECKING:
    from filot_preflight.smoke.model import SmokeReport, Step

FORMATS = ("console", "json")


def smoke(
    wait: Annotated[float | None, typer.Option("--wait", min=0.1, max=3600, help="Seconds to wait for the worker's "
                                               "result (default: checks.smoke.wait_s, 120).")] = None,
    output_format: Annotated[str, typer.Option("--format", help="console or json")] = "console",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here (default stdout).")]
    = None,
    save: Annotated[Path | None, typer.Option("--save", help="Also write the JSON report to this file.")] = None,
    manifest: ManifestOpt = None,
    env_file: EnvFileOpt = None,
    source: SourceOpt = None,
    timeout: TimeoutOpt = None,
    ca_file: CaFileOpt = None,
    insecure: InsecureOpt = None,
    allow_loopback: AllowLoopbackOpt = None,
    allow_plaintext_auth: AllowPlaintextAuthOpt = None,
    aws_region: AwsRegionOpt = None,
    aws_profile: AwsProfileOpt = None,
    aws_endpoint: AwsEndpointOpt = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Send one synthetic OCR job through the real path and remove everything it created (writes on purpose).

    A PDF is uploaded to R2 with a presigned PUT under the canary prefix, a job is enqueued the way the
    backend enqueues it (the manifest's queue layout), the worker's result is awaited, then job, result and
    document are removed. Exit 0 when every step passed, 1 otherwise, 130 when interrupted (after cleanup).
    """
    from filot_preflight.checkers.base import CheckContext
    from filot_preflight.core import prepare
    from filot_preflight.errors import UsageError
    from filot_preflight.smoke import run

    if output_format not in FORMATS:
        raise UsageError(f"--format {output_format}: choose from {', '.join(FORMATS)}")
    redactor = setup_logging(verbose)
    req = make_request(manifest=manifest, env_file=env_file, source=source, config=config, timeout=timeout,
                       ca_file=ca_file, insecure=insecure, allow_loopback=allow_loopback,
                       allow_plaintext_auth=allow_plaintext_auth, aws_region=aws_region, aws_profile=aws_profile,
                       aws_endpoint=aws_endpoint)
    inputs, options = prepare(req, redactor)
    ctx = CheckContext(inputs.manifest, inputs.store, options, inputs.redactor)
    live = output_format == "console" and output is None
    report = run(ctx, wait, echo=_echo_step if live else lambda _s: None)
    if save is not None:
        write_output(redactor.redact(report.model_dump_json(indent=2)) + "\n", save)
    if output_format == "json":
        write_output(redactor.redact(report.model_dump_json(indent=2)) + "\n", output)
    else:
        write_output(_console(report, header=not live), output)
    raise typer.Exit(report.exit_code())


def _line(step: Step) -> str:
    took = f"{step.seconds:7.2f} s" if step.seconds is not None else " " * 9
    text = f"{step.status.value.upper():5} {step.name:8} {took}  {step.summary}"
    return text + (f"\n{'':25}fix: {step.remediation}" if step.remediation else "")


def _echo_step(step: Step) -> None:
    typer.echo(_line(step))


def _console(report: SmokeReport, header: bool) -> str:
    lines = [_line(s) for s in report.steps] if header else []
    total = sum(s.seconds or 0 for s in report.steps)
    verdict = ("interrupted (cleaned up)" if report.interrupted else
               "PASSED: the OCR path works end to end" if report.ok else "FAILED")
    return "\n".join([*lines, f"smoke {report.smoke_id} ({report.layout}): {verdict} in {total:.2f} s", ""])


__all__ = ["smoke"]
