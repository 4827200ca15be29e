"""Issue 14 item 8: bad numbers and patterns are bad input (exit 2, one line), never a run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests._cli import run

ROOT = Path(__file__).resolve().parents[1]
ENV = str(ROOT / "manifests" / "example.prod.env")
BAD = ["-5", "nan", "inf", "1e308"]


def _one_line_exit_2(code: int, err: str, needle: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert needle in err, err


@pytest.mark.parametrize("value", BAD)
def test_timeout_from_config_env_envfile_and_flag(capsys, tmp_path, monkeypatch, value):
    monkeypatch.delenv("PREFLIGHT_TIMEOUT", raising=False)
    monkeypatch.delenv("PREFLIGHT_DEADLINE", raising=False)
    cfg = tmp_path / "preflight.toml"
    cfg.write_text(f"timeout = {value.replace('1e308', '1e308')}\n")
    base = ["check", "--offline", "--only", "secrets", "--env-file", ENV]
    _one_line_exit_2(*run(capsys, *base, "--config", str(cfg))[::2], "timeout")
    monkeypatch.setenv("PREFLIGHT_TIMEOUT", value)
    _one_line_exit_2(*run(capsys, *base)[::2], "PREFLIGHT_TIMEOUT")
    monkeypatch.delenv("PREFLIGHT_TIMEOUT")
    env_file = tmp_path / "s.env"
    env_file.write_text(f"PREFLIGHT_TIMEOUT={value}\n")
    _one_line_exit_2(*run(capsys, *base, "--env-file", str(env_file))[::2], "PREFLIGHT_TIMEOUT")
    _one_line_exit_2(*run(capsys, *base, f"--timeout={value}")[::2], "timeout")


@pytest.mark.parametrize("value", ["nan", "inf", "1e308"])
def test_deadline_nan_from_flag_env_and_config(capsys, tmp_path, monkeypatch, value):
    monkeypatch.delenv("PREFLIGHT_DEADLINE", raising=False)
    base = ["check", "--offline", "--only", "secrets", "--env-file", ENV]
    _one_line_exit_2(*run(capsys, *base, f"--deadline={value}")[::2], "deadline")
    monkeypatch.setenv("PREFLIGHT_DEADLINE", value)
    _one_line_exit_2(*run(capsys, *base)[::2], "deadline")
    monkeypatch.delenv("PREFLIGHT_DEADLINE")
    cfg = tmp_path / "preflight.toml"
    cfg.write_text(f"deadline = {value}\n")
    _one_line_exit_2(*run(capsys, *base, "--config", str(cfg))[::2], "deadline")


def _manifest(tmp_path: Path, change: Any) -> Path:
    doc = yaml.safe_load((ROOT / "manifests" / "filot.yaml").read_text(encoding="utf-8"))
    change(doc)
    p = tmp_path / "m.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def _var(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(v for v in doc["variables"] if v["name"] == name)


@pytest.mark.parametrize("n", [0, -1, 2e9])
def test_generate_bytes_out_of_range(capsys, tmp_path, n):
    p = _manifest(tmp_path, lambda d: _var(d, "JWT_SECRET")["generate"].update(bytes=n))
    _one_line_exit_2(*run(capsys, "manifest", "validate", str(p))[::2], "generate.bytes")


def test_invalid_regex_fails_validate_naming_the_field(capsys, tmp_path):
    p = _manifest(tmp_path, lambda d: _var(d, "STACK_PROJECT_ID")["format"].update(pattern="([0-9"))
    _one_line_exit_2(*run(capsys, "manifest", "validate", str(p))[::2], "format.regex.pattern")


def test_catastrophic_regex_is_bounded(capsys, tmp_path, monkeypatch):
    p = _manifest(tmp_path, lambda d: _var(d, "STACK_PROJECT_ID")["format"].update(pattern="(a|aa)+"))
    env_file = tmp_path / "e.env"
    env_file.write_text(Path(ENV).read_text() + "\nSTACK_PROJECT_ID=" + "a" * 60 + "!\n")
    t0 = time.monotonic()
    code, out, err = run(capsys, "check", "--offline", "--only", "secrets", "-m", str(p), "--env-file",
                         str(env_file), "--format", "json", "--show-pass")
    assert time.monotonic() - t0 < 30
    assert code == 1 and "took over" in out, err


@pytest.mark.parametrize("prefix", ["", "/", "docs", "../x/", "a b/"])
def test_canary_prefix_must_be_a_plain_folder(capsys, tmp_path, prefix):
    p = _manifest(tmp_path, lambda d: d.setdefault("checks", {}).setdefault("r2", {}).update(canary_prefix=prefix))
    _one_line_exit_2(*run(capsys, "manifest", "validate", str(p))[::2], "checks.r2.canary_prefix")
