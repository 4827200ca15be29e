"""The tree's shape, enforced: each checker is one place, shared code lives in net/, judges do no I/O.

Read from the source with `ast` (no import side effects): every `import` and `from ... import` of every module,
at any depth (a lazy import inside a function counts too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "filot_preflight"
CHECKERS = PKG / "checkers"

# The command layer: a checker never imports upward into these.
COMMAND_LAYER = ("cli", "commands", "core", "runner", "render", "documents", "sandbox", "diff", "waivers",
                 "config", "settings", "template_check", "__main__")
# Modules that talk to the network, the OS or a driver: a judge imports none of them.
IO_MODULES = ("socket", "ssl", "asyncio", "select", "selectors", "subprocess", "threading", "http", "urllib.request",
              "redis", "psycopg", "httpx", "boto3", "botocore", "temporalio", "bullmq", "os", "shutil")
# Shared modules that are plain data and text, safe for judges.
PURE_SHARED = ("filot_preflight.models", "filot_preflight.manifest", "filot_preflight.manifest_checks",
               "filot_preflight.checkers.base", "filot_preflight.net.fixes", "filot_preflight.net.kinds",
               "filot_preflight.net.x509", "filot_preflight.net.http_facts", "filot_preflight.net.redis_fixes",
               "filot_preflight.net.aws_facts",
               "filot_preflight.rules")


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def imports(path: Path) -> set[str]:
    """Every module `path` imports, absolute names (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*here[: len(here) - node.level + 1], *([base] if base else [])])
            subs = {f"{base}.{a.name}" for a in node.names if module_file(f"{base}.{a.name}")}
            out |= subs  # `from pkg import mod` imports pkg.mod; `from mod import name` imports mod
            if len(subs) < len(node.names) or not subs:
                out.add(base)
    return out


def module_file(name: str) -> Path | None:
    """The file of project module `name` (a module or a package's __init__), or None (not ours, or an attribute)."""
    base = ROOT / Path(*name.split("."))
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.is_file():
            return f
    return None


def checker_units() -> dict[str, list[Path]]:
    """Checker name -> its modules: a package's files, or the one module."""
    units: dict[str, list[Path]] = {}
    for p in sorted(CHECKERS.iterdir()):
        if p.is_dir() and (p / "__init__.py").is_file():
            units[p.name] = sorted(p.rglob("*.py"))
        elif p.suffix == ".py" and p.stem not in ("__init__", "base"):
            units[p.stem] = [p]
    return units


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_tree_has_one_place_per_checker_and_no_flat_helpers():
    flat = [p.name for p in CHECKERS.glob("_*.py") if p.name != "__init__.py"]
    assert not flat, f"helpers beside the checkers (move them into the checker's package or net/): {flat}"
    units = checker_units()
    for pkg in ("redis", "postgres", "r2", "gpu_worker", "temporal", "buli2", "ecs_taskdefs"):
        assert (CHECKERS / pkg / "__init__.py").is_file(), f"{pkg} is not a package"
    assert set(units) >= {"secrets", "mock_code", "env_drift", "aws_secrets", "backend", "redis"}


@pytest.mark.parametrize("checker", sorted(checker_units()))
def test_a_checker_imports_only_base_net_and_its_own_modules(checker):
    own = f"filot_preflight.checkers.{checker}"
    others = [f"filot_preflight.checkers.{c}" for c in checker_units() if c != checker]
    upward = [f"filot_preflight.{m}" for m in COMMAND_LAYER]
    bad = []
    for path in checker_units()[checker]:
        for name in imports(path):
            if _within(name, own):
                continue
            if any(_within(name, o) for o in others) or any(_within(name, u) for u in upward):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_net_imports_no_checker_and_nothing_upward():
    bad = []
    for path in sorted((PKG / "net").rglob("*.py")):
        for name in imports(path):
            if _within(name, "filot_preflight.checkers") and not _within(name, "filot_preflight.checkers.base"):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
            if any(_within(name, f"filot_preflight.{u}") for u in COMMAND_LAYER):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def _io_free(path: Path, seen: set[Path]) -> list[str]:
    """Why `path` is not free of I/O: its I/O imports, or those of the own-package modules it imports."""
    if path in seen:
        return []
    seen.add(path)
    pkg = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    problems = []
    for name in sorted(imports(path)):
        if any(_within(name, m) for m in IO_MODULES):
            problems.append(f"{path.relative_to(ROOT)} imports {name}")
        elif _within(name, "filot_preflight"):
            if any(_within(name, s) for s in PURE_SHARED):
                continue
            target = module_file(name)
            # The own package's modules (and a bare package) are followed; anything else shared must be listed.
            if target is not None and (_within(name, pkg) or target.name == "__init__.py"):
                problems += _io_free(target, seen)
            else:
                problems.append(f"{path.relative_to(ROOT)} imports {name}, which is not known to be free of I/O")
    return problems


JUDGES = sorted(CHECKERS.glob("*/judge.py"))


def test_there_are_judges_to_check():
    assert len(JUDGES) >= 4, JUDGES


@pytest.mark.parametrize("judge", JUDGES, ids=[p.parent.name for p in JUDGES])
def test_judge_modules_are_pure(judge):
    """A judge turns facts into results: no socket, driver, event loop or OS call, directly or through its package."""
    problems = _io_free(judge, set())
    assert not problems, "\n".join(problems)


def test_the_purity_check_sees_io_where_there_is_some():
    """Self-test: the probing side of a checker is flagged, so a pass above means something."""
    assert _io_free(CHECKERS / "redis" / "__init__.py", set())
    assert any("psycopg" in p for p in _io_free(CHECKERS / "postgres" / "session.py", set()))
