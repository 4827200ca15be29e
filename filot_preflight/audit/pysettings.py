"""pydantic-settings classes as env reads: each field of a `BaseSettings` class is a variable.

The name is `env_prefix` + the field (upper-cased unless `case_sensitive`), or the field's alias
(`alias` / `validation_alias` / `AliasChoices` / `env=`). With `env_nested_delimiter='__'`, a field whose
type is a model of the same file (`db: DatabaseSettings`) is read leaf by leaf: PREFIX + `DB__HOST`,
at the leaf's line (where its default is), nested models followed a few levels; without a delimiter the
field is one variable holding JSON.
"""

from __future__ import annotations

import ast

from filot_preflight.audit.model import EnvRead

_NESTED_MAX = 4


def _str(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def value_of(node: ast.AST | None) -> tuple[str, int] | None:
    """A default's literal value (str, int, float) and its line, for the loopback rules."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float) \
            and not isinstance(node.value, bool):
        return str(node.value), node.lineno
    return None


def settings_reads(cls: ast.ClassDef, models: dict[str, ast.ClassDef], path: str) -> list[EnvRead]:
    """The reads of one settings class; `models` are the file's classes, for nested fields."""
    opts = _options(cls)
    prefix = opts.get("env_prefix") if isinstance(opts.get("env_prefix"), str) else ""
    delim = opts.get("env_nested_delimiter") if isinstance(opts.get("env_nested_delimiter"), str) else ""
    upper = opts.get("case_sensitive") is not True
    out: list[EnvRead] = []
    for st, field, dflt, value, aliases in _fields(cls):
        nested = models.get(_model_name(st.annotation)) if delim else None
        if nested is not None and not aliases:
            out += _leaves(nested, models, f"{prefix}{field}{delim}", str(delim), upper, path, 1)
            continue
        for n in aliases or [f"{prefix}{field}"]:
            out.append(EnvRead(n.upper() if upper else n, path, st.lineno, dflt, "", *(value or (None, 0))))
    return out


def _leaves(model: ast.ClassDef, models: dict[str, ast.ClassDef], head: str, delim: str, upper: bool, path: str,
            depth: int) -> list[EnvRead]:
    out: list[EnvRead] = []
    for st, field, dflt, value, _aliases in _fields(model):
        sub = models.get(_model_name(st.annotation))
        if sub is not None and depth < _NESTED_MAX:
            out += _leaves(sub, models, f"{head}{field}{delim}", delim, upper, path, depth + 1)
            continue
        name = f"{head}{field}"
        out.append(EnvRead(name.upper() if upper else name, path, st.lineno, dflt, "", *(value or (None, 0))))
    return out


def _model_name(ann: ast.expr) -> str:
    """`DatabaseSettings`, `DatabaseSettings | None`, `Optional[DatabaseSettings]` -> 'DatabaseSettings'."""
    if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
        left, right = _model_name(ann.left), _model_name(ann.right)
        return left if right in ("", "None") else right if left in ("", "None") else ""
    if isinstance(ann, ast.Subscript) and ast.unparse(ann.value).split(".")[-1] == "Optional":
        return _model_name(ann.slice)
    return ann.id if isinstance(ann, ast.Name) else ""


def _options(cls: ast.ClassDef) -> dict[str, object]:
    """model_config = SettingsConfigDict(...) / {...}, or an inner `class Config`."""
    opts: dict[str, object] = {}
    for st in cls.body:
        is_config = isinstance(st, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "model_config"
                                                       for t in st.targets)
        if is_config and isinstance(st, ast.Assign) and isinstance(st.value, ast.Call):
            opts.update({k.arg: getattr(k.value, "value", None) for k in st.value.keywords if k.arg})
        elif is_config and isinstance(st, ast.Assign) and isinstance(st.value, ast.Dict):
            for k, v in zip(st.value.keys, st.value.values, strict=True):
                if (key := _str(k)) is not None:
                    opts[key] = getattr(v, "value", None)
        elif isinstance(st, ast.ClassDef) and st.name == "Config":
            for sub in st.body:
                if isinstance(sub, ast.Assign) and isinstance(sub.targets[0], ast.Name):
                    opts[sub.targets[0].id] = getattr(sub.value, "value", None)
    return opts


def _fields(cls: ast.ClassDef) -> list[tuple[ast.AnnAssign, str, bool, tuple[str, int] | None, list[str]]]:
    """(statement, field, has default, default literal, aliases) of each annotated field."""
    out = []
    for st in cls.body:
        if not isinstance(st, ast.AnnAssign) or not isinstance(st.target, ast.Name):
            continue
        field = st.target.id
        ann = ast.unparse(st.annotation)
        if field == "model_config" or field.startswith("_") or ann.startswith(("ClassVar", "typing.ClassVar")):
            continue
        out.append((st, field, *_field(st.value)))
    return out


def _field(value: ast.expr | None) -> tuple[bool, tuple[str, int] | None, list[str]]:
    """(has default, default literal, aliases) of a settings field's right-hand side."""
    if value is None:
        return False, None, []
    if not (isinstance(value, ast.Call) and ast.unparse(value.func).split(".")[-1] == "Field"):
        return True, value_of(value), []
    first = value.args[0] if value.args else None
    d = _kw(value, "default")
    if d is None and first is not None and not (isinstance(first, ast.Constant) and first.value is Ellipsis):
        d = first
    dflt = d is not None or _kw(value, "default_factory") is not None
    aliases: list[str] = []
    for key in ("validation_alias", "alias", "env"):
        a = _kw(value, key)
        if a is None:
            continue
        if isinstance(a, ast.Call):  # AliasChoices("A", "B")
            aliases = [s for s in (_str(x) for x in a.args) if s]
        elif isinstance(a, ast.List | ast.Tuple | ast.Set):
            aliases = [s for s in (_str(x) for x in a.elts) if s]
        elif _str(a):
            aliases = [_str(a) or ""]
        if aliases:
            break
    return dflt, value_of(d), aliases
