"""Issue 14 item 4: special files as input are refused with one line (exit 2), never read forever or hang."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from filot_preflight.checkers.temporal import _client_pair
from filot_preflight.errors import PreflightError
from filot_preflight.fileio import InputFileError, read_limited
from tests._timing import within

ROOT = Path(__file__).resolve().parents[1]
ENV = str(ROOT / "manifests" / "example.prod.env")


@pytest.fixture()
def fifo(tmp_path: Path) -> Path:
    p = tmp_path / "fifo"
    os.mkfifo(p)
    return p


def _argv(kind: str, path: str, saved: str) -> list[str]:
    return {
        "env file": ["check", "--offline", "--env-file", path],
        "manifest": ["manifest", "validate", path],
        "config": ["check", "--offline", "--env-file", ENV, "--config", path],
        "task definition": ["check", "--offline", "--env-file", ENV, "--task-def", path],
        "results (render)": ["render", path],
        "results (diff)": ["diff", saved, path],
        "results (report --from)": ["report", "--from", path, "-o", str(Path(saved).parent / "docs")],
        "--ca-file": ["check", "--only", "redis", "--env-file", ENV, "--ca-file", path],
    }[kind]


KINDS = ["env file", "manifest", "config", "task definition", "results (render)", "results (diff)",
         "results (report --from)", "--ca-file"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "dir"])
def test_special_files_are_one_line_exit_2(tmp_path, fifo, kind, special):
    saved = tmp_path / "saved.json"
    saved.write_text('{"results": []}')
    path = {"/dev/zero": "/dev/zero", "fifo": str(fifo), "dir": str(tmp_path)}[special]
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "filot_preflight", *_argv(kind, path, str(saved))],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "not a regular file" in proc.stderr, proc.stderr
    assert time.monotonic() - t0 < 30


def test_size_counts_bytes_read_not_the_reported_size(tmp_path):
    with pytest.raises(InputFileError, match="is a character device"):
        read_limited("/dev/zero", 100, "env file")
    big = tmp_path / "big"
    big.write_bytes(b"x" * 101)
    with pytest.raises(InputFileError, match="the limit is 100"):
        read_limited(big, 100, "env file")
    assert read_limited(big, 101, "env file") == b"x" * 101
    # /proc files report size 0 but have content: read up to the limit, never past it
    with pytest.raises(PreflightError, match="the limit is 5"):
        read_limited("/proc/self/status", 5, "x", PreflightError)


def test_a_fifo_named_by_a_value_does_not_block(fifo, tmp_path):
    t0 = time.monotonic()
    cert, key, err = _client_pair(str(fifo), str(fifo))
    assert cert is None and err and "TEMPORAL_TLS_CERT" in err
    within(time.monotonic() - t0, 2, "a FIFO read")
    cert, key, err = _client_pair("/dev/zero", "/dev/zero")
    assert cert is None and err


def test_ca_file_that_is_a_fifo_is_a_result_not_a_hang(fifo):
    from filot_preflight.net import tls as _tls

    t0 = time.monotonic()
    with pytest.raises(OSError, match="not a regular file"):
        _tls.client_context([fifo])
    within(time.monotonic() - t0, 2, "a FIFO read")
