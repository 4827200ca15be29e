"""Environment-variable reads in JS/TS/TSX, read from a tree-sitter syntax tree.

Anchors are found by plain text search (`process`, `meta`, `cleanEnv`, `.get(`, ...); the syntax tree
then decides what each one is: a read, a write (`process.env.X = 1`, `delete process.env.X`), a comment
or a string (neither), a read with a fallback (`?? 'x'`, a destructuring default), a schema over
`process.env` (envalid `cleanEnv`, zod `.parse(process.env)`, t3-env `createEnv`, znv `parseEnv`), Strapi's
config functions `({ env }) => ({ host: env('HOST') })` (jsconfig_fns),
NestJS `ConfigService.get('X')`, or a same-file helper `function env(name) { return process.env[name] }`
followed one level to its call sites; `const env = process.env` makes `env.X` a read too. tree-sitter
is imported on first use only (`preflight --version` stays cheap). A file with a syntax error is still read
(tree-sitter recovers) and the error reported.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from filot_preflight.audit import jsconfig_fns
from filot_preflight.audit.jsschemas import NAME, SchemaReads, default_value, literal, short, text_of
from filot_preflight.audit.model import EnvRead, ParseError

if TYPE_CHECKING:
    from tree_sitter import Node, Parser

_parsers: dict[str, Parser] = {}
_WRAPPERS = frozenset({"parenthesized_expression", "as_expression", "non_null_expression", "satisfies_expression",
                       "type_assertion"})
_FUNCS = frozenset({"function_declaration", "function_expression", "arrow_function", "method_definition",
                    "generator_function_declaration", "function"})
_GET = re.compile(rb"\.\s*(?:get|getOrThrow)\s*(?:<[^>()]*>)?\s*\(")
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
    if b"env" in src and jsconfig_fns.PARAM.search(src):
        jsconfig_fns.env_param_reads(ctx)
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
    if prop is None or text_of(prop) != "env" or obj is None:
        return False
    return (obj.type == "identifier" and text_of(obj) == "process") or obj.type == "meta_property"


class _Ctx(SchemaReads):
    """State of one file's extraction (schemas and ConfigService: jsschemas.SchemaReads)."""

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
        up = _unwrap_up(env)
        decl = up.parent
        if decl is not None and decl.type == "variable_declarator" and decl.child_by_field_name("value") == up:
            pattern = decl.child_by_field_name("name")
            if pattern is not None and pattern.type == "object_pattern":
                self.destructured(pattern)
            elif pattern is not None and pattern.type == "identifier":
                self.alias(text_of(pattern))
            return
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
                self.read(text_of(prop), outer, dflt, value)
        elif kind == "subscript_expression" and outer.child_by_field_name("object") == env:
            top = _unwrap_up(outer)
            if self.written(top):
                return
            index = outer.child_by_field_name("index")
            dflt, value = self.fallback(top)
            name = literal(index)
            if name is not None and NAME.fullmatch(name):
                self.read(name, outer, dflt, value)
                return
            expr = text_of(index) if index is not None else ""
            r = self.read(None, outer, dflt, value, short(expr))
            if index is not None and index.type == "identifier":
                self.helper_param(outer, expr, r, dflt)
        elif kind == "arguments":
            self.schema_call(outer)

    def alias(self, name: str) -> None:
        """`const env = process.env as Record<string, string>`: `env.X` and `env['X']` read X too."""
        for m in re.finditer(rb"(?<![\w$.])" + re.escape(name.encode()) + rb"\s*(?:\?\.|\.|\[)", self.src):
            node = self.root.named_descendant_for_byte_range(m.start(), m.start() + len(name))
            if node is None or node.type != "identifier":
                continue
            outer = node.parent
            if outer is None or outer.type not in ("member_expression", "subscript_expression") \
                    or outer.child_by_field_name("object") != node or node.start_byte in self.seen:
                continue
            self.seen.add(node.start_byte)
            self.classify(node)

    def written(self, top: Node) -> bool:
        """`process.env.X = v`, `process.env.X ||= v`, `delete process.env.X`: not reads."""
        p = top.parent
        if p is None:
            return False
        if p.type in ("assignment_expression", "augmented_assignment_expression"):
            return p.child_by_field_name("left") == top
        return p.type == "unary_expression" and (p.child(0) is not None and text_of(p.child(0)) == "delete")

    def fallback(self, top: Node) -> tuple[bool, tuple[str, int] | None]:
        """`X || 'd'`, `X ?? 3`: whether a fallback follows, and its literal value."""
        p = top.parent
        if p is not None and p.type == "binary_expression" and p.child_by_field_name("left") == top:
            op = p.child_by_field_name("operator")
            if op is not None and text_of(op) in ("||", "??"):
                return True, default_value(p.child_by_field_name("right"))
        return False, None

    def destructured(self, pattern: Node) -> None:
        """`const { A, B: b, C = 'x', 'D': d, ...rest } = process.env`."""
        for item in pattern.named_children:
            if item.type == "shorthand_property_identifier_pattern":
                self.read(text_of(item), item)
            elif item.type == "object_assignment_pattern":
                left, right = item.child_by_field_name("left"), item.child_by_field_name("right")
                if left is not None:
                    self.read(text_of(left), item, True, default_value(right))
            elif item.type == "pair_pattern":
                key, value = item.child_by_field_name("key"), item.child_by_field_name("value")
                name = text_of(key) if key is not None and key.type == "property_identifier" else literal(key)
                dflt = value is not None and value.type == "assignment_pattern"
                dvalue = default_value(value.child_by_field_name("right")) if dflt and value is not None else None
                if name is not None:
                    self.read(name, item, dflt, dvalue)
                else:
                    self.read(None, item, expr=short(text_of(item)))
            elif item.type == "rest_pattern":
                self.read(None, item, expr=short(text_of(item)))

    # --- helpers followed one level ------------------------------------------------------------------
    def helper_param(self, at: Node, param: str, read: EnvRead, dflt: bool) -> None:
        """`process.env[name]` where `name` is a parameter of the enclosing named function."""
        fn = at.parent
        while fn is not None and fn.type not in _FUNCS:
            fn = fn.parent
        if fn is None:
            return
        params = fn.child_by_field_name("parameters") or fn.child_by_field_name("parameter")
        if params is None or param not in re.findall(r"[A-Za-z_$][\w$]*", text_of(params)):
            return
        name = fn.child_by_field_name("name")
        if name is None and fn.parent is not None and fn.parent.type == "variable_declarator":
            name = fn.parent.child_by_field_name("name")
        if name is not None and name.type in ("identifier", "property_identifier"):
            self.helpers[text_of(name)] = (read, dflt)

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
                name = literal(items[0]) if items else None
                found = True
                if name is not None and NAME.fullmatch(name):
                    value = default_value(items[1]) if len(items) > 1 else None
                    self.read(name, call, dflt or len(items) > 1, value)
                else:
                    self.read(None, call, expr=short(f"{fname}({text_of(items[0]) if items else ''})"))
            if found:
                self.reads.remove(inner)
