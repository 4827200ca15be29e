"""Mocks by meaning: the project's own mock classes/modules and test-only packages used by production code.

- `project_mock`: production code imports, from the project itself (a relative import, or a top-level
  package of the tree), a name or module called Mock*/Fake*/Stub*/InMemory*/Dummy* (or *Mock/*Fake/*Stub):
  `import { MockOCRModel } from './models/mock-ocr'`, `from worker.fakes import FakeQueue`. A library's
  own class (`InMemoryCache` from '@apollo/client') is not the project's and is not reported.
- `test_package`: production code imports a package that only tests need (mongodb-memory-server,
  supertest, testcontainers, pytest, ...). With `npm ci --omit=dev` a devDependency is missing in
  production; listed in `dependencies` it ships a test harness. Mocking libraries proper stay
  `mock_import` (mocks.py).
"""

from __future__ import annotations

import re

from filot_preflight.audit.mocks import emit
from filot_preflight.audit.model import PROJECT_MOCK, TEST_PACKAGE, FileFacts
from filot_preflight.audit.text import Lines

JS_TEST_PACKAGES = (
    "mongodb-memory-server", "mongodb-memory-server-core", "redis-memory-server", "pg-mem", "supertest",
    "testcontainers", "@testcontainers/postgresql", "@testcontainers/redis", "jest", "@jest/globals", "vitest",
    "mocha", "chai", "ava", "@testing-library/react", "@testing-library/jest-dom", "@nestjs/testing",
    "jest-extended", "node-mocks-http", "ts-jest", "light-my-request",
)
PY_TEST_PACKAGES = (
    "pytest", "_pytest", "pytest_asyncio", "testcontainers", "hypothesis", "factory_boy", "testing.postgresql",
)

_MOCK_NAME = re.compile(r"^(?:Mock|Fake|Stub|InMemory|Dummy)[A-Z_0-9]\w*$|^[A-Za-z]\w*(?:Mock|Fake|Stub)$")
_MOCK_MODULE = re.compile(r"(?:^|[/._-])(?:mocks?|fakes?|stubs?|in-?memory|dummy)(?:[/._-]|$)", re.I)
_JS_LOCAL = ("./", "../", "@/", "~/", "src/")
_JS_CLAUSE = re.compile(
    r"""(?:\bimport[ \t]+(?:type[ \t]+)?([^'";]*?)[ \t]*\bfrom|\b(?:const|let|var)[ \t]+([^=;]+?)[ \t]*=[ \t]*"""
    r"""require[ \t]*\()[ \t]*$"""
)
# Every module specifier of an import/require; each pattern starts with a literal the engine can skip to.
_JS_SPECS = tuple(re.compile(kw + r"""\s*(['"])([^'"\n]+)\1""") for kw in (r"from", r"require\s*\(", r"import\s*\(?"))
_JS_PKGS = frozenset(JS_TEST_PACKAGES)
_PY_FROM = re.compile(r"^[ \t]*from[ \t]+([.\w]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]*)", re.M)
_PY_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w.]+(?:[ \t]*,[ \t]*[\w.]+)*)", re.M)
_IDENT = re.compile(r"[A-Za-z_$][\w$]*")


def _names(clause: str) -> list[str]:
    """Imported names of `A, { B as b, C }` / `* as ns` / `(A, B as b)` (the exported names, before `as`)."""
    clause = re.sub(r"\bas\s+[\w$]+", "", clause.replace("type ", ""))
    return _IDENT.findall(clause)


def js_findings(text: str, lines: Lines, facts: FileFacts) -> None:
    """Project mocks and test-only packages imported by one production JS/TS file."""
    specs = sorted((m.start(2), m.group(2)) for rx in _JS_SPECS for m in rx.finditer(text))
    for at, spec in specs:
        parts = spec.split("/")
        pkg = "/".join(parts[:2]) if spec.startswith("@") else parts[0]
        if pkg in _JS_PKGS:
            if not lines.in_comment(at, "js"):
                emit(facts, lines, "js", TEST_PACKAGE, lines.line_of(at), f"imports '{pkg}'")
        elif spec.startswith(_JS_LOCAL) and "__mocks__" not in spec:
            _js_local(text, lines, facts, at, spec)


def _js_local(text: str, lines: Lines, facts: FileFacts, at: int, spec: str) -> None:
    """A project-local import: its names (or the module itself) called Mock*/Fake*/..."""
    stmt = max(text.rfind(";", 0, at), text.rfind("\n\n", 0, at), at - 2000, 0)
    clause = _JS_CLAUSE.search(text, stmt, at - 1)
    if lines.in_comment(at, "js"):
        return
    line = lines.line_of(at)
    names = [n for n in _names(clause.group(1) or clause.group(2) or "") if _MOCK_NAME.match(n)] if clause else []
    if names:
        emit(facts, lines, "js", PROJECT_MOCK, line, f"imports {', '.join(names)} from '{spec}'")
    elif _MOCK_MODULE.search(spec.rsplit("/", 1)[-1]):
        emit(facts, lines, "js", PROJECT_MOCK, line, f"imports the project's mock module '{spec}'")


def py_findings(text: str, lines: Lines, facts: FileFacts, local: frozenset[str]) -> None:
    """Project mocks and test-only packages imported by one production Python file.

    `local`: top-level module names of the tree (folders and .py files at its root or under src/).
    """
    for m in _PY_FROM.finditer(text):
        module = m.group(1)
        if lines.in_comment(m.start(), "py"):
            continue
        line = lines.line_of(m.start())
        top = module.split(".")[0]
        if top in PY_TEST_PACKAGES or module in PY_TEST_PACKAGES:
            emit(facts, lines, "py", TEST_PACKAGE, line, f"imports '{module}'")
            continue
        if not (module.startswith(".") or top in local):
            continue
        names = [n for n in _names(m.group(2)) if _MOCK_NAME.match(n)]
        if names:
            emit(facts, lines, "py", PROJECT_MOCK, line, f"imports {', '.join(names)} from '{module}'")
        elif _MOCK_MODULE.search(module.rsplit(".", 1)[-1]) or any(_MOCK_MODULE.search(n) for n in _names(m.group(2))
                                                                    if n.islower()):
            emit(facts, lines, "py", PROJECT_MOCK, line, f"imports the project's mock module '{module}'")
    for m in _PY_IMPORT.finditer(text):
        if lines.in_comment(m.start(), "py"):
            continue
        line = lines.line_of(m.start())
        for module in (x.strip() for x in m.group(1).split(",")):
            top = module.split(".")[0]
            if top in PY_TEST_PACKAGES:
                emit(facts, lines, "py", TEST_PACKAGE, line, f"imports '{module}'")
            elif top in local and _MOCK_MODULE.search(module.rsplit(".", 1)[-1]):
                emit(facts, lines, "py", PROJECT_MOCK, line, f"imports the project's mock module '{module}'")
