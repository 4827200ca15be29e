"""Queue names that need more than one call to see: TS enum members and rq workers over a list of names.

- `enum QueueName { OCR = 'ocr' }` (same file or another file of the tree): each member is a constant
  `QueueName.OCR`, so `new Queue(QueueName.OCR)` resolves to 'ocr' (queues.resolve looks constants up
  across the whole service).
- rq: `Worker(map(Queue, listen))`, `Worker([Queue(n) for n in listen])`, `Worker(listen)` with
  `listen = ['high', 'default']` a literal list of the same module: a consumer of each name.
"""

from __future__ import annotations

import ast
import re

from filot_preflight.audit.model import CONSTANT, CONSUME, QueueRef
from filot_preflight.audit.text import Lines

_ENUM = re.compile(r"\benum\s+([A-Za-z_$][\w$]*)\s*\{([^{}]*)\}")
_MEMBER = re.compile(r"""([A-Za-z_$][\w$]*)\s*=\s*(['"`])([^'"`\n$\\]{1,200})\2""")
_QUEUE_ENUM = re.compile(r"queue|topic|job", re.I)  # enums that name queues (QueueName, JobTopicNameEnum)


def ts_enum_constants(text: str, lines: Lines, path: str) -> list[QueueRef]:
    """A CONSTANT `Enum.MEMBER` for each string member of an enum whose name says it names queues."""
    out: list[QueueRef] = []
    for m in _ENUM.finditer(text):
        if not _QUEUE_ENUM.search(m.group(1)) or not lines.in_code(m.start(), "js"):
            continue
        for mm in _MEMBER.finditer(m.group(2)):
            at = m.start(2) + mm.start()
            out.append(QueueRef(CONSTANT, f"{m.group(1)}.{mm.group(1)}", path, lines.line_of(at), value=mm.group(3)))
    return out


def rq_worker_queues(text: str, path: str) -> list[QueueRef]:
    """Consumers of the names an rq Worker is built from (a literal list, directly or through a module name)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    lists: dict[str, list[str]] = {}
    for st in tree.body:  # module-level `listen = ['high', 'default']`
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
            names = _literal_names(st.value)
            if names is not None:
                lists[st.targets[0].id] = names
    out: list[QueueRef] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _callee(node.func) == "Worker"):
            continue
        arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "queues"), None)
        for name in _names_of(arg, lists) or []:
            out.append(QueueRef(CONSUME, "Worker", path, node.lineno, value=name))
    return out


def _callee(f: ast.expr) -> str:
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def _literal_names(node: ast.expr | None) -> list[str] | None:
    if not isinstance(node, ast.List | ast.Tuple) or not node.elts:
        return None
    names = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return names if len(names) == len(node.elts) else None


def _names_of(node: ast.expr | None, lists: dict[str, list[str]]) -> list[str] | None:
    """Queue names of a Worker's argument; None when it is not built from a list of names."""
    if node is None:
        return None
    if isinstance(node, ast.Name):
        return lists.get(node.id)
    if (lit := _literal_names(node)) is not None:
        return lit
    if isinstance(node, ast.Call) and _callee(node.func) in ("list", "tuple") and len(node.args) == 1:
        return _names_of(node.args[0], lists)
    if isinstance(node, ast.Call) and _callee(node.func) == "map" and len(node.args) == 2 \
            and _callee(node.args[0]) == "Queue":
        return _names_of(node.args[1], lists)
    if isinstance(node, ast.ListComp | ast.GeneratorExp) and len(node.generators) == 1:
        gen, elt = node.generators[0], node.elt
        if isinstance(elt, ast.Call) and _callee(elt.func) == "Queue" and elt.args \
                and isinstance(elt.args[0], ast.Name) and isinstance(gen.target, ast.Name) \
                and elt.args[0].id == gen.target.id:
            return _names_of(gen.iter, lists)
    return None
