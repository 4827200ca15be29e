"""The cyclic garbage collector pauses while the process imports and builds what it keeps until exit.

Start-up and the client libraries' imports allocate millions of objects that live as long as the
process, and every collection they trigger traverses all of them again: ~8% of a full check's CPU
(0.13 s of CPU and of wall time, medians of 14 runs). The console script (`entry.run`) pauses the
collector before the CLI's imports; the runner resumes it once the libraries are in, freezing what
exists then (never traversed again; the few cycles of start-up garbage among it are kept, once per
process). A command that never runs checks is short-lived.
"""

from __future__ import annotations

import gc

_paused: list[bool] = []


def pause() -> None:
    """Stop automatic collections until `resume` (no-op if they are off already, e.g. an embedding app's choice)."""
    if gc.isenabled() and not _paused:
        gc.disable()
        _paused.append(True)


def resume() -> None:
    """Freeze what the paused start-up built and collect automatically again (only if `pause` stopped it)."""
    if _paused:
        _paused.clear()
        gc.freeze()
        gc.enable()
