"""Issue 14 item 2: -o / --save replace regular files atomically and never a device, FIFO or stdout alias."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from filot_preflight.fileio import OutputFileError, write_output_file
from tests._cli import run

ROOT = Path(__file__).resolve().parents[1]


def test_dev_null_stays_a_character_device():
    write_output_file(Path("/dev/null"), "report\n")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_symlink_to_a_device_is_written_through(tmp_path):
    link = tmp_path / "out"
    link.symlink_to("/dev/null")
    write_output_file(link, "x")
    assert link.is_symlink() and stat.S_ISCHR(os.stat(link).st_mode)


def test_symlink_to_a_regular_file_keeps_the_link(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_output_file(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_fifo_is_written_in_place(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_output_file(fifo, "through the pipe")
    reader.join(10)
    assert got == [b"through the pipe"] and stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("alias", ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1", "link"])
def test_stdout_aliases_print_the_report(tmp_path, alias):
    if alias == "link":
        (tmp_path / "link").symlink_to("/proc/self/fd/1")
        alias = str(tmp_path / "link")
    env_file = ROOT / "manifests" / "example.prod.env"
    for stdout in ("pipe", "file"):
        target = tmp_path / "captured.txt"
        with target.open("w") as f:
            proc = subprocess.run(
                [sys.executable, "-m", "filot_preflight", "check", "--offline", "--only", "secrets",
                 "--env-file", str(env_file), "--format", "json", "-o", alias],
                stdout=subprocess.PIPE if stdout == "pipe" else f, stderr=subprocess.PIPE, text=True, timeout=120,
            )
        out = proc.stdout if stdout == "pipe" else target.read_text()
        assert proc.returncode == 1, proc.stderr
        assert '"results"' in out


def test_directory_and_unwritable_paths_are_one_line_exit_2(capsys, tmp_path):
    env_file = str(ROOT / "manifests" / "example.prod.env")
    for target in (tmp_path, Path("/proc/version"), tmp_path / "nodir" / "\x00bad"):
        code, _, err = run(capsys, "check", "--offline", "--only", "secrets", "--env-file", env_file,
                           "-o", str(target))
        assert code == 2, err
        assert err.count("\n") == 1 and "Traceback" not in err, err
    with pytest.raises(OutputFileError, match="is a directory"):
        write_output_file(tmp_path, "x")


def test_report_documents_into_a_directory_with_a_device_link(tmp_path):
    from filot_preflight.documents.render import write_documents

    out = tmp_path / "docs"
    out.mkdir()
    (out / "a.md").symlink_to("/dev/null")
    write_documents({"a.md": "x", "b.md": "y"}, out)
    assert stat.S_ISCHR(os.stat(out / "a.md").st_mode) and (out / "b.md").read_text() == "y"
