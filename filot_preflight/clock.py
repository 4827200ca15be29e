"""When the current run started: `--timeout` and `--deadline` count from there, start-up included.

A `preflight` process runs one command, and its run starts with the process (`filot_preflight.STARTED`):
reading the inputs and importing the client libraries are part of what the user waits for. `cli.run`
(behind the console script) marks that moment; the first run of the process takes it. Every later run in the
same process (each `watch` cycle, the CLI called in-process by a test or an embedding app) starts when
it is called.
"""

from __future__ import annotations

import threading
import time

_lock = threading.Lock()
_mark: list[float] = []


def mark(at: float) -> None:
    """The process's command started at `at` (time.monotonic()): the next run counts from there."""
    with _lock:
        _mark[:] = [at]


def take() -> float:
    """The start of the run beginning now: the mark left by `mark` (once), else now."""
    with _lock:
        return _mark.pop() if _mark else time.monotonic()
