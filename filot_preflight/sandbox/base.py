"""The sandbox's shared interface: what a service module returns, and the helpers every module uses.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filot_preflight.errors import PreflightError
from filot_preflight.sandbox.procs import (
    is_alive,
    process_start_time,
    python_module,
    spawn,
    spawn_python,
    stop_pids,
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


class MissingBinary(PreflightError):
    """A server binary is not installed. The message is one line that ends with the install command."""

    def __init__(self, binary: str, install: str) -> None:
        self.binary = binary
        self.install = install
        super().__init__(f"{binary} not found; install it with: {install}")


class ServiceStartError(RuntimeError):
    """An installed service did not come up in time (or exited). Names its log file."""


@dataclass(frozen=True)
class Certs:
    """PEM files (absolute paths) of the sandbox CA and the server certificate for localhost/127.0.0.1."""

    ca_pem: Path
    server_crt: Path
    server_key: Path
    ca_key: Path | None = None  # kept so that fault tests can sign expired / wrong-host certs with this CA


@dataclass
class ServiceHandle:
    """One started service: how to reach it, how to tell it is ready, how to stop it.

    `env` is merged into the backend's env file (`sandbox.env`), `worker_env` into the GPU worker's
    (`gpu-worker.env`); a variable the worker shares with the backend needs only to be in `env`.
    """

    name: str
    pids: list[int]
    ports: dict[str, int] = field(default_factory=dict)
    log: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    worker_env: dict[str, str] = field(default_factory=dict)
    ready: Callable[[], bool] | None = None
    stop_signal: int = signal.SIGTERM
    # Shown by `status` (url, endpoint, ...); never secrets. "scratch": a folder to delete on stop.
    info: dict[str, str] = field(default_factory=dict)
    # Start times guard against pid reuse: `stop` never signals a process that is not the one we started.
    start_times: dict[int, int | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for pid in self.pids:
            self.start_times.setdefault(pid, process_start_time(pid))

    def is_ready(self) -> bool:
        """Whether the service answers (its readiness check, or all its processes alive if it has none)."""
        if self.ready is not None:
            try:
                return self.ready()
            except Exception:
                return False
        return self.alive()

    def alive(self) -> bool:
        """Whether every process of the service is still running."""
        return all(is_alive(pid, self.start_times.get(pid)) for pid in self.pids)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the service's processes (its stop signal, then SIGKILL after `timeout`).

        Then removes `info["scratch"]`, a folder the service had to keep outside the sandbox folder.
        """
        stop_pids(self.pids, self.start_times, self.stop_signal, timeout)
        scratch = self.info.get("scratch")
        if scratch and not self.alive():
            shutil.rmtree(scratch, ignore_errors=True)

    def to_state(self) -> dict[str, Any]:
        """The JSON-able record that `stack.down` needs to stop exactly these processes."""
        return {
            "name": self.name,
            "pids": [{"pid": p, "start_time": self.start_times.get(p)} for p in self.pids],
            "ports": self.ports,
            "log": str(self.log) if self.log else None,
            "stop_signal": int(self.stop_signal),
            "info": self.info,
        }

    @classmethod
    def from_state(cls, data: Mapping[str, Any]) -> ServiceHandle:
        """Rebuild a handle (without readiness check or env) from `to_state()` output."""
        pids = [int(p["pid"]) for p in data["pids"]]
        times = {int(p["pid"]): p.get("start_time") for p in data["pids"]}
        return cls(
            name=str(data["name"]),
            pids=pids,
            ports={k: int(v) for k, v in data.get("ports", {}).items()},
            log=Path(data["log"]) if data.get("log") else None,
            stop_signal=int(data.get("stop_signal", signal.SIGTERM)),
            info=dict(data.get("info", {})),
            start_times=times,
        )


@dataclass
class SandboxContext:
    """What every service module needs: the state folder, the certs, and values chosen up front.

    `values` holds the generated manifest values (secrets, bucket and queue names, account id) so
    that servers are configured with the same values the env files carry.
    """

    dir: Path
    certs: Certs
    values: dict[str, str] = field(default_factory=dict)

    def state_dir(self, name: str) -> Path:
        """A folder for one service's state (created)."""
        d = self.dir / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    def log_path(self, name: str) -> Path:
        """The log file of one service."""
        d = self.dir / "logs"
        d.mkdir(parents=True, exist_ok=True)
        return d / f"{name}.log"


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
