"""Env reads through schemas and config services in JS/TS: envalid `cleanEnv`, znv `parseEnv`, zod
`.parse(process.env)` and Joi `.validate(process.env)` (inline or through a same-file `const schema`; spreads
`...(cond && {...})` included), t3-env `createEnv`, a same-file class validated over process.env
(class-validator: `validateConfig(process.env, EnvVars)`), NestJS `configService.get('X')`.
`SchemaReads` is a mixin of jsparse's per-file context; the node helpers here are shared by both modules.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from filot_preflight.audit.model import EnvRead

if TYPE_CHECKING:
    from tree_sitter import Node

_EXPR_MAX = 60
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def text_of(n: Node) -> str:
    """A node's source text."""
    return (n.text or b"").decode("utf-8", "replace")


def short(expr: str) -> str:
    """An expression on one line, cut to _EXPR_MAX characters."""
    expr = " ".join(expr.split())
    return expr if len(expr) <= _EXPR_MAX else expr[: _EXPR_MAX - 1] + "…"


def literal(n: Node | None) -> str | None:
    """The value of a string literal (or a template without substitutions), else None."""
    if n is None:
        return None
    if n.type == "string" or (n.type == "template_string" and not any(c.type == "template_substitution"
                                                                      for c in n.children)):
        return "".join(text_of(c) for c in n.named_children if c.type in ("string_fragment", "escape_sequence"))
    return None


def default_value(n: Node | None) -> tuple[str, int] | None:
    """A fallback's literal value (string or number) and its line, kept so loopback defaults can be judged."""
    if n is None:
        return None
    value = text_of(n) if n.type == "number" else literal(n)
    return None if value is None else (value, n.start_point.row + 1)


_SCHEMA_CALLS = frozenset({"cleanEnv", "parseEnv", "cleanEnvironment", "parse", "safeParse", "parseAsync",
                           "safeParseAsync", "validate", "validateAsync"})


class SchemaReads:
    """Schema and ConfigService reads; the host class provides the file (`src`, `root`) and `read`."""

    src: bytes
    root: Node

    def read(self, name: str | None, at: Node, dflt: bool = False, value: tuple[str, int] | None = None,
             expr: str = "") -> EnvRead:
        """Record a read (implemented by the host)."""
        raise NotImplementedError

    # --- schemas over process.env ----------------------------------------------------------------
    def schema_call(self, args: Node) -> None:
        """cleanEnv(process.env, {...}) / parseEnv(process.env, {...}) / schema.parse(process.env)."""
        call = args.parent
        if call is None or call.type != "call_expression":
            return
        fn = call.child_by_field_name("function")
        if fn is None:
            return
        fname = text_of(fn.child_by_field_name("property") or fn) if fn.type == "member_expression" else text_of(fn)
        rest = args.named_children[1:]
        for other in args.named_children:
            cls = self.declared_class(text_of(other)) if other.type == "identifier" else None
            if cls is not None:  # class-validator / class-transformer: the class's fields are the variables
                self.class_fields(cls)
                return
        outer = call.parent
        if fname not in _SCHEMA_CALLS and outer is not None and outer.type == "arguments" \
                and outer.named_children and outer.named_children[0] == call:
            # schema.parse(removeEmptyEnvVariables(process.env)): one call around process.env, then the schema
            self.schema_call(outer)
            return
        spec = self.schema_object(rest[0]) if fname in ("cleanEnv", "parseEnv", "cleanEnvironment") and rest else None
        if spec is not None:
            self.schema_keys(spec)
        elif fname in ("parse", "safeParse", "parseAsync", "safeParseAsync", "validate", "validateAsync") \
                and fn.type == "member_expression":
            obj = fn.child_by_field_name("object")
            schema = self.schema_object(obj)
            if schema is not None:
                self.schema_keys(schema)
            elif obj is not None:
                self.read(None, call, expr=short(f"{text_of(obj)}.{fname}(process.env)"))

    def schema_object(self, expr: Node | None, depth: int = 0) -> Node | None:
        """The `{...}` of `z.object({...})` (through chained calls and one same-file variable)."""
        while expr is not None and depth < 8:
            depth += 1
            if expr.type == "object":  # envalid's spec object (inline or through a const)
                return expr
            if expr.type in ("as_expression", "satisfies_expression", "parenthesized_expression"):
                expr = expr.named_children[0] if expr.named_children else None
                continue
            if expr.type == "identifier":
                expr = self.declared(text_of(expr))
                continue
            if expr.type != "call_expression":
                return None
            fn = expr.child_by_field_name("function")
            args = expr.child_by_field_name("arguments")
            prop = fn.child_by_field_name("property") if fn is not None and fn.type == "member_expression" else None
            first = args.named_children[0] if args is not None and args.named_children else None
            if prop is not None and text_of(prop) in ("object", "strictObject", "looseObject", "keys", "append") \
                    and first is not None \
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

    def declared_class(self, name: str) -> Node | None:
        """The body of `class name {...}` declared in this file."""
        for m in re.finditer(rb"\bclass\s+" + re.escape(name.encode()) + rb"\b", self.src):
            node = self.root.named_descendant_for_byte_range(m.end() - len(name), m.end())
            cls = node.parent if node is not None else None
            if cls is not None and cls.type == "class_declaration":
                return cls.child_by_field_name("body")
        return None

    def class_fields(self, body: Node) -> None:
        """Each field of a class validated over process.env is a read (`?`, an initialiser or @IsOptional()
        make it optional)."""
        for f in body.named_children:
            name = f.child_by_field_name("name") if f.type == "public_field_definition" else None
            if name is None or name.type != "property_identifier":
                continue
            value = f.child_by_field_name("value")
            optional = value is not None or "?" in (text_of(f)[: name.end_byte - f.start_byte + 1]) \
                or b"IsOptional" in (f.text or b"")
            self.read(text_of(name), name, optional, default_value(value))

    def schema_keys(self, obj: Node) -> None:
        """Each key of a schema object is a read; `.default(x)` / `.optional()` / `{ default: x }` a fallback."""
        for pair in obj.named_children:
            if pair.type == "spread_element":
                self.spread(pair)
                continue
            if pair.type == "shorthand_property_identifier":
                self.read(text_of(pair), pair)
                continue
            if pair.type != "pair":
                continue
            key, value = pair.child_by_field_name("key"), pair.child_by_field_name("value")
            name = text_of(key) if key is not None and key.type == "property_identifier" else literal(key)
            if name is None:
                self.read(None, pair, expr=short(text_of(key) if key is not None else ""))
                continue
            dflt, dvalue = _schema_default(value)
            self.read(name, pair, dflt, dvalue)

    def spread(self, el: Node) -> None:
        """`...(cond && {...})` / `...(c ? {...} : {...})` / `...other`: the keys of every object it may add;
        keys computed inside it (`[key]: bool()`) are dynamic reads."""
        arg = el.named_children[0] if el.named_children else None
        objs: list[Node] = []
        stack = [arg] if arg is not None else []
        while stack:
            n = stack.pop()
            if n.type in ("parenthesized_expression", "as_expression", "satisfies_expression"):
                stack.extend(n.named_children[:1])
            elif n.type == "binary_expression":
                stack.extend(c for c in (n.child_by_field_name("right"),) if c is not None)
            elif n.type == "ternary_expression":
                stack.extend(c for c in (n.child_by_field_name("consequence"), n.child_by_field_name("alternative"))
                             if c is not None)
            elif (found := self.schema_object(n)) is not None:
                objs.append(found)
        for o in objs:
            self.schema_keys(o)
        if objs or arg is None:
            return
        computed = [p for p in _descendants(arg, "computed_property_name")]
        for key in computed or [arg]:
            self.read(None, key, expr=short(text_of(key)))

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
                if key is not None and text_of(key) in ("server", "client", "shared") and value is not None \
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
        if obj is None or not re.search(r"config(?:service)?$", text_of(obj), re.I):
            return
        args = call.child_by_field_name("arguments")
        items = args.named_children if args is not None else []
        if not items:
            return
        name = literal(items[0])
        if name is not None and "." in name:
            return  # a registerAs namespace path ('database.host'), not a variable
        if name is not None and NAME.fullmatch(name):
            self.read(name, call, len(items) > 1, default_value(items[1]) if len(items) > 1 else None)
        else:
            self.read(None, call, expr=short(text_of(items[0])))


def _schema_default(value: Node | None) -> tuple[bool, tuple[str, int] | None]:
    """Whether a schema entry has a fallback, and its literal: zod `.default(x)` / `.optional()`, envalid
    `{ default: x }` (envalid's `devDefault` applies only outside production, so it is not a fallback)."""
    node: Any = value
    while node is not None and node.type == "call_expression":
        fn = node.child_by_field_name("function")
        args = node.child_by_field_name("arguments")
        items = args.named_children if args is not None else []
        prop = fn.child_by_field_name("property") if fn is not None and fn.type == "member_expression" else None
        if prop is not None and text_of(prop) in ("default", "catch"):
            return True, default_value(items[0]) if items else None
        if prop is not None and text_of(prop) in ("optional", "nullish"):
            return True, None
        for item in items:
            if item.type == "object":
                for pair in item.named_children:
                    key = pair.child_by_field_name("key") if pair.type == "pair" else None
                    if key is not None and text_of(key) == "default":
                        return True, default_value(pair.child_by_field_name("value"))
        node = fn.child_by_field_name("object") if fn is not None and fn.type == "member_expression" else None
    return False, None


def _descendants(n: Node, kind: str) -> list[Node]:
    """Every descendant of `n` of one node type, in source order."""
    out: list[Node] = []
    stack = [n]
    while stack:
        cur = stack.pop()
        if cur.type == kind:
            out.append(cur)
        stack.extend(reversed(cur.named_children))
    return out
