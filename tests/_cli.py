"""Running the real CLI in-process from a test."""

from __future__ import annotations

import pytest

from filot_preflight import cli


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`preflight argv...` through `cli.main`: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as e:
        cli.main(list(argv))
    out = capsys.readouterr()
    return int(e.value.code or 0), out.out, out.err
