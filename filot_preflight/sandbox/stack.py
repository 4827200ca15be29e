"""The whole sandbox: `up` starts every installed service concurrently, `down` stops exactly those, `status`.

`up` records each process (pid and kernel start time) in DIR/state.json the moment it starts, so
`down` can stop a stack even when `up` was interrupted half-way, and never touches another process.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filot_preflight import manifest as manifest_mod
from filot_preflight.errors import PreflightError
from filot_preflight.sandbox import (
    aws_seed,
    envfiles,
    http_apps,
    moto,
    pgbouncer,
    postgres,
    redis,
    s3,
    temporal,
    values,
    workers,
)
from filot_preflight.sandbox.base import LOOPBACK, MissingBinary, SandboxContext, ServiceHandle, free_port, port_open
from filot_preflight.sandbox.certs import make_certs

STATE_FILE = "state.json"
SERVICES = ("redis", "postgres", "temporal", "s3", "moto", "buli2", "backend")  # what --only may name
# Env-file order: later handles override earlier ones (the TLS front's TEMPORAL_ADDRESS wins).
_ORDER = ["redis", "gpu-worker", "postgres", "pgbouncer", "temporal", "temporal-tls", "temporal-worker", "s3", "moto"]
_ORDER += ["buli2", "backend"]
# Generated values that would point nowhere (or at the real provider) when their server is not running.
_OWNED = {
    "redis": {"REDIS_URL", "REDIS_TLS_CA_FILE"},
    "postgres": {"DATABASE_URL", "DATABASE_URL_DIRECT"},
    "temporal": {"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_TASK_QUEUE", "TEMPORAL_API_KEY"},
    "temporal-tls": {"TEMPORAL_API_KEY", "TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY"},
    "s3": {"CF_R2_ENDPOINT", "CF_R2_PUBLIC_URL", "CF_R2_ACCOUNT_ID", "CF_R2_ACCESS_KEY_ID", "CF_R2_SECRET_ACCESS_KEY"},
    "buli2": {"BULI2_API_URL"},
    "backend": {"API_BASE_URL", "BULI2_CALLBACK_URL"},
}
_OURS = ("certs", "logs", "taskdefs", envfiles.BACKEND_FILE, envfiles.WORKER_FILE, STATE_FILE, *_ORDER)


class SandboxRunning(PreflightError):
    """`up` on a folder whose sandbox is still running."""


@dataclass
class Stack:
    """A started sandbox: its handles (by name), the two env files, the CA, what was skipped."""

    dir: Path
    handles: dict[str, ServiceHandle]
    env_file: Path
    worker_env_file: Path
    ca_file: Path
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def env(self) -> dict[str, str]:
        """The backend's view (DIR/sandbox.env) as a dict."""
        return envfiles.read(self.env_file)

    def stop(self) -> None:
        """Stop every process of this stack (same as `down`)."""
        down(self.dir)


def up(
    folder: Path,
    *,
    only: Iterable[str] | None = None,
    manifest_path: Path | None = None,
    echo: Callable[[str], None] = lambda _line: None,
) -> Stack:
    """Start the stack in `folder` (default services: all installed). `only` names required services.

    A service named in `only` whose binary is missing raises MissingBinary; otherwise it is skipped
    with a line. Any service failing to start stops everything already started, then raises.
    """
    t0 = time.monotonic()
    folder = folder.resolve()
    manifest = manifest_mod.load(manifest_path)
    selected = set(only) if only else set(SERVICES)
    unknown = selected - set(SERVICES)
    if unknown:
        raise PreflightError(f"unknown service {sorted(unknown)[0]!r}; choose from {', '.join(SERVICES)}")
    _prepare(folder)
    vals = values.generate(manifest)
    backend_port = free_port()  # chosen now: APP_ORIGIN (CORS of the bucket) names it before start
    vals["APP_ORIGIN"] = vals["CORS_ALLOWED_ORIGINS"] = f"https://{LOOPBACK}:{backend_port}"
    vals["SENTRY_DSN"] = f"https://{secrets.token_hex(16)}@{LOOPBACK}:{backend_port}/1"
    ctx = SandboxContext(folder, make_certs(folder / "certs"), vals)
    run = _Runner(ctx, required=set(only or ()), echo=echo)
    sig = manifest.checks.buli2.signature
    chains: dict[str, Callable[[], None]] = {
        "redis": lambda: run.chain(
            ("redis", redis.start),
            ("gpu-worker", lambda c, h: workers.start_queue_worker(c, h.env, manifest.checks.queue)),
        ),
        # DATABASE_URL through PgBouncer (Neon's pooled endpoint); DATABASE_URL_DIRECT stays on postgres.
        "postgres": lambda: run.chain(("postgres", postgres.start), ("pgbouncer", pgbouncer.start)),
        "temporal": lambda: run.chain(
            ("temporal", temporal.start),
            ("temporal-tls", lambda c, h: temporal.start_tls_front(c, h)),
            ("temporal-worker", lambda c, _: _temporal_worker(c, run.handles)),
        ),
        "s3": lambda: run.chain(("s3", s3.start)),
        "moto": lambda: run.chain(("moto", _moto)),
        "buli2": lambda: run.chain(("buli2", http_apps.start_buli2)),
        "backend": lambda: run.chain(
            ("backend", lambda c: http_apps.start_backend(c, port=backend_port, signature=sig))
        ),
    }
    try:
        with ThreadPoolExecutor(max_workers=len(chains)) as pool:
            futures = [pool.submit(fn) for name, fn in chains.items() if name in selected]
            errors = [f.exception() for f in futures]
        for error in errors:
            if error is not None:
                raise error
        backend, worker = _merge(vals, run.handles)
        env_file, worker_file = envfiles.write(folder, manifest, backend, worker, ctx.certs.ca_pem)
        if "moto" in run.handles:
            aws_seed.seed_aws(folder, manifest)
            echo("moto: seeded Secrets Manager and registered ECS task definitions (taskdefs/)")
    except BaseException:
        _stop_all(list(run.handles.values()))
        (folder / STATE_FILE).unlink(missing_ok=True)
        raise
    stack = Stack(folder, run.handles, env_file, worker_file, ctx.certs.ca_pem, run.skipped, time.monotonic() - t0)
    run.save(extra={"env_file": str(env_file), "worker_env_file": str(worker_file), "seconds": stack.seconds})
    return stack


def down(folder: Path) -> list[str]:
    """Stop exactly the processes `up` recorded in `folder` (newest first); returns the services stopped."""
    state = _load_state(folder.resolve())
    if state is None:
        return []
    handles = [ServiceHandle.from_state(s) for s in state.get("services", [])]
    _stop_all(handles)
    (folder.resolve() / STATE_FILE).unlink(missing_ok=True)
    return [h.name for h in handles]


def status(folder: Path) -> list[dict[str, Any]]:
    """For each recorded service: name, running (all its processes alive), answering (its ports open)."""
    state = _load_state(folder.resolve())
    rows = []
    for data in state.get("services", []) if state else []:
        handle = ServiceHandle.from_state(data)
        running = handle.alive()
        answering = running and all(port_open(p) for p in handle.ports.values())
        rows.append(
            {"name": handle.name, "running": running, "answering": answering, "pids": handle.pids}
            | {"ports": handle.ports, "info": handle.info, "log": str(handle.log or "")}
        )
    return rows


class _Runner:
    """Runs chains of dependent starts (a server, then what needs it) and records every handle at once."""

    def __init__(self, ctx: SandboxContext, required: set[str], echo: Callable[[str], None]) -> None:
        self.ctx, self.required, self.echo = ctx, required, echo
        self.handles: dict[str, ServiceHandle] = {}
        self.skipped: list[str] = []
        self._lock = threading.Lock()

    def chain(self, *steps: tuple[str, Callable[..., ServiceHandle]]) -> None:
        previous: ServiceHandle | None = None
        for i, (name, start) in enumerate(steps):
            try:
                handle = start(self.ctx) if i == 0 else start(self.ctx, previous)
            except MissingBinary as e:
                if name in self.required:
                    raise
                self._skip(f"{name}: skipped, {e}")
                if i == 0:  # what depends on a missing server cannot start either
                    for dependent, _ in steps[1:]:
                        self._skip(f"{dependent}: skipped, needs {name}")
                    return
                continue
            with self._lock:
                self.handles[name] = handle
                self.save()
            self.echo(f"{name}: ready {handle.info.get('url') or handle.info.get('endpoint') or ''}".rstrip())
            previous = handle

    def _skip(self, line: str) -> None:
        with self._lock:
            self.skipped.append(line)
        self.echo(line)

    def save(self, extra: dict[str, Any] | None = None) -> None:
        data = {"version": 1, "dir": str(self.ctx.dir), "services": [h.to_state() for h in self.handles.values()]}
        data |= {"skipped": self.skipped, **(extra or {})}
        tmp = self.ctx.dir / f".{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, self.ctx.dir / STATE_FILE)  # atomic: `down` never reads half a file


def _moto(ctx: SandboxContext) -> ServiceHandle:
    handle = moto.start(ctx)
    aws_seed.warm({**ctx.values, **handle.env})
    return handle


def _temporal_worker(ctx: SandboxContext, handles: dict[str, ServiceHandle]) -> ServiceHandle:
    # Through the TLS front when there is one (proves it works end to end), else straight to the server.
    return workers.start_temporal_worker(ctx, handles["temporal"], via=handles.get("temporal-tls"))


def _merge(vals: dict[str, str], handles: dict[str, ServiceHandle]) -> tuple[dict[str, str], dict[str, str]]:
    backend = dict(vals)
    for name, owned in _OWNED.items():
        if name not in handles:
            for var in owned:
                backend.pop(var, None)
    worker: dict[str, str] = {}
    for name in _ORDER:
        if name in handles:
            backend.update(handles[name].env)
            worker.update(handles[name].worker_env)
    return backend, worker


def _prepare(folder: Path) -> None:
    state = _load_state(folder)
    if state and any(ServiceHandle.from_state(s).alive() for s in state.get("services", [])):
        raise SandboxRunning(
            f"a sandbox is already running in {folder}; stop it first: preflight sandbox down --dir {folder}"
        )
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)  # postgres and nginx workers run as other accounts and must reach their files
    for name in _OURS:  # only what we create: --dir may point at a folder holding other files
        path = folder / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _load_state(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / STATE_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise PreflightError(f"{folder / STATE_FILE}: unreadable sandbox state: {e}") from None
    return data if isinstance(data, dict) else None


def _stop_all(handles: list[ServiceHandle]) -> None:
    # Concurrently: each stop may wait for a graceful shutdown, and one after another adds up.
    with ThreadPoolExecutor(max_workers=max(1, len(handles))) as pool:
        list(pool.map(lambda h: h.stop(), reversed(handles)))
