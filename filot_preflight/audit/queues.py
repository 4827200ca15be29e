"""Queue names in code: what a service pushes to, pops from, declares, or falls back to.

Recognised: Redis list/stream calls (`lpush`, `rpush`, `xadd`, `brpop`, `blpop`, `lmove`, ...; any
casing, so node-redis' `lPush` too), BullMQ `new Queue('x')` / `new Worker('x')`, rq `Queue('x')`,
constants whose name contains "queue" (`OCR_QUEUE = 'x'`), and the fallback of a queue env var
(`process.env.OCR_QUEUE_KEY || 'x'`, `os.getenv('OCR_QUEUE_KEY', 'x')`). An identifier argument
(`lpush(OCR_QUEUE, ...)`) is kept and resolved later against the whole service (`resolve`); TS enum
members (`new Queue(QueueName.OCR)`) and rq workers over a list of names: queue_forms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from filot_preflight.audit import queue_forms
from filot_preflight.audit.model import CONSTANT, CONSUME, DECLARE, DEFAULT, PRODUCE, EnvRead, QueueRef
from filot_preflight.audit.text import Lines

_ENUM_MEMBER = re.compile(r"[A-Z][\w$]*\.[A-Za-z_$][\w$]*")  # QueueName.OCR: an enum member (queue_forms)
_PRODUCE_OPS = frozenset({"lpush", "rpush", "lpushx", "rpushx", "xadd"})
_OPS = re.compile(  # case-insensitive names only: the leading "." stays a literal the engine can skip to
    r"\.\s*((?i:lpush|rpush|lpushx|rpushx|xadd|brpop|blpop|rpop|lpop|brpoplpush|rpoplpush|blmove|lmove))\s*\(\s*"
)
_JS_NEW = re.compile(r"new\s+(Queue|Worker|QueueEvents)\s*(?:<[^<>()]*>)?\s*\(\s*")
_PY_NEW = re.compile(r"(?<![\w.])(Queue|Worker)\s*\(\s*")
_ARG = re.compile(
    r"""\[?\s*(?:(['"`])([^'"`\n$\\]{1,200})\1|([A-Za-z_$][\w$]*(?:\s*\??\.\s*[A-Za-z_$][\w$]*)*))"""
    r"""(?:\s*!)?(?:\s+as\s+[\w$.<>|]+)?\s*[,)\]]"""  # TS: `key!`, `key as string`
)
_JS_CONST = re.compile(
    r"""\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::\s*[\w$<>\[\]|]+\s*)?=\s*(['"`])([^'"`\n$\\]{1,200})\2"""
)
_PY_CONST = re.compile(r"""^[ \t]*([A-Za-z_]\w*)[ \t]*(?::[^=\n]+)?=[ \t]*(['"])([^'"\n\\]{1,200})\2[ \t]*$""", re.M)
_JS_ENV_NAME = re.compile(r"""process\s*\.\s*env\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*['"]([A-Za-z_]\w*)['"]\s*\])""")
_JS_LHS = re.compile(  # matched from the start of the line up to the env read
    r"[ \t]*(?:export[ \t]+)?(?:(?:const|let|var)[ \t]+)?([A-Za-z_$][\w$]*)[ \t]*"
    r"(?::[ \t]*[\w$<>\[\]| \t]+)?[:=][ \t]*$"
)
_PY_ENV_NAME = re.compile(r"""(?:getenv\(|environ\s*\.\s*get\(|environ\s*\[)\s*['"]([A-Za-z_]\w*)['"]""")
_PY_LHS = re.compile(r"[ \t]*([A-Za-z_]\w*)[ \t]*(?::[^=\n]+)?=[ \t]*(?:os[ \t]*\.[ \t]*)?$")
_JS_DEFAULT = re.compile(
    r"""process\s*\.\s*env\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*['"]([A-Za-z_]\w*)['"]\s*\])\s*(?:\|\||\?\?)\s*"""
    r"""(['"`])([^'"`\n$\\]{1,200})\3"""
)
_PY_DEFAULT = re.compile(
    r"""(?:getenv|environ\s*\.\s*get)\(\s*['"]([A-Za-z_]\w*)['"]\s*,\s*(['"])([^'"\n\\]{1,200})\2"""
)


def is_queue_var(name: str, queue_vars: frozenset[str]) -> bool:
    """Env vars whose code default is a queue name: the manifest's queue variables, or *QUEUE* names."""
    return name in queue_vars or "QUEUE" in name.upper()


def queue_refs(text: str, lines: Lines, path: str, lang: str, queue_vars: frozenset[str]) -> list[QueueRef]:
    """Queue references in one file."""
    out: list[QueueRef] = []
    for m in _OPS.finditer(text):
        op = m.group(1).lower()
        kind = PRODUCE if op in _PRODUCE_OPS else CONSUME
        out.extend(_arg_ref(text, m, lines, path, lang, kind, op, idents=True))
    new_rx = _JS_NEW if lang == "js" else _PY_NEW
    for m in new_rx.finditer(text) if "Queue" in text or "Worker" in text else ():
        cls = m.group(1)
        kind = CONSUME if cls == "Worker" else PRODUCE if lang == "js" and cls == "Queue" else DECLARE
        out.extend(_arg_ref(text, m, lines, path, lang, kind, cls, idents=False, enums=lang == "js"))
    if lang == "js" and "enum" in text:
        out.extend(queue_forms.ts_enum_constants(text, lines, path))
    if lang == "py" and "Worker(" in text:
        rq = queue_forms.rq_worker_queues(text, path)
        at = {r.line for r in rq}  # the pattern saw only a literal list's first name there
        out = [r for r in out if not (r.label == "Worker" and r.line in at)] + rq
    const = _JS_CONST if lang == "js" else _PY_CONST
    for start, line in _lines_with(text, "queue"):  # only lines that mention a queue can define one
        for m in const.finditer(line):
            if "queue" in m.group(1).lower() and lines.in_code(start + m.start(1), lang):
                out.append(QueueRef(CONSTANT, m.group(1), path, lines.line_of(start), value=m.group(3)))
    dflt = _JS_DEFAULT if lang == "js" else _PY_DEFAULT
    for m in dflt.finditer(text) if "env" in text else ():
        var = m.group(1) or m.group(2) if lang == "js" else m.group(1)
        if var and is_queue_var(var, queue_vars) and lines.in_code(m.start(), lang):
            value = m.group(4) if lang == "js" else m.group(3)
            out.append(QueueRef(DEFAULT, var, path, lines.line_of(m.start()), value=value))
    return out


def _lines_with(text: str, needle: str) -> list[tuple[int, str]]:
    """(offset, text) of each line containing `needle`, case-insensitively."""
    low = text.lower()
    out: list[tuple[int, str]] = []
    i = low.find(needle)
    while i >= 0:
        start = low.rfind("\n", 0, i) + 1
        end = low.find("\n", i)
        end = len(text) if end < 0 else end
        out.append((start, text[start:end]))
        i = low.find(needle, end)
    return out


def _arg_ref(
    text: str, m: re.Match[str], lines: Lines, path: str, lang: str, kind: str, label: str, *, idents: bool,
    enums: bool = False,
) -> list[QueueRef]:
    a = _ARG.match(text, m.end())
    if a is None or not lines.in_code(m.start(), lang):
        return []
    line = lines.line_of(m.start())
    if a.group(2) is not None:
        if lang == "py" and text[a.start(1) - 1 : a.start(1)].lower() in ("f", "b"):
            return []
        return [QueueRef(kind, label, path, line, value=a.group(2))]
    ident = re.sub(r"\s+", "", a.group(3) or "")
    if idents and ident or enums and _ENUM_MEMBER.fullmatch(ident):  # new Queue(QueueName.OCR)
        return [QueueRef(kind, label, path, line, ident=ident)]
    return []


def env_constants(text: str, lang: str) -> dict[str, str]:
    """Identifiers initialised from an env var (`const q = process.env.OCR_QUEUE_KEY`) -> the var.

    Anchored on the env read; the assignment's left-hand side is then matched from the line start.
    """
    out: dict[str, str] = {}
    rx, lhs = (_JS_ENV_NAME, _JS_LHS) if lang == "js" else (_PY_ENV_NAME, _PY_LHS)
    for m in rx.finditer(text):
        at = m.start()
        left = lhs.match(text, text.rfind("\n", 0, at) + 1, at)
        if left is not None:
            out[left.group(1)] = m.group(1) or (m.group(2) if lang == "js" else "")
    return out


def settings_defaults(refs: list[QueueRef], reads: Iterable[EnvRead]) -> list[QueueRef]:
    """A pydantic-settings field such as `ocr_queue_key: str = 'x'` is the env var's default, not a constant."""
    names = {r.name for r in reads if r.name}
    out: list[QueueRef] = []
    for r in refs:
        up = r.label.upper()
        if r.kind == CONSTANT and r.label.islower() and (hit := next((n for n in names if n.endswith(up)), None)):
            out.append(QueueRef(DEFAULT, hit, r.path, r.line, value=r.value))
        else:
            out.append(r)
    return out


def _snake_upper(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


def resolve(
    ref: QueueRef, constants: dict[str, set[str]], const_env: dict[str, str], reads: set[str]
) -> tuple[str, str] | None:
    """('lit', name) or ('env', VAR) for a reference, or None when it cannot be resolved.

    An identifier is looked up whole, then by its last dotted part (`config.ocrQueueKey`), as a
    constant with a literal value, a constant read from an env var, or an env var the service reads
    under the same name in UPPER_SNAKE case (a settings attribute such as `settings.ocr_queue_key`).
    """
    if ref.value is not None:
        return ("lit", ref.value)
    if ref.ident is None:
        return None
    for key in dict.fromkeys((ref.ident, ref.ident.rsplit(".", 1)[-1])):
        if key in const_env:
            return ("env", const_env[key])
        vals = constants.get(key)
        if vals and len(vals) == 1:
            return ("lit", next(iter(vals)))
        up = _snake_upper(key)
        hit = up if up in reads else None
        if hit is None and "_" in up:  # settings.queue_key under env_prefix OCR_ -> OCR_QUEUE_KEY
            hit = next((n for n in sorted(reads) if n.endswith("_" + up)), None)
        if hit is not None:
            return ("env", hit)
    return None
