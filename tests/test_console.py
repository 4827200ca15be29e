"""The console as a person sees it: the real CLI under a pseudo-terminal at 80 and 200 columns, with and without colour.

The bytes the CLI writes are played into pyte (a VT100 emulator), so the test sees the screen a
person sees: the live progress display drawn and erased, then the report. A failing run must show
every FAIL within the first screen (50 rows), wrap at the terminal's width without splitting words,
put `preflight explain <id>` on its own line and end with the verdict; NO_COLOR turns colour off,
FORCE_COLOR turns it on in a pipe; --help reads as words.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pyte
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "manifests" / "example.prod.env"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def under_pty(argv: list[str], cols: int, rows: int = 50, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run `preflight argv` with stdout and stderr on a pseudo-terminal of cols x rows; (exit code, output)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")}
    proc = subprocess.Popen([sys.executable, "-m", "filot_preflight", *argv], stdin=slave, stdout=slave,
                            stderr=slave, env={**base, "TERM": "xterm-256color", **(env or {})}, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=30), b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def colours(text: str) -> set[int]:
    """The foreground/background colour codes (SGR 30-49, 90-107) that `text` sets."""
    codes = set()
    for params in re.findall(r"\x1b\[([0-9;]*)m", text):
        codes |= {int(p) for p in params.split(";") if p and (30 <= int(p) <= 49 or 90 <= int(p) <= 107)}
    return codes


def lines_of(raw: str, cols: int) -> list[str]:
    """The screen after playing `raw` into a terminal `cols` wide (tall enough that nothing scrolls away)."""
    screen = pyte.Screen(cols, 400)
    stream = pyte.Stream(screen)
    stream.feed(raw.replace("\n", "\r\n"))
    lines = [ln.rstrip() for ln in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return lines


@pytest.mark.parametrize("cols", [80, 200])
def test_failing_run_fits_the_terminal_and_shows_every_fail_first(cols: int) -> None:
    code, out = under_pty(["check", "--offline", "--env-file", str(EXAMPLE)], cols)
    assert code == 1
    assert "\x1b[" in out  # a terminal gets colour
    lines = lines_of(out, cols)
    assert all(len(ln) <= cols for ln in lines), max(lines, key=len)
    fails = [i for i, ln in enumerate(lines) if re.match(r"\s+FAIL\s", ln)]
    assert len(fails) == 4 and max(fails) < 50  # every FAIL within the first screen
    assert lines[0].startswith("Blocking (4)")
    # links on their own line; the verdict is last (it may wrap at 80 columns)
    assert all(re.fullmatch(r"\s+more: preflight explain [\w.<>-]+", ln) for ln in lines if "explain" in ln)
    tail = " ".join(" ".join(lines[-3:]).split())
    assert tail.endswith("8 skip (5 not applicable)") and "NOT READY for production" in tail
    # words are never split: every word of the summaries appears whole
    text = "\n".join(lines)
    for word in ("rediss://", "filot/prod/jwt-secret", "BULI2_SIGNATURE_SECRET"):
        assert word in text
    if cols == 200:
        assert max(len(ln) for ln in lines) > 80  # the width is used, not a fixed 80 or 120


def test_no_color_and_force_color() -> None:
    code, out = under_pty(["check", "--offline", "--env-file", str(EXAMPLE)], 100)
    assert colours(out), "a terminal gets colour"
    _, out = under_pty(["check", "--offline", "--env-file", str(EXAMPLE)], 100, env={"NO_COLOR": "1"})
    assert not colours(out), "NO_COLOR ignored"  # (bold and dim are not colours: no-color.org)
    piped = subprocess.run([sys.executable, "-m", "filot_preflight", "check", "--offline", "--env-file", str(EXAMPLE)],
                           capture_output=True, text=True, env={**os.environ, "FORCE_COLOR": "1"})
    assert colours(piped.stdout), "FORCE_COLOR ignored"
    plain = subprocess.run([sys.executable, "-m", "filot_preflight", "check", "--offline", "--env-file", str(EXAMPLE)],
                           capture_output=True, text=True, env={k: v for k, v in os.environ.items()
                                                               if k != "FORCE_COLOR"})
    assert "\x1b[" not in plain.stdout and "\x1b[" not in plain.stderr  # a pipe gets no colour and no progress


def test_help_reads_as_words_and_a_bare_group_says_what_it_wants() -> None:
    _, out = under_pty(["check", "--help"], 120)
    text = ANSI.sub("", out)
    for typer_type in ("<bool>", "<list[str]>", "<float range>", "<path>", "<str>"):
        assert typer_type not in text
    assert "CHECKER" in text and "SECONDS" in text and "SERVICE=PATH" in text
    code, out = under_pty(["schema"], 100)
    assert code == 2 and "missing command; choose one of: results, manifest" in ANSI.sub("", out)


def test_live_progress_is_cleared_when_done(tmp_path: Path) -> None:
    code, out = under_pty(["check", "--offline", "--env-file", str(EXAMPLE)], 80)
    # the live display writes to the terminal and erases itself: no progress line survives in the final text
    assert "checker(s) done" in out  # it was drawn ...
    final = lines_of(out, 80)
    assert not any("checker(s) done" in ln or "running" in ln for ln in final)  # ... and erased
    assert final[0].startswith("Blocking (4)") and code == 1
