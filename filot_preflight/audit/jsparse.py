"""Environment-variable reads in JS/TS/TSX, read from a tree-sitter syntax tree.

Anchors are found by plain text search (`process`, `meta`, `cleanEnv`, `.get(`, ...); the syntax tree
then decides what each one is: a read, a write (`process.env.X = 1`, `delete process.env.X`), a comment
or a string (neither), a read with a fallback (`?? 'x'`, a destructuring default), a schema over
`process.env` (envalid `cleanEnv`, zod `.parse(process.env)`, t3-env `createEnv`, znv `parseEnv`),
NestJS `ConfigService.get('X')`, or a same-file helper `function env(name) { return process.env[name] }`
followed one level to its call sites. tree-sitter is imported on first use only (`preflight --version`
stays cheap). A file with a syntax error is still read (tree-sitter recovers) and the error reported.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from filot_preflight.audit.model import EnvRead, ParseError

if TYPE_CHECKING:
    from tree_sitter import Node, Parser

_EXPR_MAX = 60
_parsers: dict[str, Parser] = {}
_WRAPPERS = frozenset({"parenthesized_expression", "as_expression", "non_null_expression", "satisfies_expression",
                       "type_assertion"})
_FUNCS = frozenset({"function_declaration", "function_expression", "arrow_function", "method_definition",
                    "generator_function_declaration", "function"})
_SCHEMA_CALLS = (b"cleanEnv", b"parseEnv", b"createEnv", b".parse", b".safeParse", b".parseAsync")
_GET = re.compile(rb"\.\s*(?:get|getOrThrow)\s*(?:<[^>()]*>)?\s*\(")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LINE_COMMENT = re.compile(r"^[ \t]*//[^\n]*", re.M)


def parser_for(path: str) -> Parser:
    """The parser for a file's dialect: TypeScript, TSX, or JavaScript (JSX included)."""
    low = path.lower()
    dialect = "tsx" if low.endswith(".tsx") else "ts" if low.endswith((".ts", ".mts", ".cts")) else "js"
    if dialect not in _parsers:
        from tree_sitter import Language, Parser  # lazily: only a source audit needs the grammars

        if dialect == "js":
            import tree_sitter_javascript as grammar

            lang = Language(grammar.language())
        else:
            import tree_sitter_typescript as ts_grammar

            lang = Language(ts_grammar.language_tsx() if dialect == "tsx" else ts_grammar.language_typescript())
        _parsers[dialect] = Parser(lang)
    return _parsers[dialect]


def js_env_reads(text: str, path: str) -> tuple[list[EnvRead], ParseError | None]:
    """Every env read of one JS/TS file, and its first syntax error (None when it parses cleanly)."""
    # Comment-only lines are emptied before parsing (lexing them is most of the parse time in a well-commented
    # file); every line keeps its number, and what is left parses to the same tree.
    src = _LINE_COMMENT.sub("", text).encode("utf-8") if "//" in text else text.encode("utf-8")
    tree = parser_for(path).parse(src)
    root = tree.root_node
    ctx = _Ctx(src, root, path)
    for anchor in (b"process", b"meta"):
        i = src.find(anchor)
        while i >= 0:
            ctx.anchor_env(i, anchor)
            i = src.find(anchor, i + 1)
    if b"createEnv" in src:
        ctx.t3_env()
    if b"ConfigService" in src or b"configService" in src:
        for m in _GET.finditer(src):
            ctx.config_get(m.start())
    ctx.follow_helpers()
    return ctx.reads, _first_error(root, path) if root.has_error else None


def _first_error(root: Node, path: str) -> ParseError:
    """The first ERROR / MISSING node, depth first."""
    stack = [root]
    while stack:
        n = stack.pop()
        if n.is_error or n.is_missing:
            what = f"missing {n.type}" if n.is_missing else "syntax error"
            return ParseError(path, n.start_point.row + 1, what)
        stack.extend(reversed([c for c in n.children if c.has_error or c.is_missing]))
    return ParseError(path, root.start_point.row + 1, "syntax error")


def _text(n: Node) -> str:
    return (n.text or b"").decode("utf-8", "replace")


def _short(expr: str) -> str:
    expr = " ".join(expr.split())
    return expr if len(expr) <= _EXPR_MAX else expr[: _EXPR_MAX - 1] + "…"


def _literal(n: Node | None) -> str | None:
    """The value of a string literal (or a template without substitutions), else None."""
    if n is None:
        return None
    if n.type == "string" or (n.type == "template_string" and not any(c.type == "template_substitution"
                                                                      for c in n.children)):
        return "".join(_text(c) for c in n.named_children if c.type in ("string_fragment", "escape_sequence"))
    return None


def _default_value(n: Node | None) -> tuple[str, int] | None:
    """A fallback's literal value (string or number) and its line, kept so loopback defaults can be judged."""
    if n is None:
        return None
    value = _text(n) if n.type == "number" else _literal(n)
    return None if value is None else (value, n.start_point.row + 1)


def _unwrap_up(n: Node) -> Node:
    """Climb out of parentheses, `as T`, `!` and `satisfies T` around an expression."""
    while n.parent is not None and n.parent.type in _WRAPPERS:
        n = n.parent
    return n


def _is_env(n: Node | None) -> bool:
    """`process.env` or `import.meta.env`."""
    if n is None or n.type != "member_expression":
        return False
    obj, prop = n.child_by_field_name("object"), n.child_by_field_name("property")
    if prop is None or _text(prop) != "env" or obj is None:
        return False
    return (obj.type == "identifier" and _text(obj) == "process") or obj.type == "meta_property"


class _Ctx:
    """State of one file's extraction."""

    def __init__(self, src: bytes, root: Node, path: str) -> None:
        self.src, self.root, self.path = src, root, path
        self.reads: list[EnvRead] = []
        self.seen: set[int] = set()  # start bytes of env nodes already handled
        self.helpers: dict[str, tuple[EnvRead, bool]] = {}  # function name -> (its dynamic read, has default)

    def read(self, name: str | None, at: Node, dflt: bool = False, value: tuple[str, int] | None = None,
             expr: str = "") -> EnvRead:
        r = EnvRead(name, self.path, at.start_point.row + 1, dflt, expr, *(value or (None, 0)))
        self.reads.append(r)
        return r

    # --- process.env / import.meta.env ---------------------------------------------------------
    def anchor_env(self, i: int, anchor: bytes) -> None:
        node = self.root.named_descendant_for_byte_range(i, i + len(anchor))
        if node is None or node.type not in ("identifier", "meta_property", "meta"):
            return
        env = node.parent
        if node.type == "meta" and env is not None:
            node, env = env, env.parent
        if env is None or not _is_env(env) or env.child_by_field_name("object") != node or env.start_byte in self.seen:
            return
        self.seen.add(env.start_byte)
        self.classify(env)

    def classify(self, env: Node) -> None:
        outer = env.parent
        if outer is None:
            return
        kind = outer.type
        if kind == "member_expression" and outer.child_by_field_name("object") == env:
            prop = outer.child_by_field_name("property")
            top = _unwrap_up(outer)
            parent = top.parent
            if parent is not None and parent.type == "call_expression" \
                    and parent.child_by_field_name("function") == top:
                return  # process.env.hasOwnProperty(...): a method, not a variable
            if prop is not None and not self.written(top):
                dflt, value = self.fallback(top)
                self.read(_text(prop), outer, dflt, value)
        elif kind == "subscript_expression" and outer.child_by_field_name("object") == env:
            top = _unwrap_up(outer)
            if self.written(top):
                return
            index = outer.child_by_field_name("index")
            dflt, value = self.fallback(top)
            name = _literal(index)
            if name is not None and _NAME.fullmatch(name):
                self.read(name, outer, dflt, value)
                return
            expr = _text(index) if index is not None else ""
            r = self.read(None, outer, dflt, value, _short(expr))
            if index is not None and index.type == "identifier":
                self.helper_param(outer, expr, r, dflt)
        elif kind == "variable_declarator" and outer.child_by_field_name("value") == env:
            pattern = outer.child_by_field_name("name")
            if pattern is not None and pattern.type == "object_pattern":
                self.destructured(pattern)
        elif kind == "arguments":
            self.schema_call(outer)

    def written(self, top: Node) -> bool:
        """`process.env.X = v`, `process.env.X ||= v`, `delete process.env.X`: not reads."""
        p = top.parent
        if p is None:
            return False
        if p.type in ("assignment_expression", "augmented_assignment_expression"):
            return p.child_by_field_name("left") == top
        return p.type == "unary_expression" and (p.child(0) is not None and _text(p.child(0)) == "delete")

    def fallback(self, top: Node) -> tuple[bool, tuple[str, int] | None]:
        """`X || 'd'`, `X ?? 3`: whether a fallback follows, and its literal value."""
        p = top.parent
        if p is not None and p.type == "binary_expression" and p.child_by_field_name("left") == top:
            op = p.child_by_field_name("operator")
            if op is not None and _text(op) in ("||", "??"):
                return True, _default_value(p.child_by_field_name("right"))
        return False, None

    def destructured(self, pattern: Node) -> None:
        """`const { A, B: b, C = 'x', 'D': d, ...rest } = process.env`."""
        for item in pattern.named_children:
            if item.type == "shorthand_property_identifier_pattern":
                self.read(_text(item), item)
            elif item.type == "object_assignment_pattern":
                left, right = item.child_by_field_name("left"), item.child_by_field_name("right")
                if left is not None:
                    self.read(_text(left), item, True, _default_value(right))
            elif item.type == "pair_pattern":
                key, value = item.child_by_field_name("key"), item.child_by_field_name("value")
                name = _text(key) if key is not None and key.type == "property_identifier" else _literal(key)
                dflt = value is not None and value.type == "assignment_pattern"
                dvalue = _default_value(value.child_by_field_name("right")) if dflt and value is not None else None
                if name is not None:
                    self.read(name, item, dflt, dvalue)
                else:
                    self.read(None, item, expr=_short(_text(item)))
            elif item.type == "rest_pattern":
                self.read(None, item, expr=_short(_text(item)))

    # --- schemas over process.env ----------------------------------------------------------------
    def schema_call(self, args: Node) -> None:
        """cleanEnv(process.env, {...}) / parseEnv(process.env, {...}) / schema.parse(process.env)."""
        call = args.parent
        if call is None or call.type != "call_expression":
            return
        fn = call.child_by_field_name("function")
        if fn is None:
            return
        fname = _text(fn.child_by_field_name("property") or fn) if fn.type == "member_expression" else _text(fn)
        rest = args.named_children[1:]
        if fname in ("cleanEnv", "parseEnv", "cleanEnvironment") and rest and rest[0].type == "object":
            self.schema_keys(rest[0])
        elif fname in ("parse", "safeParse", "parseAsync", "safeParseAsync") and fn.type == "member_expression":
            obj = fn.child_by_field_name("object")
            schema = self.schema_object(obj)
            if schema is not None:
                self.schema_keys(schema)
            elif obj is not None:
                self.read(None, call, expr=_short(f"{_text(obj)}.{fname}(process.env)"))

    def schema_object(self, expr: Node | None, depth: int = 0) -> Node | None:
        """The `{...}` of `z.object({...})` (through chained calls and one same-file variable)."""
        while expr is not None and depth < 8:
            depth += 1
            if expr.type == "identifier":
                expr = self.declared(_text(expr))
                continue
            if expr.type != "call_expression":
                return None
            fn = expr.child_by_field_name("function")
            args = expr.child_by_field_name("arguments")
            prop = fn.child_by_field_name("property") if fn is not None and fn.type == "member_expression" else None
            first = args.named_children[0] if args is not None and args.named_children else None
            if prop is not None and _text(prop) in ("object", "strictObject", "looseObject") and first is not None \
                    and first.type == "object":
                return first
            expr = fn.child_by_field_name("object") if fn is not None and fn.type == "member_expression" else None
        return None

    def declared(self, name: str) -> Node | None:
        """The initial value of `const name = ...` in this file (the first such declaration)."""
        for m in re.finditer(rb"\b" + re.escape(name.encode()) + rb"\s*(?::[^=]+)?=", self.src):
            node = self.root.named_descendant_for_byte_range(m.start(), m.start() + len(name))
            if node is not None and node.parent is not None and node.parent.type == "variable_declarator" \
                    and node.parent.child_by_field_name("name") == node:
                return node.parent.child_by_field_name("value")
        return None

    def schema_keys(self, obj: Node) -> None:
        """Each key of a schema object is a read; `.default(x)` / `.optional()` / `{ default: x }` a fallback."""
        for pair in obj.named_children:
            if pair.type == "shorthand_property_identifier":
                self.read(_text(pair), pair)
                continue
            if pair.type != "pair":
                continue
            key, value = pair.child_by_field_name("key"), pair.child_by_field_name("value")
            name = _text(key) if key is not None and key.type == "property_identifier" else _literal(key)
            if name is None:
                self.read(None, pair, expr=_short(_text(key) if key is not None else ""))
                continue
            dflt, dvalue = _schema_default(value)
            self.read(name, pair, dflt, dvalue)

    def t3_env(self) -> None:
        """t3-env: `createEnv({ server: {...}, client: {...}, shared: {...}, runtimeEnv: process.env })`."""
        for m in re.finditer(rb"\bcreateEnv\s*\(", self.src):
            node = self.root.named_descendant_for_byte_range(m.start(), m.start() + 9)
            call = node.parent if node is not None else None
            if call is None or call.type != "call_expression":
                continue
            args = call.child_by_field_name("arguments")
            first = args.named_children[0] if args is not None and args.named_children else None
            if first is None or first.type != "object":
                continue
            for pair in first.named_children:
                key = pair.child_by_field_name("key") if pair.type == "pair" else None
                value = pair.child_by_field_name("value") if key is not None else None
                if key is not None and _text(key) in ("server", "client", "shared") and value is not None \
                        and value.type == "object":
                    self.schema_keys(value)

    # --- NestJS ConfigService ----------------------------------------------------------------------
    def config_get(self, at: int) -> None:
        """`this.configService.get<string>('X', 'd')` / `config.getOrThrow('X')`."""
        prop = self.root.named_descendant_for_byte_range(at + 1, at + 2)
        while prop is not None and prop.type != "property_identifier":
            prop = prop.parent if prop.type not in ("program",) else None
        member = prop.parent if prop is not None else None
        call = member.parent if member is not None else None
        if member is None or call is None or call.type != "call_expression" or member.type != "member_expression":
            return
        obj = member.child_by_field_name("object")
        if obj is None or not re.search(r"config(?:service)?$", _text(obj), re.I):
            return
        args = call.child_by_field_name("arguments")
        items = args.named_children if args is not None else []
        if not items:
            return
        name = _literal(items[0])
        if name is not None and "." in name:
            return  # a registerAs namespace path ('database.host'), not a variable
        if name is not None and _NAME.fullmatch(name):
            self.read(name, call, len(items) > 1, _default_value(items[1]) if len(items) > 1 else None)
        else:
            self.read(None, call, expr=_short(_text(items[0])))

    # --- helpers followed one level ------------------------------------------------------------------
    def helper_param(self, at: Node, param: str, read: EnvRead, dflt: bool) -> None:
        """`process.env[name]` where `name` is a parameter of the enclosing named function."""
        fn = at.parent
        while fn is not None and fn.type not in _FUNCS:
            fn = fn.parent
        if fn is None:
            return
        params = fn.child_by_field_name("parameters") or fn.child_by_field_name("parameter")
        if params is None or param not in re.findall(r"[A-Za-z_$][\w$]*", _text(params)):
            return
        name = fn.child_by_field_name("name")
        if name is None and fn.parent is not None and fn.parent.type == "variable_declarator":
            name = fn.parent.child_by_field_name("name")
        if name is not None and name.type in ("identifier", "property_identifier"):
            self.helpers[_text(name)] = (read, dflt)

    def follow_helpers(self) -> None:
        """Calls of a helper with a literal name are reads; the helper's own dynamic read is then dropped."""
        for fname, (inner, dflt) in self.helpers.items():
            found = False
            for m in re.finditer(rb"(?<![\w$.])" + re.escape(fname.encode()) + rb"\s*(?:<[^>()]*>)?\s*\(", self.src):
                node = self.root.named_descendant_for_byte_range(m.start(), m.start() + len(fname))
                call = node.parent if node is not None else None
                if call is None or call.type != "call_expression" or call.child_by_field_name("function") != node:
                    continue
                args = call.child_by_field_name("arguments")
                items = args.named_children if args is not None else []
                name = _literal(items[0]) if items else None
                found = True
                if name is not None and _NAME.fullmatch(name):
                    value = _default_value(items[1]) if len(items) > 1 else None
                    self.read(name, call, dflt or len(items) > 1, value)
                else:
                    self.read(None, call, expr=_short(f"{fname}({_text(items[0]) if items else ''})"))
            if found:
                self.reads.remove(inner)


def _schema_default(value: Node | None) -> tuple[bool, tuple[str, int] | None]:
    """Whether a schema entry has a fallback, and its literal: zod `.default(x)` / `.optional()`, envalid
    `{ default: x }` (envalid's `devDefault` applies only outside production, so it is not a fallback)."""
    node: Any = value
    while node is not None and node.type == "call_expression":
        fn = node.child_by_field_name("function")
        args = node.child_by_field_name("arguments")
        items = args.named_children if args is not None else []
        prop = fn.child_by_field_name("property") if fn is not None and fn.type == "member_expression" else None
        if prop is not None and _text(prop) in ("default", "catch"):
            return True, _default_value(items[0]) if items else None
        if prop is not None and _text(prop) in ("optional", "nullish"):
            return True, None
        for item in items:
            if item.type == "object":
                for pair in item.named_children:
                    key = pair.child_by_field_name("key") if pair.type == "pair" else None
                    if key is not None and _text(key) == "default":
                        return True, _default_value(pair.child_by_field_name("value"))
        node = fn.child_by_field_name("object") if fn is not None and fn.type == "member_expression" else None
    return False, None
