"""Atomic file writes (an interrupted run never leaves a half-written report), and temp files that go away."""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
from pathlib import Path

# Temp files made for this process (CA bundles for drivers that take one file path); removed at exit.
_TEMP_FILES: set[str] = set()


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to a temp file beside `path`, fsync, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes 0600 files; a report should get the mode an ordinary write would give it.
        os.chmod(tmp, _existing_mode(path))
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _existing_mode(path: Path) -> int:
    """The mode of the file being replaced, else 0666 less the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def temp_file(data: str, prefix: str, suffix: str = ".pem") -> str:
    """A private (0600) temp file holding `data`, removed when the process ends; returns its path.

    Removed by `remove_temp_files`, which runs at interpreter exit and which the console script calls
    before its fast exit (os._exit skips atexit): a CA bundle written on every run must not pile up in
    /tmp (it did: ~220 KB per `preflight check` with --ca-file, never deleted). A caller that knows when
    it is done may still delete the file itself.
    """
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix)
    with os.fdopen(fd, "w") as f:
        f.write(data)
    if not _TEMP_FILES:
        atexit.register(remove_temp_files)
    _TEMP_FILES.add(name)
    return name


def remove_temp_files() -> None:
    """Delete every temp file `temp_file` made that is still there."""
    for name in list(_TEMP_FILES):
        with contextlib.suppress(OSError):
            os.unlink(name)
        _TEMP_FILES.discard(name)
