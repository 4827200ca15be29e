"""The sandbox's shared interface: the helpers every service module uses, and what it returns (`service`).

A service module exposes `start(ctx: SandboxContext) -> ServiceHandle`. It chooses free ports with
`free_port()`, then `launch()` starts its process (`spawn()`), waits until it answers (`wait_ready()`)
and returns a handle that says how to reach it (`env` / `worker_env` contributions to the two env
files) and how to stop it.
A missing binary is `MissingBinary` (one line with the install command, exit 2), never a traceback.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from filot_preflight.sandbox.procs import (
    is_alive,
    process_start_time,
    python_module,
    spawn,
    spawn_python,
    stop_pids,
)
from filot_preflight.sandbox.service import (
    Certs,
    MissingBinary,
    SandboxContext,
    ServiceHandle,
    ServiceStartError,
)

# Re-exported: service modules import everything they need from `base`.
__all__ = [
    "LOOPBACK",
    "Certs",
    "MissingBinary",
    "SandboxContext",
    "ServiceHandle",
    "ServiceStartError",
    "find_binary",
    "free_port",
    "is_alive",
    "launch",
    "port_open",
    "process_start_time",
    "python_module",
    "spawn",
    "spawn_python",
    "stop_pids",
    "wait_ready",
    "wait_until",
]

LOOPBACK = "127.0.0.1"


# --- ports ---------------------------------------------------------------------------------------

_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port free right now on `host`, never one already handed out by this process.

    The kernel may give the same ephemeral port to two callers between `close()` and the server's
    `bind()`; remembering what we handed out removes that race between our own concurrent starts.
    """
    with _ports_lock:
        for _ in range(50):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((host, 0))
                port = int(s.getsockname()[1])
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise ServiceStartError("no free TCP port found on loopback")


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# --- waiting -------------------------------------------------------------------------------------


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    interval: float = 0.05,
    what: str = "",
    abort: Callable[[], str | None] | None = None,
) -> None:
    """Poll `predicate` until it returns true; raise ServiceStartError after `timeout` seconds.

    An exception in the predicate counts as "not yet" (a server that is still binding refuses).
    `abort` returning a reason ends the wait at once (e.g. the server process already exited).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:  # noqa: S110 - not ready yet; the timeout reports it
            pass
        reason = abort() if abort is not None else None
        if reason:
            raise ServiceStartError(reason)
        if time.monotonic() >= deadline:
            raise ServiceStartError(f"{what or 'condition'} not met within {timeout:.0f}s")
        time.sleep(interval)


def wait_ready(handle: ServiceHandle, timeout: float = 30.0, proc: subprocess.Popen[Any] | None = None) -> None:
    """Wait until `handle` answers; fail fast (naming its log) if its process exits first.

    On failure the handle is stopped, so a half-started service never lingers.
    """

    def exited() -> str | None:
        if proc is not None and proc.poll() is not None:
            return f"{handle.name} exited with code {proc.returncode} during start"
        return None

    try:
        wait_until(handle.is_ready, timeout, what=f"{handle.name} answering", abort=exited)
    except ServiceStartError as e:
        handle.stop(timeout=2)
        raise ServiceStartError(f"{e}{_log_hint(handle.log)}") from None


def launch(
    ctx: SandboxContext,
    name: str,
    argv: list[str],
    timeout: float,
    *,
    ready: Callable[[], bool],
    ports: dict[str, int] | None = None,
    env: dict[str, str] | None = None,
    info: dict[str, str] | None = None,
    stop_signal: int = signal.SIGTERM,
    proc_env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> ServiceHandle:
    """Start service `name` (`argv`, output appended to its log) and return its handle once `ready` answers.

    `ports`, `env`, `info`, `stop_signal` go into the handle; `proc_env`, `cwd` and `user` to `spawn`.
    A service that does not answer within `timeout` (or exits) is stopped: ServiceStartError names its log.
    """
    log = ctx.log_path(name)
    proc = spawn(argv, log, env=proc_env, cwd=cwd, user=user)
    handle = ServiceHandle(name=name, pids=[proc.pid], ports=ports or {}, log=log, env=env or {}, ready=ready,
                           stop_signal=stop_signal, info=info or {})
    wait_ready(handle, timeout, proc)
    return handle


def _log_hint(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    last = f": {lines[-1][:200]}" if lines else ""
    return f" (log {log}{last})"


# --- processes -----------------------------------------------------------------------------------


def find_binary(name: str, install: str, extra_dirs: Iterable[str | Path] = ()) -> str:
    """Absolute path of `name`: beside sys.executable (the venv's bin), on PATH, then in `extra_dirs`.

    The venv's bin comes first because pip-installed servers (temporal, weed, moto_server) live there
    even when the venv is not activated. Raises MissingBinary carrying `install`.
    """
    venv_bin = Path(sys.executable).parent  # not resolved: a venv's python is a symlink out of the venv
    candidates = [str(venv_bin), os.environ.get("PATH", ""), *map(str, extra_dirs)]
    found = shutil.which(name, path=os.pathsep.join(c for c in candidates if c))
    if found is None:
        raise MissingBinary(name, install)
    return found
