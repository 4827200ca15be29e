"""Environment-variable reads in JS/TS and Python source.

JS/TS: `process.env.X`, `process.env?.X`, `process.env['X']`, destructuring
`const { A, B: b, C = 'x', ...rest } = process.env`, `import.meta.env.X`.
Python: `os.environ['X']`, `os.environ.get('X')`, `os.getenv('X')`, `'X' in os.environ`,
`os.environ.setdefault('X', ...)`, and pydantic-settings `BaseSettings` fields (with `env_prefix`,
`alias`/`validation_alias`/`env=`). A name computed at run time is returned with `name=None` and the
expression, never guessed.
"""

from __future__ import annotations

import re

from filot_preflight.audit.model import EnvRead
from filot_preflight.audit.text import Lines

_EXPR_MAX = 60
_LIT = re.compile(r"""\s*(?:([rRbBuU]?)(['"`])([A-Za-z_][A-Za-z0-9_]*)\2)\s*""")

# --- JS / TS --------------------------------------------------------------------------------------
# Anchored on a literal ("process", "import") so the regex engine can skip ahead quickly.
_JS_PROC = re.compile(r"process\s*\.\s*env\b(?!\s*\.\s*\w+\s*\()")
_JS_META = re.compile(r"import\s*\.\s*meta\s*\.\s*env\b(?!\s*\.\s*\w+\s*\()")
_JS_MEMBER = re.compile(r"\s*(?:\?\.|\.)\s*([A-Za-z_$][\w$]*)")
_JS_INDEX = re.compile(r"\s*(?:\?\.)?\[")
_JS_DEFAULT = re.compile(r"\s*(?:\|\||\?\?)")
_DESTRUCT_TAIL = re.compile(r"\}\s*(?::\s*[\w$.<>\[\]|,\s]+?)?\s*=\s*$")
_DESTRUCT_ITEM = re.compile(r"""^\s*(?:(['"])([^'"]+)\1|([A-Za-z_$][\w$]*))\s*(?::\s*[\w$]+)?\s*(=)?""")


def js_env_reads(text: str, lines: Lines, path: str) -> list[EnvRead]:
    """Every env read in a JS/TS file."""
    out: list[EnvRead] = []
    found = list(_JS_PROC.finditer(text)) if "process" in text else []
    if "meta" in text:
        found += _JS_META.finditer(text)
    for m in found:
        at, end = m.start(), m.end()
        if at and (text[at - 1].isalnum() or text[at - 1] in "_$."):
            continue  # myprocess.env, x.process.env
        if not lines.in_code(at, "js"):
            continue
        if (mm := _JS_MEMBER.match(text, end)) is not None:
            dflt = _JS_DEFAULT.match(text, mm.end()) is not None
            out.append(EnvRead(mm.group(1), path, lines.line_of(at), dflt))
        elif (mi := _JS_INDEX.match(text, end)) is not None:
            out.append(_indexed(text, mi.end(), lines, path, at, "js"))
        elif (tail := _DESTRUCT_TAIL.search(text, max(0, at - 300), at)) is not None:
            brace = tail.start()
            opening = text.rfind("{", 0, brace)
            if opening >= 0 and "}" not in text[opening + 1 : brace]:
                out.extend(_destructured(text[opening + 1 : brace], opening + 1, lines, path))
    return resolve_constants(out, text, "js")


def _indexed(text: str, start: int, lines: Lines, path: str, at: int, lang: str) -> EnvRead:
    """`env[...]`: a literal name, or a dynamic expression up to the closing bracket."""
    close = text.find("]", start, start + 400)
    inner = text[start:close] if close >= 0 else text[start : start + _EXPR_MAX]
    lit = _LIT.fullmatch(inner)
    line = lines.line_of(at)
    if lit is not None and not (lang == "js" and "${" in inner) and "f" not in lit.group(1).lower():
        after = text[close + 1 : close + 8] if close >= 0 else ""
        dflt = bool(_JS_DEFAULT.match(after)) if lang == "js" else False
        return EnvRead(lit.group(3), path, line, dflt)
    return EnvRead(None, path, line, False, _short(inner))


def _destructured(body: str, offset: int, lines: Lines, path: str) -> list[EnvRead]:
    """`const { A, B: b, C = 'x', ...rest } = process.env`: one read per key (rest/computed: dynamic)."""
    out: list[EnvRead] = []
    for part in body.split(","):
        pos = offset + (len(part) - len(part.lstrip()))
        offset += len(part) + 1
        item = part.strip()
        if not item:
            continue
        line = lines.line_of(pos)
        if item.startswith("..."):
            out.append(EnvRead(None, path, line, False, _short(item)))
            continue
        im = _DESTRUCT_ITEM.match(item)
        if im is None:  # a computed key: [name]: alias
            out.append(EnvRead(None, path, line, False, _short(item)))
            continue
        out.append(EnvRead(im.group(2) or im.group(3), path, line, im.group(4) is not None))
    return out


# --- Python ---------------------------------------------------------------------------------------
# Anchored on "environ"/"getenv"; what precedes (`os.` or nothing attribute-like) is checked by hand.
_PY_ENV = re.compile(r"(?:environ\s*(?:\.\s*(get|setdefault)\s*\(|(\[))|(getenv)\s*\()")
_OS_DOT = re.compile(r"\bos\s*\.\s*$")
_PY_IN = re.compile(r"""(['"])([A-Za-z_][A-Za-z0-9_]*)\1\s+(?:not\s+)?in\s+(?:os\s*\.\s*)?environ\b""")
_PY_ASSIGN = re.compile(r"\s*=(?!=)")
_PY_ARG = re.compile(r"""\s*([rRbBuU]?)(['"])([A-Za-z_][A-Za-z0-9_]*)\2\s*([,)])""")


def py_env_reads(text: str, lines: Lines, path: str) -> list[EnvRead]:
    """Every env read in a Python file, pydantic-settings fields included."""
    out: list[EnvRead] = []
    if "environ" in text or "getenv" in text:
        for m in _PY_ENV.finditer(text):
            at = m.start()
            owned = at and (text[at - 1].isalnum() or text[at - 1] in "_.")
            if owned and not _OS_DOT.search(text, max(0, at - 12), at):
                continue  # self.environ[...], my_getenv(...)
            if not lines.in_code(at, "py"):
                continue
            if m.group(2):  # environ[...]
                close = text.find("]", m.end(), m.end() + 400)
                if close >= 0 and _PY_ASSIGN.match(text, close + 1):
                    continue  # os.environ['X'] = ... is a write
                out.append(_indexed(text, m.end(), lines, path, m.start(), "py"))
                continue
            out.append(_call_arg(text, m.end(), lines, path, m.start()))
        for m in _PY_IN.finditer(text):
            if lines.in_code(m.start(), "py"):
                out.append(EnvRead(m.group(2), path, lines.line_of(m.start()), True))
    if "BaseSettings" in text:
        out.extend(settings_reads(text, lines, path))
    return resolve_constants(out, text, "py")


def _call_arg(text: str, start: int, lines: Lines, path: str, at: int) -> EnvRead:
    """First argument of getenv(...)/environ.get(...); a second argument is a default."""
    lit = _PY_ARG.match(text, start)
    line = lines.line_of(at)
    if lit is not None and "f" not in lit.group(1).lower():
        dflt = lit.group(4) == "," and not text[lit.end() : lit.end() + 40].lstrip().startswith(")")
        return EnvRead(lit.group(3), path, line, dflt)
    stop = min((i for i in (text.find(")", start), text.find("\n", start)) if i >= 0), default=start + 60)
    return EnvRead(None, path, line, False, _short(text[start:stop]))


_CLASS = re.compile(r"^([ \t]*)class\s+\w+\s*\(([^)]*)\)\s*:", re.M)
_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\s*:\s*([^=]+?)\s*(?:=\s*(.*))?$")
_PREFIX = re.compile(r"""env_prefix\s*[=:]\s*['"]([^'"]*)['"]""")
_CASE = re.compile(r"case_sensitive\s*[=:]\s*True")
_ALIAS = re.compile(r"""\b(?:validation_alias|alias|env)\s*=\s*(?:AliasChoices\(([^)]*)\)|['"]([^'"]+)['"])""")
_STR = re.compile(r"""['"]([^'"]+)['"]""")
_NO_DEFAULT = re.compile(r"^Field\(\s*(?:\.\.\.|\)|(?!default)[a-z_]+\s*=)")


def settings_reads(text: str, lines: Lines, path: str) -> list[EnvRead]:
    """Fields of classes deriving directly from pydantic-settings' BaseSettings."""
    out: list[EnvRead] = []
    all_lines = text.split("\n")
    for m in _CLASS.finditer(text):
        if not re.search(r"\bBaseSettings\b", m.group(2)):
            continue
        indent = len(m.group(1).expandtabs())
        first = lines.line_of(m.start())  # 1-based line of `class`
        body: list[tuple[int, str]] = []
        for n in range(first, len(all_lines)):
            raw = all_lines[n]
            if raw.strip() and len(raw) - len(raw.lstrip()) <= indent:
                break
            body.append((n + 1, raw))
        body_text = "\n".join(r for _, r in body)
        pm = _PREFIX.search(body_text)
        prefix = pm.group(1) if pm else ""
        upper = _CASE.search(body_text) is None
        out.extend(_fields(body, prefix, upper, path))
    return out


def _fields(body: list[tuple[int, str]], prefix: str, upper: bool, path: str) -> list[EnvRead]:
    out: list[EnvRead] = []
    body_indent = next((len(r) - len(r.lstrip()) for _, r in body if r.strip()), 0)
    in_doc = False
    for n, raw in body:
        stripped = raw.strip()
        quotes = stripped.count('"""') + stripped.count("'''")
        if in_doc or (quotes and stripped[:3] in ('"""', "'''")):
            in_doc = (in_doc + quotes) % 2 == 1
            continue
        if len(raw) - len(raw.lstrip()) != body_indent:
            continue
        fm = _FIELD.match(stripped)
        if fm is None or fm.group(1) == "model_config" or fm.group(2).startswith(("ClassVar", "typing.ClassVar")):
            continue
        default = (fm.group(3) or "").strip()
        has_default = bool(default) and not (_NO_DEFAULT.match(default) and "default" not in default)
        am = _ALIAS.search(default)
        if am is not None:
            names = _STR.findall(am.group(1)) if am.group(1) is not None else [am.group(2)]
            out.extend(EnvRead(a.upper() if upper else a, path, n, has_default) for a in names)
            continue
        name = prefix + fm.group(1)
        out.append(EnvRead(name.upper() if upper else name, path, n, has_default))
    return out


_JS_CONST_NAME = re.compile(
    r"""^[ \t]*(?:export[ \t]+)?(?:const|let|var)[ \t]+([A-Za-z_$][\w$]*)[ \t]*(?::[^=\n]+)?=[ \t]*"""
    r"""(['"`])([A-Za-z_][A-Za-z0-9_]*)\2[ \t]*;?[ \t]*$""",
    re.M,
)
_PY_CONST_NAME = re.compile(
    r"""^([A-Za-z_]\w*)[ \t]*(?::[^=\n]+)?=[ \t]*(['"])([A-Za-z_][A-Za-z0-9_]*)\2[ \t]*$""", re.M
)
_BARE_IDENT = re.compile(r"([A-Za-z_$][\w$]*)\s*(,.*)?")


def resolve_constants(reads: list[EnvRead], text: str, lang: str) -> list[EnvRead]:
    """Resolve `os.getenv(KEY_VAR)` / `process.env[KEY]` when the file defines KEY once as a string literal.

    Only a module-level constant (Python: at column 0) or a `const/let/var` of the same file counts;
    anything else stays unresolved.
    """
    dynamic = [r for r in reads if r.name is None and _BARE_IDENT.fullmatch(r.expr)]
    if not dynamic:
        return reads
    table: dict[str, set[str]] = {}
    for m in (_JS_CONST_NAME if lang == "js" else _PY_CONST_NAME).finditer(text):
        table.setdefault(m.group(1), set()).add(m.group(3))
    out: list[EnvRead] = []
    for r in reads:
        bm = _BARE_IDENT.fullmatch(r.expr) if r.name is None else None
        values = table.get(bm.group(1), set()) if bm else set()
        if bm is not None and len(values) == 1:
            out.append(EnvRead(next(iter(values)), r.path, r.line, r.has_default or bool(bm.group(2))))
        else:
            out.append(r)
    return out


def _short(expr: str) -> str:
    expr = " ".join(expr.split())
    return expr if len(expr) <= _EXPR_MAX else expr[: _EXPR_MAX - 1] + "…"
