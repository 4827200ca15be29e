"""Test paths as the tree's own test runners name them: jest, vitest, mocha and pytest configuration.

Read once per tree, before the walk, and added to the default conventions (never replacing them):
jest `testMatch` (globs) and `testRegex` (regular expressions) from package.json's "jest" key or a
jest.config.{js,ts,mjs,cjs,json}; vitest `test.include` from vitest.config.* / vite.config.*; mocha
`spec` from .mocharc.*; pytest `testpaths` and `python_files` from pytest.ini, pyproject.toml
([tool.pytest.ini_options]), setup.cfg ([tool:pytest]) or tox.ini ([pytest]). JS config files are
not run: their literal arrays are read. Anything unreadable is ignored (the defaults still apply).
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import re
import tomllib
from typing import Any

_MAX = 256 * 1024
_JS_ARRAY = r"""\s*:\s*\[([^\]]*)\]"""
_JS_STR = re.compile(r"""(['"`])((?:(?!\1)[^\\\n]|\\.)*)\1""")
_REGEX_LIT = re.compile(r"""testRegex\s*:\s*(?:/((?:[^/\\\n]|\\.)+)/[a-z]*|(['"`])((?:(?!\2).)+)\2)""")


def project_test_patterns(root: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(globs, regexes) naming test files in the tree's runner configuration; relative to `root`."""
    globs: list[str] = []
    regexes: list[str] = []
    pkg = _read(root, "package.json")
    if pkg:
        try:
            data = json.loads(pkg)
        except ValueError:
            data = {}
        if isinstance(data, dict) and isinstance(data.get("jest"), dict):
            _jest_dict(data["jest"], globs, regexes)
    for name in ("jest.config.js", "jest.config.ts", "jest.config.mjs", "jest.config.cjs"):
        text = _read(root, name)
        globs += _js_strings(text, "testMatch")
        regexes += [m.group(1) or m.group(3) for m in _REGEX_LIT.finditer(text)]
    text = _read(root, "jest.config.json")
    if text:
        with contextlib.suppress(ValueError):
            _jest_dict(json.loads(text), globs, regexes)
    for name in ("vitest.config.ts", "vitest.config.js", "vitest.config.mts", "vite.config.ts", "vite.config.js"):
        text = _read(root, name)
        block = text[text.find("test"):] if "test" in text else ""
        globs += _js_strings(block, "include")
    for name in (".mocharc.json", ".mocharc.js", ".mocharc.cjs", ".mocharc.yml", ".mocharc.yaml"):
        text = _read(root, name)
        globs += _js_strings(text, '"?spec"?') or re.findall(r"""^\s*spec\s*:\s*['"]?([^'"\n]+)""", text, re.M)
    _pytest(root, globs)
    return tuple(dict.fromkeys(g for g in (_clean(g) for g in globs) if g)), tuple(dict.fromkeys(regexes))


def _read(root: str, name: str) -> str:
    try:
        with open(os.path.join(root, name), encoding="utf-8", errors="replace") as f:
            return f.read(_MAX)
    except OSError:
        return ""


def _jest_dict(cfg: Any, globs: list[str], regexes: list[str]) -> None:
    if not isinstance(cfg, dict):
        return
    match = cfg.get("testMatch")
    globs += [g for g in match if isinstance(g, str)] if isinstance(match, list) else []
    rx = cfg.get("testRegex")
    regexes += [rx] if isinstance(rx, str) else [r for r in rx if isinstance(r, str)] if isinstance(rx, list) else []


def _js_strings(text: str, key: str) -> list[str]:
    """String literals of `key: [ ... ]` arrays in a JS/JSON config file."""
    out: list[str] = []
    for m in re.finditer(r"\b" + key + _JS_ARRAY, text):
        out += [s.group(2) for s in _JS_STR.finditer(m.group(1))]
    return out


def _pytest(root: str, globs: list[str]) -> None:
    """pytest's `testpaths` (folders: everything under them) and `python_files` (file name patterns)."""
    opts: dict[str, Any] = {}
    pyproject = _read(root, "pyproject.toml")
    if pyproject:
        try:
            opts = tomllib.loads(pyproject).get("tool", {}).get("pytest", {}).get("ini_options", {}) or {}
        except tomllib.TOMLDecodeError:
            opts = {}
    for name, section in (("pytest.ini", "pytest"), ("setup.cfg", "tool:pytest"), ("tox.ini", "pytest")):
        text = _read(root, name)
        if not text or opts:
            continue
        cp = configparser.ConfigParser(interpolation=None)
        try:
            cp.read_string(text)
        except configparser.Error:
            continue
        if cp.has_section(section):
            opts = {k: v.split() for k, v in cp.items(section) if k in ("testpaths", "python_files")}
    paths = opts.get("testpaths", [])
    files = opts.get("python_files", [])
    for p in [paths] if isinstance(paths, str) else paths:
        globs.append(str(p).strip("/") + "/**")
    for f in files.split() if isinstance(files, str) else files:
        globs.append("**/" + str(f))


def _clean(glob: str) -> str:
    """A runner's glob relative to the root: `<rootDir>/`, `./` and negations dropped."""
    g = glob.strip().replace("<rootDir>/", "").replace("<rootDir>", "")
    if g.startswith("!"):
        return ""
    return g[2:] if g.startswith("./") else g
