"""What the sandbox's service modules start in and give back: context, certificates, handles, errors.

`SandboxContext` (state folder, certificates, values chosen up front) goes into every `start`;
a `ServiceHandle` comes out (how to reach the service, how to tell it is ready, how to stop it).
Service modules import these through `sandbox.base`, with the helpers.
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filot_preflight.errors import PreflightError
from filot_preflight.sandbox.procs import is_alive, process_start_time, stop_pids


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
