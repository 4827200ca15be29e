"""`preflight watch`: the checks on an interval, served as Prometheus metrics (/metrics) and /healthz."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable
from typing import Annotated, Any

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
    PhaseOpt,
    SkipOpt,
    SourceOpt,
    TaskDefOpt,
    TimeoutOpt,
    VerboseOpt,
    make_request,
    setup_logging,
)


def watch(
    interval: Annotated[float, typer.Option("--interval", min=0.001, help="Seconds from the start of one run to "
                                            "the start of the next; a run never overlaps the previous one.")] = 60.0,
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT serving /metrics (Prometheus text) and "
                                        "/healthz; port 0 picks a free one.")] = "127.0.0.1:9464",
    max_runs: Annotated[int | None, typer.Option("--max-runs", min=1, help="Stop after this many runs (default: "
                                                 "until SIGTERM/SIGINT); the exit code is then the last run's.")]
    = None,
    manifest: ManifestOpt = None,
    env_file: EnvFileOpt = None,
    source: SourceOpt = None,
    only: OnlyOpt = None,
    skip: SkipOpt = None,
    phase: PhaseOpt = "postdeploy",
    offline: OfflineOpt = False,
    timeout: TimeoutOpt = None,
    deadline: DeadlineOpt = None,
    ca_file: CaFileOpt = None,
    insecure: InsecureOpt = None,
    allow_loopback: AllowLoopbackOpt = None,
    allow_plaintext_auth: AllowPlaintextAuthOpt = None,
    task_def: TaskDefOpt = None,
    aws_region: AwsRegionOpt = None,
    aws_profile: AwsProfileOpt = None,
    aws_endpoint: AwsEndpointOpt = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Re-run the checks every --interval seconds and serve the latest run at /metrics and /healthz."""
    from prometheus_client import CollectorRegistry

    from filot_preflight.models import exit_code
    from filot_preflight.watch.loop import Watcher
    from filot_preflight.watch.metrics import SnapshotCollector
    from filot_preflight.watch.server import Server, app, parse_listen

    host, port = parse_listen(listen)
    redactor = setup_logging(verbose)
    req = make_request(
        manifest=manifest, env_file=env_file, source=source, config=config, only=only, skip=skip, offline=offline,
        strict=None, timeout=timeout, deadline=deadline,
        ca_file=ca_file, insecure=insecure, allow_loopback=allow_loopback, allow_plaintext_auth=allow_plaintext_auth,
        task_def=task_def, aws_region=aws_region, aws_profile=aws_profile, aws_endpoint=aws_endpoint, phase=phase,
    )
    watcher = Watcher(req, redactor, interval, max_runs)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(watcher.snapshot, redactor.redact))
    server = Server(host, port, app(registry, watcher.health))
    typer.echo(f"preflight watch: serving http://{host}:{server.port}/metrics and /healthz every {interval:g} s",
               err=True)
    stop = threading.Event()
    previous = _on_stop_signals(watcher.request_stop)
    try:
        last = watcher.run(stop)
    finally:
        server.close()
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)
    stopped = stop.is_set() or (last is not None and last.interrupted)
    raise typer.Exit(0 if stopped or last is None else exit_code(last))


def _on_stop_signals(request_stop: Callable[[], None]) -> dict[signal.Signals, Any]:
    """SIGTERM/SIGINT end the watch gracefully (the current run ends partial, the server closes), exit 0."""
    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread
            previous[sig] = signal.signal(sig, lambda *_: request_stop())
    return previous


__all__ = ["watch"]
