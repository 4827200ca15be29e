"""`preflight explain ID`: every id a result can carry is explained from the docs inside the package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from filot_preflight import explain
from tests._cli import run

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("rid", "heading"),
    [("redis.tls", "redis.tls"), ("redis.timeout", "<checker>.timeout"), ("plugin.release_freeze", "plugin.<name>"),
     ("waiver.unmatched", "waiver.unmatched"), ("secrets.missing", "secrets.missing")],
)
def test_explain_prints_the_section_of_an_id(capsys, rid: str, heading: str) -> None:
    code, out, _ = run(capsys, "explain", rid)
    assert code == 0
    assert out.startswith(f"## {heading}\n") and "Fix" in out and "&lt;" not in out


def test_an_unknown_id_is_bad_input_with_a_suggestion(capsys) -> None:
    code, out, err = run(capsys, "explain", "redis.tsl")
    assert code == 2 and not out
    assert "no such result id; did you mean redis.tls" in err and len(err.strip().splitlines()) == 1


def test_a_checker_name_lists_its_ids(capsys) -> None:
    code, out, _ = run(capsys, "explain", "postgres")
    assert code == 0 and "- postgres.migration" in out


def test_every_docs_link_a_result_can_carry_resolves() -> None:
    # the runner links results to docs/checks/<page>.md#<anchor>; explain finds each heading by id
    for section in explain._sections(explain.docs_dir()):
        assert explain.lookup(section.heading).heading == section.heading


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "python").exists(), reason="needs the project venv (hatchling)")
def test_the_wheel_ships_the_docs(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("filot_preflight-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "filot_preflight/_data/docs/checks/redis.md" in names
    assert "filot_preflight/_data/docs/checks/core.md" in names
