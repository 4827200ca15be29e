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

from filot_preflight.audit.mocks import IMPORT_BEFORE, emit
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
# Anchored on a project-local specifier (rare, so quick to scan for); the import clause before it is
# then read back to the statement's start.
_JS_LOCAL_SPEC = re.compile(r"""(['"])((?:\.\.?/|@/|~/|src/)[^'"\n]*)\1""")
_JS_CLAUSE = re.compile(
    r"""(?:\bimport[ \t]+(?:type[ \t]+)?([^'";]*?)[ \t]*\bfrom|\b(?:const|let|var)[ \t]+([^=;]+?)[ \t]*=[ \t]*"""
    r"""require[ \t]*\()[ \t]*$"""
)
_JS_PKG = re.compile(r"""(['"])(""" + "|".join(re.escape(p) for p in sorted(JS_TEST_PACKAGES, key=len, reverse=True))
                     + r""")(?:/[^'"\n]*)?\1""")
_PY_FROM = re.compile(r"^[ \t]*from[ \t]+([.\w]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]*)", re.M)
_PY_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w.]+(?:[ \t]*,[ \t]*[\w.]+)*)", re.M)
_IDENT = re.compile(r"[A-Za-z_$][\w$]*")


def _names(clause: str) -> list[str]:
    """Imported names of `A, { B as b, C }` / `* as ns` / `(A, B as b)` (the exported names, before `as`)."""
    clause = re.sub(r"\bas\s+[\w$]+", "", clause.replace("type ", ""))
    return _IDENT.findall(clause)


def js_findings(text: str, lines: Lines, facts: FileFacts) -> None:
    """Project mocks and test-only packages imported by one production JS/TS file."""
    for m in _JS_LOCAL_SPEC.finditer(text):
        spec = m.group(2)
        if "__mocks__" in spec:
            continue
        stmt = max(text.rfind(";", 0, m.start()), text.rfind("\n\n", 0, m.start()), m.start() - 2000, 0)
        clause = _JS_CLAUSE.search(text, stmt, m.start())
        if clause is None or lines.in_comment(m.start(), "js"):
            continue
        line = lines.line_of(m.start())
        names = [n for n in _names(clause.group(1) or clause.group(2) or "") if _MOCK_NAME.match(n)]
        if names:
            emit(facts, lines, "js", PROJECT_MOCK, line, f"imports {', '.join(names)} from '{spec}'")
        elif _MOCK_MODULE.search(spec.rsplit("/", 1)[-1]):
            emit(facts, lines, "js", PROJECT_MOCK, line, f"imports the project's mock module '{spec}'")
    for m in _JS_PKG.finditer(text):
        if IMPORT_BEFORE.search(text, max(0, m.start() - 16), m.start()) is None or lines.in_comment(m.start(), "js"):
            continue
        emit(facts, lines, "js", TEST_PACKAGE, lines.line_of(m.start(2)), f"imports '{m.group(2)}'")


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
