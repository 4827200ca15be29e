"""Environment-variable reads in Python, read from the file's syntax tree (the stdlib `ast`).

Recognised: `os.environ['X']` (loads only; stores and deletes are writes), `os.environ.get/setdefault/pop`,
`os.getenv` (and `environ` / `getenv` imported from os, `os` imported under another name), `'X' in os.environ`,
pydantic-settings `BaseSettings` fields (pysettings: `env_prefix`, aliases, nested delimiters), environs and
django-environ (`env = Env()`, then `env('X')`, `env.str('X', ...)`, `env.db()` -> DATABASE_URL),
dj-database-url / django-cache-url `.config()` (DATABASE_URL / CACHE_URL unless `env=` names another),
python-decouple and starlette (`config('X', default=...)`), and a same-file helper whose parameter names the variable
(`def env_bool(name): return os.getenv(name) == '1'`, also `os.getenv(name + '_FILE')`) followed one level
to its call sites. A module-level constant defined once (`KEY = 'X'`; `os.getenv(KEY)`) is resolved. What
stays computed is a read with `name=None` and the expression.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from filot_preflight.audit.model import EnvRead, ParseError
from filot_preflight.audit.pysettings import settings_reads, value_of

_EXPR_MAX = 60
_ENV_METHODS = frozenset({"get", "setdefault", "pop"})
# environs / django-environ methods taking the variable name first.
_LIB_METHODS = frozenset({
    "str", "bool", "int", "float", "decimal", "list", "tuple", "dict", "json", "url", "path", "date", "datetime",
    "time", "timedelta", "uuid", "log_level", "enum", "db", "db_url", "cache", "cache_url", "email", "email_url",
    "search_url", "channels", "channels_url", "parse_value", "get_value", "dj_db_url", "dj_cache_url",
    "dj_email_url", "read_env_var",
})
# dj-database-url, django-cache-url, dj-email-url, dj-search-url: `module.config(env=..., default=...)` reads
# the module's well-known variable unless `env=` names another.
_URL_LIBS = {"dj_database_url": "DATABASE_URL", "django_cache_url": "CACHE_URL", "dj_email_url": "EMAIL_URL",
             "dj_search_url": "SEARCH_URL"}
# django-environ methods whose variable defaults to a well-known name when none is given.
_LIB_DEFAULT_VARS = {"db": "DATABASE_URL", "db_url": "DATABASE_URL", "cache": "CACHE_URL", "cache_url": "CACHE_URL",
                     "email": "EMAIL_URL", "email_url": "EMAIL_URL", "search_url": "SEARCH_URL",
                     "channels": "CHANNELS_URL", "channels_url": "CHANNELS_URL"}


def py_env_reads(text: str, path: str) -> tuple[list[EnvRead], ParseError | None]:
    """Every env read of one Python file; on a syntax error, ([], the error) so the caller can fall back."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError) as e:
        line = getattr(e, "lineno", None) or 1
        return [], ParseError(path, line, f"syntax error: {getattr(e, 'msg', str(e))}")
    nodes = list(ast.walk(tree))  # one walk; the recognisers then see only the node types they read
    v = _Visitor(path)
    v.imports(nodes)
    v.constants(tree.body)
    v.funcs = [n for n in nodes if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    v.classes = {n.name: n for n in nodes if isinstance(n, ast.ClassDef)}
    seen = [n for n in nodes if isinstance(n, ast.Subscript | ast.Compare | ast.Call | ast.ClassDef)]
    for node in sorted(seen, key=lambda n: (n.lineno, n.col_offset)):  # in source order
        v.visit(node)
    v.follow_helpers(nodes)
    return v.reads, None


def _short(expr: str) -> str:
    expr = " ".join(expr.split())
    return expr if len(expr) <= _EXPR_MAX else expr[: _EXPR_MAX - 1] + "…"


def _str(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


class _Visitor(ast.NodeVisitor):
    """Recognisers of env reads, dispatched per node (`visit`) by py_env_reads in source order."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.reads: list[EnvRead] = []
        self.os_names = {"os"}
        # a bare environ[...] / getenv(...) is os's unless the file says otherwise (`import environ` is django-environ)
        self.environ_names: set[str] = {"environ"}
        self.getenv_names: set[str] = {"getenv"}
        self.decouple_names: set[str] = set()
        self.config_classes: set[str] = set()  # starlette.config.Config
        self.env_libs: dict[str, str] = {}  # instance name -> 'environs' | 'django'
        self.lib_classes: dict[str, str] = {}  # Env imported from environs / environ
        self.consts: dict[str, set[str]] = {}
        self.settings_classes: set[str] = set()
        self.classes: dict[str, ast.ClassDef] = {}
        self.funcs: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        # helper name -> its dynamic reads: (read, param index, default, prefix, suffix) for os.getenv(p + '_FILE')
        self.helpers: dict[str, list[tuple[EnvRead, int, bool, str, str]]] = {}

    # --- set-up ----------------------------------------------------------------------------------
    def imports(self, nodes: list[ast.AST]) -> None:
        """Names bound to os, os.environ, os.getenv, decouple's config and the env libraries' Env."""
        for node in nodes:
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name == "os":
                        self.os_names.add(a.asname or "os")
                    elif a.name in ("environs", "environ"):
                        self.environ_names.discard(a.asname or a.name)
                        lib = "environs" if a.name == "environs" else "django"
                        self.lib_classes[(a.asname or a.name) + ".Env"] = lib
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    bound = a.asname or a.name
                    if node.module == "os" and a.name == "environ":
                        self.environ_names.add(bound)
                    elif node.module == "os" and a.name == "getenv":
                        self.getenv_names.add(bound)
                    elif node.module == "decouple" and a.name == "config":
                        self.decouple_names.add(bound)
                    elif node.module == "starlette.config" and a.name == "Config":
                        self.config_classes.add(bound)  # `config = Config('.env')`, then config('X', default=...)
                    elif node.module in ("environs", "environ") and a.name == "Env":
                        self.lib_classes[bound] = "environs" if node.module == "environs" else "django"
        if not self.lib_classes and not self.decouple_names and not self.config_classes:
            return
        for node in nodes:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and len(node.targets) == 1:
                target, func = node.targets[0], ast.unparse(node.value.func)
                if isinstance(target, ast.Name) and func in self.lib_classes:
                    self.env_libs[target.id] = self.lib_classes[func]
                elif isinstance(target, ast.Name) and (func in ("AutoConfig", "Config", "decouple.AutoConfig")
                                                       or func in self.config_classes):
                    self.decouple_names.add(target.id)

    def constants(self, body: Iterable[ast.stmt]) -> None:
        """Module-level `NAME = 'literal'` (a name assigned twice is ambiguous and not resolved)."""
        for st in body:
            target = st.targets[0] if isinstance(st, ast.Assign) and len(st.targets) == 1 else \
                st.target if isinstance(st, ast.AnnAssign) else None
            value = _str(st.value) if isinstance(st, ast.Assign | ast.AnnAssign) else None
            if isinstance(target, ast.Name) and value is not None:
                self.consts.setdefault(target.id, set()).add(value)

    # --- recognisers -----------------------------------------------------------------------------
    def is_environ(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.environ_names
        return isinstance(node, ast.Attribute) and node.attr == "environ" and isinstance(node.value, ast.Name) \
            and node.value.id in self.os_names

    def is_getenv(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.getenv_names
        return isinstance(node, ast.Attribute) and node.attr == "getenv" and isinstance(node.value, ast.Name) \
            and node.value.id in self.os_names

    def add(self, arg: ast.AST | None, at: ast.AST, dflt: bool, value: tuple[str, int] | None = None,
            expr: str | None = None) -> EnvRead:
        """A read of the variable named by `arg` (a literal, a resolved constant, or dynamic)."""
        line = getattr(at, "lineno", 1)
        name = _str(arg)
        if name is None and isinstance(arg, ast.Name) and len(self.consts.get(arg.id, ())) == 1:
            name = next(iter(self.consts[arg.id]))
        if name is not None and name.isidentifier():
            r = EnvRead(name, self.path, line, dflt, "", *(value or (None, 0)))
        else:
            r = EnvRead(None, self.path, line, dflt, _short(expr or (ast.unparse(arg) if arg is not None else "")))
            if (param := _param(arg)) is not None:
                self.helper(param, r, dflt, at)
        self.reads.append(r)
        return r

    def helper(self, param: tuple[str, str, str], read: EnvRead, dflt: bool, at: ast.AST) -> None:
        """Note `fn` as a helper when `param` (a name, with a literal prefix/suffix) is a parameter of the
        function around the read."""
        line = getattr(at, "lineno", 0)
        around = [f for f in self.funcs if f.lineno <= line <= (f.end_lineno or f.lineno)]
        if not around:
            return
        fn = max(around, key=lambda f: f.lineno)  # the innermost
        names = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)]
        if param[0] in names:
            self.helpers.setdefault(fn.name, []).append((read, names.index(param[0]), dflt, param[1], param[2]))

    # --- visiting --------------------------------------------------------------------------------
    def visit_Subscript(self, node: ast.Subscript) -> None:
        if self.is_environ(node.value) and isinstance(node.ctx, ast.Load):
            self.add(node.slice, node, False)

    def visit_Compare(self, node: ast.Compare) -> None:
        if len(node.ops) == 1 and isinstance(node.ops[0], ast.In | ast.NotIn) and self.is_environ(node.comparators[0]):
            self.add(node.left, node, True)

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        first = node.args[0] if node.args else _kw(node, "key") or _kw(node, "var")
        rest = len(node.args) > 1
        if isinstance(f, ast.Attribute) and f.attr in _ENV_METHODS and self.is_environ(f.value) or self.is_getenv(f):
            dflt_node = node.args[1] if rest else _kw(node, "default")
            self.add(first, node, dflt_node is not None, value_of(dflt_node),
                     expr=", ".join(ast.unparse(a) for a in node.args))
        elif isinstance(f, ast.Attribute) and f.attr == "config" and isinstance(f.value, ast.Name) \
                and f.value.id in _URL_LIBS:
            env, d = _kw(node, "env"), _kw(node, "default")
            if env is None or ast.unparse(env) == f"{f.value.id}.DEFAULT_ENV":
                env = ast.Constant(_URL_LIBS[f.value.id])
            self.add(env, node, d is not None, value_of(d), expr=f"{f.value.id}.config(env={ast.unparse(env)})")
        elif isinstance(f, ast.Name) and f.id in self.decouple_names:
            d = _kw(node, "default")
            self.add(first, node, d is not None, value_of(d))
        elif isinstance(f, ast.Name) and f.id in self.env_libs or (
            isinstance(f, ast.Attribute) and f.attr in _LIB_METHODS and isinstance(f.value, ast.Name)
            and f.value.id in self.env_libs
        ):
            self.lib_read(node, f)

    def lib_read(self, node: ast.Call, f: ast.expr) -> None:
        """environs / django-environ: `env('X')`, `env.str('X', default)`, `env.db()`."""
        lib = self.env_libs[f.id if isinstance(f, ast.Name) else f.value.id]  # type: ignore[attr-defined]
        d = _kw(node, "default")
        if d is None and lib == "environs" and len(node.args) > 1:
            d = node.args[1]
        first = node.args[0] if node.args else _kw(node, "var")
        if first is None and isinstance(f, ast.Attribute) and f.attr in _LIB_DEFAULT_VARS:
            first = ast.Constant(_LIB_DEFAULT_VARS[f.attr])
        if first is not None:
            self.add(first, node, d is not None, value_of(d))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        bases = [b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else ""
                 for b in node.bases]
        if any(b == "BaseSettings" or b in self.settings_classes for b in bases):
            self.settings_classes.add(node.name)
            self.reads += settings_reads(node, self.classes, self.path)

    # --- helpers ---------------------------------------------------------------------------------
    def follow_helpers(self, nodes: list[ast.AST]) -> None:
        """`env_bool('X')` where `def env_bool(name): ... os.getenv(name)`: a read of X at the call."""
        if not self.helpers:
            return
        called: set[str] = set()
        calls = sorted((n for n in nodes if isinstance(n, ast.Call)), key=lambda n: (n.lineno, n.col_offset))
        for node in calls:
            if not (isinstance(node.func, ast.Name) and node.func.id in self.helpers):
                continue
            called.add(node.func.id)
            done: set[str | None] = set()
            for _inner, idx, dflt, prefix, suffix in self.helpers[node.func.id]:
                arg = node.args[idx] if len(node.args) > idx else None
                extra = node.args[idx + 1] if len(node.args) > idx + 1 else _kw(node, "default")
                lit = _str(arg)
                name = f"{prefix}{lit}{suffix}" if lit is not None else None
                if name in done and name is not None:
                    continue  # `if name in os.environ: os.environ[name]`: one read per call
                done.add(name)
                self.add(ast.Constant(name) if name is not None else arg, node, dflt or extra is not None,
                         value_of(extra), expr=f"{node.func.id}({ast.unparse(arg) if arg is not None else ''})")
        for name in called:
            for inner, *_ in self.helpers[name]:
                if inner in self.reads:
                    self.reads.remove(inner)


def _param(arg: ast.AST | None) -> tuple[str, str, str] | None:
    """(name, prefix, suffix) when a read's name is a variable, maybe with literal affixes (`s + '_FILE'`,
    `f'{s}_FILE'`): a helper's parameter candidate."""
    if isinstance(arg, ast.Name):
        return arg.id, "", ""
    if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Add):
        if isinstance(arg.left, ast.Name) and (s := _str(arg.right)) is not None:
            return arg.left.id, "", s
        if isinstance(arg.right, ast.Name) and (s := _str(arg.left)) is not None:
            return arg.right.id, s, ""
    if isinstance(arg, ast.JoinedStr):
        holes = [v for v in arg.values if isinstance(v, ast.FormattedValue)]
        if len(holes) == 1 and isinstance(holes[0].value, ast.Name) and holes[0].conversion == -1 \
                and holes[0].format_spec is None:
            at = arg.values.index(holes[0])
            before = "".join(_str(v) or "" for v in arg.values[:at])
            return holes[0].value.id, before, "".join(_str(v) or "" for v in arg.values[at + 1:])
    return None
