"""Safe file I/O: bounded reads of regular files only, output that never clobbers a special file, temp files.

Reads: every input file (env file, manifest, config, task definition, saved results, a file a value names)
goes through `read_limited`, which refuses anything but a regular file before opening it (a FIFO would
block, /dev/zero would never end) and counts the bytes actually read, not the size the file reports
(0 for devices and /proc files).

Writes: `write_output_file` replaces a regular file atomically (an interrupted run never leaves a
half-written report); a character device (/dev/null), a FIFO or an alias of stdout/stderr (/dev/stdout,
/dev/fd/1, /proc/self/fd/1, a symlink to one) is written in place, since renaming a file over it would
replace the device with a regular file. A directory or an unwritable path is bad input (exit 2).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from filot_preflight.errors import PreflightError

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


class OutputFileError(PreflightError):
    """An output path that cannot be written (a directory, no permission, a missing device)."""


class InputFileError(PreflightError, OSError):
    """An input file that is not a regular file, or larger than its limit.

    An OSError too: code that reads a file a value names (a CA bundle, a client certificate) already
    turns an unreadable file into a result with its fix, and a FIFO or /dev/zero is one more such file.
    """


MAX_PEM_BYTES = 4 * 1024 * 1024  # the system CA bundle is ~220 KB


def read_pem(path: Path | str, what: str = "PEM file") -> str:
    """A CA bundle, certificate or key file as text, bounded and from a regular file only."""
    return read_limited(path, MAX_PEM_BYTES, what).decode("ascii", errors="ignore")


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str:
    """'a directory', 'a FIFO (named pipe)', ... for a non-regular file's st_mode; '' for a regular file."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "" if stat.S_ISREG(mode) else "not a regular file"


def read_limited(path: Path | str, limit: int, what: str, error: type[PreflightError] = InputFileError) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them, or `error` naming the file.

    The file's kind is checked before it is opened (opening a FIFO for reading blocks until a writer
    comes), and again on the open descriptor (the path may have been swapped in between); the open is
    non-blocking for the same reason. The size limit counts bytes read, so a device or /proc file that
    reports 0 bytes cannot grow past it. An OSError (missing file, no permission) is raised as is for the
    caller to word; a file of the wrong kind or size raises `error`.
    """
    p = Path(path)
    try:
        kind = file_kind(os.stat(p).st_mode)
    except ValueError:  # a NUL byte in the path
        raise error(f"{p!r}: cannot read {what}: the path holds a NUL byte") from None
    if kind:
        raise error(f"{p}: {what} is {kind}, not a regular file")
    fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        kind = file_kind(os.fstat(fd).st_mode)
        if kind:
            raise error(f"{p}: {what} is {kind}, not a regular file")
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    if total > limit:
        raise error(f"{p}: {what} is more than {limit} bytes; the limit is {limit}")
    return b"".join(chunks)


def write_output_file(path: Path | str, text: str) -> None:
    """Write `text` to `path`: atomically for a regular (or new) file, in place for a device, FIFO or stdout.

    Any failure is an OutputFileError (one line, exit 2) naming the path.
    """
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        st = None
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the path
        raise OutputFileError(f"{p!r}: cannot write: {getattr(e, 'strerror', None) or e}") from None
    try:
        stream = _std_stream(st)
        if stream is not None:  # /dev/stdout, /dev/fd/1, /proc/self/fd/1, a symlink to one
            stream.write(text)
            stream.flush()
        elif st is not None and stat.S_ISDIR(st.st_mode):
            raise OutputFileError(f"{p}: is a directory; give a file name")
        elif st is not None and not stat.S_ISREG(st.st_mode):  # /dev/null, a FIFO: never rename over it
            with open(p, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        else:
            # A symlink to a regular file: replace the file it points to, keep the link.
            atomic_write(Path(os.path.realpath(p)) if st is not None else p, text)
    except OSError as e:
        raise OutputFileError(f"{p}: cannot write: {e.strerror or e}") from None


def _std_stream(st: os.stat_result | None) -> TextIO | None:
    """stdout or stderr when `st` is the very file they write to (same device and inode), else None."""
    if st is None:
        return None
    for stream in (sys.stdout, sys.stderr):
        try:
            own = os.fstat(stream.fileno())
        except (OSError, ValueError, AttributeError):
            continue
        if (own.st_dev, own.st_ino) == (st.st_dev, st.st_ino):
            return stream
    return None


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


def sweep_stale_dirs(prefix: str, max_age_s: float = 600.0) -> int:
    """Remove this user's `<tmp>/<prefix>*` folders older than `max_age_s`; returns how many were removed.

    For copies of a private key that the ssl module can only read from a file: a run killed (SIGKILL)
    during the handshake cannot clean up, so the next run does. Only folders owned by this user, and old
    enough that no other run can still be using them, are removed.
    """
    import shutil
    import time

    removed = 0
    base = Path(tempfile.gettempdir())
    now = time.time()
    for d in base.glob(f"{prefix}*"):
        try:
            st = d.lstat()
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or now - st.st_mtime < max_age_s:
                continue
            shutil.rmtree(d)
            removed += 1
        except OSError:
            continue
    return removed


def remove_temp_files() -> None:
    """Delete every temp file `temp_file` made that is still there."""
    for name in list(_TEMP_FILES):
        with contextlib.suppress(OSError):
            os.unlink(name)
        _TEMP_FILES.discard(name)
