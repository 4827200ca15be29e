"""Issue 14 item 3: a broken plugin can never make the gate pass, nor end the run without a report."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from filot_preflight import manifest
from filot_preflight.checkers.base import CheckContext, Checker, Options, result
from filot_preflight.models import CheckResult, Status
from filot_preflight.redact import Redactor
from filot_preflight.runner import run_checks
from filot_preflight.sources import ValueStore

SECRET = "plugin-canary-secret-4242"


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise ValueError("no text for you")


def _checker(name: str, outcome):  # type: ignore[no-untyped-def]
    async def run(self, ctx):  # type: ignore[no-untyped-def]
        return outcome()

    return type(name.title(), (Checker,), {"name": name, "subsystem": name, "description": name, "run": run})


def _raise(e: BaseException):  # type: ignore[no-untyped-def]
    def go():  # type: ignore[no-untyped-def]
        raise e

    return go


def _ctx() -> CheckContext:
    return CheckContext(manifest=manifest.load(), values=ValueStore(), options=Options(timeout=2.0),
                        redactor=Redactor([SECRET]))


BROKEN = {
    "returns_none": lambda: None,
    "returns_dict": lambda: {"status": "pass"},
    "returns_strings": lambda: ["all good"],
    "returns_unvalidated": lambda: [CheckResult.model_construct(id="x.ok", subsystem="x", status="great",
                                                                summary="ok", target="", detail="",
                                                                remediation="", evidence={})],
    "unprintable": _raise(_Unprintable()),
    "exits_zero": _raise(SystemExit(0)),
    "ctrl_c": _raise(KeyboardInterrupt()),
    "base_exception": _raise(BaseException("odd")),
    "self_cancel": _raise(asyncio.CancelledError()),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_every_broken_outcome_is_an_error_naming_the_checker(name):
    ok = _checker("healthy", lambda: [result("healthy.ok", "healthy", Status.PASS, "fine")])
    outcome = asyncio.run(run_checks([_checker(name, BROKEN[name])(), ok()], _ctx(), handle_signals=False))
    mine = [r for r in outcome.results if r.subsystem == name]
    assert len(mine) == 1 and mine[0].status is Status.ERROR, outcome.results
    assert name in mine[0].summary and mine[0].id.startswith(f"{name}.")
    assert any(r.id == "healthy.ok" for r in outcome.results)  # the run continued
    assert not outcome.interrupted


def test_plugin_fields_are_redacted_like_builtins():
    leak = _checker("leaky", lambda: [
        result("leaky.ok", "leaky", Status.PASS, f"s {SECRET}", target=f"https://u:{SECRET}@h",
               detail=SECRET, remediation=f"rotate {SECRET}", evidence={"k": SECRET})])
    outcome = asyncio.run(run_checks([leak()], _ctx(), handle_signals=False))
    assert SECRET not in json.dumps([r.model_dump() for r in outcome.results])


def _install(folder: Path, code: str, entries: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bad_plugins.py").write_text(textwrap.dedent(code))
    info = folder / "bad_plugins-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bad-plugins\nVersion: 0.1\n")
    lines = "".join(f"{k} = bad_plugins:{v}\n" for k, v in entries.items())
    (info / "entry_points.txt").write_text("[filot_preflight.checkers]\n" + lines)
    return folder


PLUGINS = '''
    import os, sys
    from filot_preflight.checkers.base import Checker

    class _Base(Checker):
        network = False
        description = "broken on purpose"

    class ReturnsNone(_Base):
        name = subsystem = "returns_none"
        async def run(self, ctx):
            return None

    class Exits(_Base):
        name = subsystem = "exits_zero"
        async def run(self, ctx):
            sys.exit(0)

    class Interrupts(_Base):
        name = subsystem = "ctrl_c"
        async def run(self, ctx):
            raise KeyboardInterrupt

    class EnvLeak(_Base):
        name = subsystem = "env_leak"
        async def run(self, ctx):
            raise RuntimeError("token was " + os.environ["SOME_VENDOR_TOKEN"])
'''


def test_installed_broken_plugins_never_pass_and_a_report_is_written(tmp_path):
    site = _install(tmp_path / "site", PLUGINS, {"returns_none": "ReturnsNone", "exits_zero": "Exits",
                                                 "ctrl_c": "Interrupts", "env_leak": "EnvLeak"})
    token = "vendor-tok-" + "Zq81xW3pLm09aa"
    env = {**os.environ, "PYTHONPATH": str(site), "SOME_VENDOR_TOKEN": token}
    proc = subprocess.run(
        [sys.executable, "-m", "filot_preflight", "check", "--offline", "--format", "json",
         "--only", "returns_none", "--only", "exits_zero", "--only", "ctrl_c", "--only", "env_leak"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    got = {r["subsystem"]: r["status"] for r in data["results"] if r["subsystem"] != "policy"}
    assert got == {"returns_none": "error", "exits_zero": "error", "ctrl_c": "error", "env_leak": "error"}
    assert token not in proc.stdout + proc.stderr  # a secret only in the process env does not leak (item 10)
