"""Process lifecycle for sandbox servers: start detached, recognise our own pids, stop them for sure.

A pid alone is not an identity (the kernel reuses them), so every recorded pid goes with its start
time from /proc, and nothing is signalled unless both match.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path


def spawn(
    argv: list[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start a server process detached from our terminal (own session), output appended to `log`.

    Its own session means Ctrl-C in the shell that ran `sandbox up` does not kill it, and it outlives
    the `up` command; `down` stops it by pid. `user` runs it as that account (root only), e.g. postgres,
    which refuses to run as root; the pid is then still the server itself, not a wrapper like runuser.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=full_env,
            start_new_session=True,
            close_fds=True,
            user=user,
            group=pwd.getpwnam(user).pw_gid if user else None,
            extra_groups=[] if user else None,
        )


def python_module(
    module: str, args: list[str], env: Mapping[str, str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """argv and env for `spawn` to run `python -m module args` with this interpreter, able to import
    filot_preflight even uninstalled.

    `-m` (not a script path) keeps the sandbox folder off sys.path, where `redis.py` would shadow redis-py.
    """
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return [sys.executable, "-m", module, *args], {**(env or {}), "PYTHONPATH": path}


def spawn_python(
    module: str, args: list[str], log: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """`spawn` of `python -m module args` (see `python_module`)."""
    argv, full_env = python_module(module, args, env)
    return spawn(argv, log, env=full_env, cwd=cwd)


def process_start_time(pid: int) -> int | None:
    """The kernel's start time of `pid` (clock ticks since boot), None if unknown or gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (comm) may contain spaces and parentheses; fields after the last ')' are well defined.
    rest = stat[stat.rfind(")") + 2 :].split()
    return int(rest[19])


def is_alive(pid: int, start_time: int | None = None) -> bool:
    """Whether `pid` runs and (if `start_time` is known) is the same process we started."""
    current = process_start_time(pid)
    if current is None:
        return _signal_alive(pid)
    if _is_zombie(pid):
        return False
    return start_time is None or current == start_time


def _signal_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].startswith("Z")


def stop_pids(
    pids: Iterable[int],
    start_times: Mapping[int, int | None],
    sig: int = signal.SIGTERM,
    timeout: float = 10.0,
) -> None:
    """Send `sig` to each of our processes, wait up to `timeout`, then SIGKILL what is left."""
    ours = [p for p in pids if is_alive(p, start_times.get(p))]
    for pid in ours:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(ours)
        ours = [p for p in ours if is_alive(p, start_times.get(p))]
        if not ours:
            return
        time.sleep(0.05)
    for pid in ours:
        _kill_hard(pid)
    _reap(ours)


def _kill_hard(pid: int) -> None:
    """SIGKILL `pid`, and its whole process group when it leads one (spawn gives each its own).

    A killed nginx master or postmaster cannot take its workers down with it; the group can.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)


def _reap(pids: Iterable[int]) -> None:
    # Processes started by this very Python process linger as zombies until waited for.
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
