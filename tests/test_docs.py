"""The docs stay true to the code.

(a) every result id a checker (or the core) can emit has a `## <id>` heading in docs/checks/, and every
    built-in checker has a page; (b) every CLI command, argument and option has help text; (c) links to
    docs from result texts, templates and the docs themselves resolve; (d) docs/cli.md is current.

Ids are found by reading the source (ast), not by running checkers, so ids on rare paths count too:
string literals shaped `<checker>.<rule>` anywhere in a checker module or a helper it imports, and the
id argument of every `result(...)` / `CheckResult(id=...)` call, followed back through module
constants, loop variables over literal tables, local assignments and function parameters (to every
call site), and `<checker>.<rule>` from each call of a factory's product (`_r = results_for(NAME, ...)`,
then `_r("rule", ...)`). A part that cannot be followed becomes `<*>`: `<*>.timeout` must then match a placeholder
heading such as `<checker>.timeout` (docs/checks/core.md); `mock_code.<*>` must be declared, either by a
module-level `RESULT_IDS` tuple in the emitting module or in DECLARED below.
"""

from __future__ import annotations

import ast
import html
import importlib
import itertools
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKS = ROOT / "docs" / "checks"
HOLE = "<*>"
GROUP = "filot_preflight.checkers"
_PART = r"(?:[a-z][a-z0-9_]*|<[^<>.]+>)"
ID_SHAPE = re.compile(rf"^{_PART}\.{_PART}$")
LITERAL_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
SINKS = {"result", "CheckResult"}  # calls whose first argument (or id=) is a result id
# Calls that return a result maker bound to a checker name (their first argument); each call of the maker
# emits `<checker>.<rule>`, the rule being its first argument (or rule=).
FACTORIES = {"results_for"}
CORE_MODULES = ("filot_preflight.runner", "filot_preflight.core", "filot_preflight.waivers")
CORE_PREFIXES = {"policy", "plugin", "waiver", "source"}
# Dynamic ids whose rule part is an attribute of a finding (the scanner cannot follow it): where the
# possible rule names are declared. Prefer literal ids or a RESULT_IDS tuple in the emitting module.
DECLARED = {"mock_code.<*>": ("filot_preflight.audit.model", "MOCK_RULES")}
# Modules that only pass on ids of results they were given (so the id is wholly computed there).
REEMITTERS = {"filot_preflight/audit/report.py": "capped() folds surplus results of one id into one"}


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


class _Dict(tuple):
    """A dict literal as (key, value) pairs (hashable, so it can sit in a set of alternatives)."""


# --- the scanner ------------------------------------------------------------------------------------


class _Module:
    """One parsed module: constants, imports, functions, and each node's enclosing function."""

    def __init__(self, name: str, path: Path, index: SourceIndex) -> None:
        self.name, self.path, self.index = name, path, index
        self.rel = path.relative_to(index.roots[name.split(".")[0]].parent).as_posix()
        self.tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        self.imports: dict[str, tuple[str, str]] = {}
        self.functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self.owner: dict[int, ast.AST | None] = {}  # id(node) -> enclosing function
        self._consts: dict[str, ast.expr] = {}
        for node in self.tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    self.imports[a.asname or a.name] = (node.module, a.name)
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                self._consts[node.targets[0].id] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                self._consts[node.target.id] = node.value
        self._walk(self.tree, None)

    def _walk(self, node: ast.AST, func: ast.AST | None) -> None:
        for child in ast.iter_child_nodes(node):
            self.owner[id(child)] = func
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                self.functions.setdefault(child.name, child)
                self._walk(child, child)
            else:
                self._walk(child, func)

    def constant(self, name: str, depth: int) -> Any:
        """The value of a module-level name (its own constant, or one imported from an indexed module)."""
        if name in self._consts:
            return self.index.const(self._consts[name], self, None, depth + 1)
        if name in self.imports:
            mod, attr = self.imports[name]
            other = self.index.module(mod)
            if other is not None:
                return other.constant(attr, depth + 1)
        return UNKNOWN

    def calls(self) -> Iterable[ast.Call]:
        return (n for n in ast.walk(self.tree) if isinstance(n, ast.Call))


class SourceIndex:
    """Modules by dotted name under some package roots, parsed on demand; resolves expressions to values."""

    MAX_DEPTH = 12
    MAX_ALTS = 400

    def __init__(self, roots: dict[str, Path]) -> None:
        self.roots = roots  # top-level package name -> its folder
        self._mods: dict[str, _Module | None] = {}

    def module(self, name: str) -> _Module | None:
        if name not in self._mods:
            top, _, rest = name.partition(".")
            path = None
            if top in self.roots:
                base = self.roots[top].joinpath(*rest.split(".")) if rest else self.roots[top]
                path = next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)
            self._mods[name] = _Module(name, path, self) if path is not None else None
        return self._mods[name]

    def loaded(self) -> list[_Module]:
        return [m for m in self._mods.values() if m is not None]

    def closure(self, names: Iterable[str]) -> list[_Module]:
        """The modules named, plus every indexed module they import, transitively."""
        todo, seen = list(names), set()
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            mod = self.module(name)
            if mod is not None:
                todo += [m for m, _ in mod.imports.values()]
                todo += [f"{m}.{a}" for m, a in mod.imports.values()]  # `from pkg import module`
        return [m for n in sorted(seen) if (m := self.module(n)) is not None]

    # -- values: `const` gives one value (or UNKNOWN); `alts` gives the set a name may take.

    def const(self, node: ast.expr, mod: _Module, func: ast.AST | None, depth: int) -> Any:
        alts = self.alts(node, mod, func, depth)
        return next(iter(alts)) if len(alts) == 1 else UNKNOWN

    def alts(self, node: ast.expr, mod: _Module, func: ast.AST | None, depth: int) -> set[Any]:
        if depth > self.MAX_DEPTH:
            return {UNKNOWN}
        d = depth + 1
        if isinstance(node, ast.Constant):
            return {node.value}
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return {tuple(self.const(e, mod, func, d) for e in node.elts)}
        if isinstance(node, ast.Dict):
            return {_Dict((self.const(k, mod, func, d) if k is not None else UNKNOWN, self.const(v, mod, func, d))
                          for k, v in zip(node.keys, node.values, strict=True))}
        if isinstance(node, ast.JoinedStr | ast.BinOp):
            return set(self.strings(node, mod, func, d))
        if isinstance(node, ast.Name):
            return self._name(node.id, mod, func, d)
        if isinstance(node, ast.IfExp):
            return self.alts(node.body, mod, func, d) | self.alts(node.orelse, mod, func, d)
        if isinstance(node, ast.Subscript):  # TABLE[key] / TUPLE[i] of constants
            seq, key = self.const(node.value, mod, func, d), self.const(node.slice, mod, func, d)
            if isinstance(seq, _Dict):  # an unknown key may pick any value
                return {v for k, v in seq if key is UNKNOWN or k == key} or {UNKNOWN}
            if isinstance(seq, tuple) and isinstance(key, int) and -len(seq) <= key < len(seq):
                return {seq[key]}
            return {UNKNOWN}
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            table = self.const(node.func.value, mod, func, d)  # TABLE.get(key, default): any value, or default
            if isinstance(table, _Dict):
                out = {v for _, v in table}
                return out | (self.alts(node.args[1], mod, func, d) if len(node.args) > 1 else set())
        return {UNKNOWN}

    def strings(self, node: ast.expr, mod: _Module, func: ast.AST | None, depth: int) -> list[str]:
        """Every string an f-string / `a + b` may produce; a part that cannot be followed becomes HOLE."""
        parts: list[ast.expr] = []

        def flatten(n: ast.expr) -> None:
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add):
                flatten(n.left)
                flatten(n.right)
            elif isinstance(n, ast.JoinedStr):
                parts.extend(n.values)
            else:
                parts.append(n)

        flatten(node)
        choices: list[list[str]] = []
        for p in parts:
            if isinstance(p, ast.Constant) and isinstance(p.value, str):
                choices.append([p.value])
                continue
            value = p.value if isinstance(p, ast.FormattedValue) else p
            if isinstance(p, ast.FormattedValue) and (p.format_spec is not None or p.conversion != -1):
                choices.append([HOLE])
                continue
            alts = self.alts(value, mod, func, depth)
            choices.append(sorted({a if isinstance(a, str) else HOLE for a in alts}))
        out = ["".join(c) for c in itertools.islice(itertools.product(*choices), self.MAX_ALTS)]
        return out

    def _name(self, name: str, mod: _Module, func: ast.AST | None, depth: int) -> set[Any]:
        while func is not None:
            found = self._bound_in(name, func, mod, depth)
            if found is not None:
                return found
            func = mod.owner.get(id(func))  # a closure: look in the enclosing function
        return {mod.constant(name, depth)}

    def _bound_in(self, name: str, func: Any, mod: _Module, depth: int) -> set[Any] | None:
        """What `name` may be inside `func`: a parameter (from every call site), loop variable or local."""
        args = func.args
        params = [*args.posonlyargs, *args.args]
        names = [a.arg for a in params] + [a.arg for a in args.kwonlyargs]
        if name in names:
            return self._from_calls(func, name, mod, depth)
        out: set[Any] = set()
        bound = False
        for node in ast.walk(func):
            if mod.owner.get(id(node)) is not func:
                continue
            if isinstance(node, ast.For | ast.comprehension) and _binds(node.target, name):
                bound = True
                for item in self._items(node.iter, mod, func, depth):
                    out.add(_unpack(node.target, name, item))
            elif isinstance(node, ast.Assign) and any(_binds(t, name) for t in node.targets):
                bound = True
                for t in node.targets:
                    if _binds(t, name):
                        out |= {_unpack(t, name, v) for v in self.alts(node.value, mod, func, depth)}
            elif isinstance(node, ast.NamedExpr | ast.AugAssign | ast.AnnAssign) and _binds(node.target, name):
                bound = True
                out.add(UNKNOWN)
        return out if bound else None

    def _items(self, it: ast.expr, mod: _Module, func: Any, depth: int) -> list[Any]:
        """The elements a loop over `it` sees (tuple/list/set/dict literal, constant, or dict.items/keys)."""
        method = None
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and not it.args:
            method, it = it.func.attr, it.func.value
        value = self.const(it, mod, func, depth)
        if isinstance(value, _Dict):
            return {"items": list(value), "values": [v for _, v in value]}.get(method or "", [k for k, _ in value])
        if isinstance(value, tuple) and method is None:
            return list(value)
        return [UNKNOWN]

    def _from_calls(self, func: Any, param: str, mod: _Module, depth: int) -> set[Any]:
        """A parameter's values: the argument at every call of the function in the indexed modules."""
        params = [*func.args.posonlyargs, *func.args.args]
        pos = next((i for i, a in enumerate(params) if a.arg == param), None)
        defaults = dict(zip([a.arg for a in params][-len(func.args.defaults):] if func.args.defaults else [],
                            func.args.defaults, strict=True))
        defaults |= {a.arg: d for a, d in zip(func.args.kwonlyargs, func.args.kw_defaults, strict=True) if d}
        out: set[Any] = set()
        private = func.name.startswith("_")
        for caller in self.loaded():
            if private and caller is not mod:
                continue
            if caller is not mod and caller.imports.get(func.name) != (mod.name, func.name):
                continue
            for call in caller.calls():
                if not (isinstance(call.func, ast.Name) and call.func.id == func.name):
                    continue
                stars = [i for i, a in enumerate(call.args) if isinstance(a, ast.Starred)]
                if pos is not None and pos < len(call.args) and not (stars and stars[0] <= pos):
                    arg: ast.expr | None = call.args[pos]
                else:  # by keyword, else *args/**kwargs may carry it (unknown), else the default
                    arg = next((k.value for k in call.keywords if k.arg == param), None)
                    if arg is None and not stars and all(k.arg is not None for k in call.keywords):
                        arg = defaults.get(param)
                out |= self.alts(arg, caller, caller.owner.get(id(call)), depth) if arg is not None else {UNKNOWN}
        return out or {UNKNOWN}


def _binds(target: ast.expr, name: str) -> bool:
    """Whether assigning to `target` rebinds `name` (`x[k] = ...` and `x.a = ...` do not)."""
    if isinstance(target, ast.Name):
        return target.id == name
    if isinstance(target, ast.Starred):
        return _binds(target.value, name)
    return isinstance(target, ast.Tuple | ast.List) and any(_binds(t, name) for t in target.elts)


def _unpack(target: ast.expr, name: str, value: Any) -> Any:
    """The part of `value` that `name` receives when assigned to `target` (a name or nested tuple)."""
    if isinstance(target, ast.Name):
        return value if target.id == name else UNKNOWN
    if isinstance(target, ast.Tuple | ast.List):
        for i, t in enumerate(target.elts):
            if _binds(t, name):
                ok = isinstance(value, tuple) and not isinstance(value, _Dict) and len(value) == len(target.elts)
                return _unpack(t, name, value[i]) if ok else UNKNOWN
    return UNKNOWN


def scan_ids(index: SourceIndex, modules: Iterable[_Module], prefixes: set[str]) -> dict[str, set[str]]:
    """Result-id patterns each module can emit -> where ('path:line'); unresolved parts are HOLE."""
    found: dict[str, set[str]] = {}

    def add(pattern: str, mod: _Module, node: ast.AST) -> None:
        found.setdefault(pattern, set()).add(f"{mod.rel}:{getattr(node, 'lineno', 0)}")

    for mod in modules:
        docstrings = {id(n.body[0].value) for n in ast.walk(mod.tree)  # type: ignore[attr-defined]
                      if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                      and n.body and isinstance(n.body[0], ast.Expr)}
        imported = {id(c.args[0]) for c in mod.calls() if c.args and  # import_module("redis.asyncio") is no id
                    (getattr(c.func, "id", None) or getattr(c.func, "attr", "")) in ("import_module", "find_spec")}
        for node in ast.walk(mod.tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                    and id(node) not in imported
                    and LITERAL_ID.match(node.value) and node.value.split(".")[0] in prefixes):
                add(node.value, mod, node)
        makers = _makers(mod)
        for call in mod.calls():
            name = call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")
            if isinstance(call.func, ast.Name) and name in makers:
                checker, scope, home = makers[name]
                rule = _first_arg(call, "rule")
                if rule is not None:
                    for c, r in itertools.product(_texts(index, checker, scope, home),
                                                  _texts(index, rule, mod.owner.get(id(call)), mod)):
                        add(f"{c}.{r}", mod, call)
                continue
            if name not in SINKS:
                continue
            arg = _first_arg(call, "id")
            if arg is None:
                continue
            func = mod.owner.get(id(call))
            if getattr(func, "name", None) in SINKS:  # inside `def result(id, ...)`: its callers are sinks
                continue
            if any(getattr(f, "name", None) in FACTORIES for f in _enclosing(mod, func)):
                continue  # the maker inside `def results_for(checker, ...)`: its callers' calls are followed
            for alt in index.alts(arg, mod, func, 0):
                for pattern in [alt] if isinstance(alt, str) else [HOLE]:
                    add(pattern, mod, call)
    return found


def _first_arg(call: ast.Call, keyword: str) -> ast.expr | None:
    return call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == keyword), None)


def _enclosing(mod: _Module, func: ast.AST | None) -> Iterable[ast.AST]:
    """`func` and the functions around it, innermost first."""
    while func is not None:
        yield func
        func = mod.owner.get(id(func))


def _makers(mod: _Module) -> dict[str, tuple[ast.expr, ast.AST | None, _Module]]:
    """Names bound to a factory's product (`_r = results_for(NAME, ...)`) -> (checker argument, its scope
    and module), including a maker imported from another indexed module (`from x import _r`)."""
    out = _own_makers(mod)
    for local, (source, attr) in mod.imports.items():
        other = mod.index.module(source)
        if other is not None and other is not mod and attr in (theirs := _own_makers(other)):
            out.setdefault(local, theirs[attr])
    return out


def _own_makers(mod: _Module) -> dict[str, tuple[ast.expr, ast.AST | None, _Module]]:
    out: dict[str, tuple[ast.expr, ast.AST | None, _Module]] = {}
    for node in ast.walk(mod.tree):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
                and node.value.func.id in FACTORIES and (checker := _first_arg(node.value, "checker")) is not None):
            out[node.targets[0].id] = (checker, mod.owner.get(id(node)), mod)
    return out


def _texts(index: SourceIndex, node: ast.expr, func: ast.AST | None, mod: _Module) -> list[str]:
    """The strings `node` may be (HOLE where it cannot be followed)."""
    return sorted({a if isinstance(a, str) else HOLE for a in index.alts(node, mod, func, 0)})


def documented(pages: Path) -> dict[str, set[str]]:
    """`## <id>` headings per page stem, placeholders (`<checker>`, `&lt;name&gt;`) normalised to HOLE."""
    out: dict[str, set[str]] = {}
    for page in sorted(pages.glob("*.md")):
        heads = re.findall(r"^## +`?([^`\n]+?)`?\s*$", page.read_text(encoding="utf-8"), re.M)
        ids = {re.sub(r"<[^<>.]+>", HOLE, html.unescape(h)) for h in heads}
        out[page.stem] = {i for i in ids if ID_SHAPE.match(i)}
    return out


def undocumented(found: dict[str, set[str]], pages: dict[str, set[str]], declared: dict[str, set[str]],
                 checkers: set[str]) -> list[str]:
    """Problems, one line each: an id without a heading on its page, or a dynamic id nobody declared."""
    problems = []
    for pattern, sites in sorted(found.items()):
        where = ", ".join(sorted(sites)[:3])
        if pattern == HOLE:  # the whole id is computed: only where results are passed on
            opaque = sorted(s for s in sites if s.rsplit(":", 1)[0] not in REEMITTERS)
            if opaque:
                problems.append(f"an id that cannot be followed at all ({', '.join(opaque[:3])}); use literal ids")
            continue
        prefix, rule = pattern.split(".", 1) if "." in pattern else (pattern, "")
        if not ID_SHAPE.match(pattern):
            problems.append(f"{pattern!r} ({where}): not a '<checker>.<rule>' id")
        elif rule == HOLE and prefix != HOLE and prefix not in CORE_PREFIXES:
            if pattern not in declared:
                problems.append(f"{pattern} ({where}): the rule part cannot be followed; use literal ids or "
                                f"declare them in a RESULT_IDS tuple in that module")
        else:
            page = prefix if prefix in checkers else "core"
            if pattern not in pages.get(page, set()):
                problems.append(f"{pattern} ({where}): no '## {pattern}' heading in docs/checks/{page}.md")
    return problems


def declared_ids(index: SourceIndex, found: dict[str, set[str]]) -> dict[str, set[str]]:
    """Dynamic patterns -> the ids declared for them (RESULT_IDS in the emitting module, or DECLARED)."""
    out: dict[str, set[str]] = {}
    for pattern, sites in found.items():
        prefix = pattern.split(".")[0]
        if not pattern.endswith(f".{HOLE}") or prefix == HOLE:
            continue
        ids: set[str] = set()
        for site in sites:
            mod = next((m for m in index.loaded() if m.rel == site.rsplit(":", 1)[0]), None)
            value = mod.constant("RESULT_IDS", 0) if mod is not None else UNKNOWN
            if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
                ids |= {v for v in value if v.startswith(f"{prefix}.")}
        if pattern in DECLARED:
            module, attr = DECLARED[pattern]
            ids |= {f"{prefix}.{rule}" for rule in getattr(importlib.import_module(module), attr)}
        if ids:
            out[pattern] = ids
    return out


# --- the real code base ---------------------------------------------------------------------------


def _entry_points() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return data["project"]["entry-points"][GROUP]


@pytest.fixture(scope="module")
def scanned() -> tuple[SourceIndex, dict[str, set[str]], set[str]]:
    index = SourceIndex({"filot_preflight": ROOT / "filot_preflight"})
    checkers = set(_entry_points())
    helpers = [".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
               for top in ("checkers", "net") for p in (ROOT / "filot_preflight" / top).rglob("*.py")]
    modules = index.closure([*(v.split(":")[0] for v in _entry_points().values()), *helpers, *CORE_MODULES])
    index.closure(m.name for m in index.loaded())  # callers of helpers are indexed too
    return index, scan_ids(index, modules, checkers | CORE_PREFIXES), checkers


def test_every_emittable_result_id_is_documented(scanned):
    index, found, checkers = scanned
    assert len(found) > 150, sorted(found)  # the scan sees the real code, not an empty folder
    declared = declared_ids(index, found)
    problems = undocumented(found, documented(CHECKS), declared, checkers)
    for pattern, ids in sorted(declared.items()):
        problems += [p for p in undocumented({i: found.get(pattern, set()) for i in ids}, documented(CHECKS), {},
                                             checkers)]
    assert not problems, "undocumented result ids:\n" + "\n".join(problems)


def test_every_documented_id_can_be_emitted(scanned):
    """The other way round: a heading for an id no code emits is stale (renamed or removed)."""
    index, found, checkers = scanned
    emitted = set(found) | {i for ids in declared_ids(index, found).values() for i in ids}
    stale = sorted(f"docs/checks/{page}.md: {i}" for page, ids in documented(CHECKS).items() for i in ids
                   if i not in emitted)
    assert not stale, "documented but never emitted:\n" + "\n".join(stale)


def test_every_registered_checker_has_a_page():
    from importlib.metadata import entry_points

    installed = {ep.name for ep in entry_points(group=GROUP) if ep.value.startswith("filot_preflight.")}
    missing = sorted(n for n in set(_entry_points()) | installed if not (CHECKS / f"{n}.md").is_file())
    assert not missing, f"checkers without docs/checks/<name>.md: {missing}"
    for name, target in _entry_points().items():
        module, _, cls = target.partition(":")
        assert getattr(importlib.import_module(module), cls).name == name, f"{target}: name differs from {name}"


# --- the scanner itself, on a tiny synthetic package --------------------------------------------

DEMO_BASE = '''
def result(id, subsystem, status, summary, **kw):
    return (id, subsystem, status, summary)

def results_for(checker, subsystem):
    def make(rule, status, summary, **kw):
        return result(f"{checker}.{rule}", subsystem, status, summary, **kw)
    return make
'''
DEMO_HELPERS = '''
from demo.base import result, results_for

def sources(checker):
    return result(f"{checker}.sources", "code", "skip", "no trees")

shared = results_for("demo", "demo")
'''
DEMO_CHECKER = '''
from demo.base import result, results_for
from demo.helpers import shared, sources

NAME = "demo"
_FAILURES = {"dns": ("demo.dns", "no such host"), "refused": ("demo.refused", "refused")}
_OTHER = ("demo.connect", "failed")
_res = results_for(NAME, "demo")


def _r(rule, status, **ev):
    return result(f"{NAME}.{rule}", "demo", status, "s")


def judge(f):
    out = [result("demo.literal", "demo", "pass", "s"), _r("helper", "warn", x=1), sources(NAME)]
    out += [_res("made", "pass", "s", target="t"), shared(rule="imported", status="pass", summary="s")]
    for rule, _summary in (("looped", "a"), ("looped_too", "b")):
        out.append(_r(rule, "pass"))
        out.append(_res(f"{rule}_made", "pass", "s"))
    rid, summary = _FAILURES.get(f.kind, _OTHER)
    out.append(result(rid, "demo", "fail", summary))
    return out
'''


def _demo(tmp_path: Path, checker: str = DEMO_CHECKER) -> dict[str, set[str]]:
    pkg = tmp_path / "demo"
    pkg.mkdir(exist_ok=True)
    for name, text in (("__init__", ""), ("base", DEMO_BASE), ("helpers", DEMO_HELPERS), ("checker", checker)):
        (pkg / f"{name}.py").write_text(text)
    index = SourceIndex({"demo": pkg})
    modules = index.closure(["demo.checker"])
    return scan_ids(index, modules, {"demo"})


def _pages(tmp_path: Path, **pages: str) -> Path:
    docs = tmp_path / "checks"
    docs.mkdir(exist_ok=True)
    for name, text in pages.items():
        (docs / f"{name}.md").write_text(text)
    return docs


def test_scanner_follows_literals_helpers_loops_tables_and_callers(tmp_path):
    found = _demo(tmp_path)
    assert set(found) == {"demo.literal", "demo.helper", "demo.sources", "demo.looped", "demo.looped_too",
                          "demo.dns", "demo.refused", "demo.connect",
                          "demo.made", "demo.imported", "demo.looped_made", "demo.looped_too_made"}
    assert "demo/checker.py:16" in found["demo.literal"]
    assert "demo/helpers.py:5" in found["demo.sources"]  # the id is built in the helper, from the caller's NAME
    assert found["demo.made"] == {"demo/checker.py:17"}  # a factory's product: the call site, not the factory


def test_an_id_added_without_docs_fails(tmp_path):
    found = _demo(tmp_path)
    heads = "".join(f"## {i}\n**fail.** what it means. **Fix:** how.\n\n" for i in sorted(found))
    docs = _pages(tmp_path, demo=heads)
    assert undocumented(found, documented(docs), {}, {"demo"}) == []
    added = DEMO_CHECKER.replace('"demo.literal"', '"demo.brand_new"')
    problems = undocumented(_demo(tmp_path, added), documented(docs), {}, {"demo"})
    assert problems == ["demo.brand_new (demo/checker.py:16): no '## demo.brand_new' heading in docs/checks/demo.md"]
    made = DEMO_CHECKER.replace('_res("made"', '_res("brand_new"')  # through a results_for product
    problems = undocumented(_demo(tmp_path, made), documented(docs), {}, {"demo"})
    assert problems == ["demo.brand_new (demo/checker.py:17): no '## demo.brand_new' heading in docs/checks/demo.md"]
    shared = DEMO_CHECKER.replace('rule="imported"', 'rule="brand_new"')  # a product imported from a helper
    problems = undocumented(_demo(tmp_path, shared), documented(docs), {}, {"demo"})
    assert problems == ["demo.brand_new (demo/checker.py:17): no '## demo.brand_new' heading in docs/checks/demo.md"]


def test_an_id_on_the_wrong_page_or_unfollowable_fails(tmp_path):
    dynamic = DEMO_CHECKER + '''

def more(finding):
    return result(f"{NAME}.{finding.rule}", "demo", "fail", "s")


def made(finding):
    return _res(finding.rule, "fail", "s")
'''
    found = _demo(tmp_path, dynamic)
    docs = _pages(tmp_path, demo="", other="".join(f"## {i}\n" for i in found))
    problems = undocumented(found, documented(docs), {}, {"demo"})
    assert any(p.startswith("demo.<*> (demo/checker.py:27, demo/checker.py:31): the rule part cannot be followed")
               for p in problems), problems
    assert any("no '## demo.literal' heading in docs/checks/demo.md" in p for p in problems)
    # declared (RESULT_IDS / DECLARED): the dynamic pattern is accepted; its ids are then checked like others
    assert not [p for p in undocumented(found, documented(docs), {"demo.<*>": {"demo.x"}}, {"demo"}) if "<*>" in p]


def test_placeholder_headings_cover_ids_built_from_a_checker_name(tmp_path):
    core = '''
from demo.base import result

def timeout(c):
    return result(f"{c.name}.timeout", c.subsystem, "fail", "slow")
'''
    found = _demo(tmp_path, core)
    assert set(found) == {"<*>.timeout"}
    docs = _pages(tmp_path, core="## &lt;checker&gt;.timeout\n**fail.** slow.\n")
    assert undocumented(found, documented(docs), {}, {"demo"}) == []
    assert undocumented(found, documented(_pages(tmp_path, core="## redis.timeout\n")), {}, {"demo"})


# --- (b) help text for every command and option ----------------------------------------------------


def _gen_cli() -> Any:
    spec = importlib.util.spec_from_file_location("gen_cli", ROOT / "docs" / "gen_cli.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree() -> list[tuple[str, Any]]:
    gen = _gen_cli()
    return [(ctx.command_path, cmd) for cmd, ctx in gen.commands(*gen.root())]


def test_every_command_and_option_has_help_text():
    tree = _tree()
    assert len(tree) > 15 and any(path == "preflight check" for path, _ in tree)
    missing = [path for path, cmd in tree if not (cmd.help or cmd.short_help or "").strip()]
    missing += [f"{path} {p.opts[0] if p.opts else p.name}" for path, cmd in tree for p in cmd.params
                if not getattr(p, "hidden", False) and not (getattr(p, "help", None) or "").strip()]
    assert not missing, f"no help text: {missing}"


# Typer renders help with rich markup: an unescaped `[tool.preflight]` is taken for a style tag and
# silently vanishes from `--help`. Escape it as `\\[tool.preflight]`.
_MARKUP = re.compile(r"(?<!\\)\[(?!default|env var|required)[a-z/#@][^\[\]]*\]")


def test_help_text_has_no_accidental_rich_markup():
    texts = [(path, cmd.help or "") for path, cmd in _tree()]
    texts += [(f"{path} {p.opts[0] if p.opts else p.name}", getattr(p, "help", None) or "")
              for path, cmd in _tree() for p in cmd.params]
    eaten = [f"{where}: {m.group(0)}" for where, text in texts for m in _MARKUP.finditer(text)]
    assert not eaten, "help text that --help would swallow:\n" + "\n".join(eaten)


def test_cli_reference_is_current():
    gen = _gen_cli()
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == gen.render(), \
        "docs/cli.md is stale: run .venv/bin/python docs/gen_cli.py"


def test_gen_cli_check_mode_runs_as_a_script():
    proc = subprocess.run([sys.executable, str(ROOT / "docs" / "gen_cli.py"), "--check"], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


# --- (c) links into the docs resolve -------------------------------------------------------------------

_DOC_PATH = re.compile(r"\bdocs/[\w./-]+\.md(?:#[\w-]+)?")
_MD_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"<[^>]+>", "", html.unescape(heading)).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#{1,6} +(.+?)\s*$", page.read_text(encoding="utf-8"), re.M)}


def _check_link(target: str, base: Path, page: Path | None = None) -> str | None:
    """Why `target` (relative to folder `base`; '#x' within `page`) does not resolve, or None."""
    path, _, anchor = target.partition("#")
    dest = (base / path).resolve() if path else page
    if dest is None or not dest.exists():
        return f"{target}: no such file"
    if anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
        return f"{target}: no heading with anchor #{anchor}"
    return None


def test_docs_paths_in_result_texts_and_templates_exist():
    """Remediation and detail texts (and templates) that point into docs/ name real pages and headings."""
    broken = []
    sources = [*(ROOT / "filot_preflight").rglob("*.py"), *(ROOT / "templates").glob("*")]
    for src in sources:
        text = src.read_text(encoding="utf-8")
        broken += [f"{src.relative_to(ROOT)}: {err}" for ref in _DOC_PATH.findall(text)
                   if (err := _check_link(ref, ROOT))]
    assert not broken, "\n".join(broken)


def test_markdown_links_in_docs_and_readme_resolve():
    pages = [*(ROOT / "docs").rglob("*.md"), ROOT / "README.md"]
    broken = []
    for page in pages:
        for target in _MD_LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", target):  # http(s), mailto: not checked offline
                continue
            err = _check_link(target, page.parent, page)
            if err:
                broken.append(f"{page.relative_to(ROOT)}: {err}")
    assert not broken, "\n".join(broken)
