"""Config functions handed an `env` helper by the framework: Strapi's `config/*.js`.

    module.exports = ({ env }) => ({ host: env('DATABASE_HOST', 'localhost'), port: env.int('PORT', 1337) })

`env('X', d)` and its typed forms (`env.int`, `env.bool`, `env.float`, `env.json`, `env.array`, `env.date`;
`env.oneOf('X', choices, d)`) read X, with the last argument as the fallback. Only in files where `env`
is bound by a destructured parameter (`({ env })`), so an unrelated `env(...)` function is not read.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from filot_preflight.audit.jsschemas import NAME, default_value, literal, short, text_of

if TYPE_CHECKING:
    from filot_preflight.audit.jsschemas import SchemaReads

PARAM = re.compile(rb"\(\s*\{\s*(?:[\w$]+\s*,\s*)*env\s*[,}]")
_CALL = re.compile(rb"(?<![\w$.])env(?:\s*\.\s*(int|bool|float|json|array|date|oneOf|uid))?\s*\(")


def env_param_reads(ctx: SchemaReads) -> None:
    """Each `env('X', ...)` call of a config function is a read of X (dynamic when the name is computed)."""
    for m in _CALL.finditer(ctx.src):
        node = ctx.root.named_descendant_for_byte_range(m.start(), m.start() + 3)
        fn = node.parent if node is not None else None
        if fn is not None and fn.type == "member_expression" and fn.child_by_field_name("object") == node:
            fn_node = fn
        elif node is not None and node.type == "identifier":
            fn_node = node
        else:
            continue
        call = fn_node.parent
        if call is None or call.type != "call_expression" or call.child_by_field_name("function") != fn_node:
            continue
        args = call.child_by_field_name("arguments")
        items = args.named_children if args is not None else []
        if not items:
            continue
        name = literal(items[0])
        fallback = items[2] if m.group(1) == b"oneOf" and len(items) > 2 else items[1] if len(items) > 1 else None
        if name is not None and NAME.fullmatch(name):
            ctx.read(name, call, fallback is not None and text_of(fallback) != "undefined", default_value(fallback))
        else:
            ctx.read(None, call, expr=short(text_of(call)))
