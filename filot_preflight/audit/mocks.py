"""Mock and test-only code on production paths, in source files and production env/config files.

Rules: imports of mocking libraries and mocking APIs (`jest.mock`, `vi.fn`, `mocker.patch`) and imports
from a `__mocks__` folder (rule `mock_import`, or `mocks_dir` for the folder import); mock switches
set truthy in a production env file (`mock_switch`); Stripe-style test keys (`test_key`, reported by
prefix and length only, never the key); hard-coded loopback endpoints (`localhost`). A line carrying
`preflight: allow <reason>` (or a comment-only line just above it) is waived, and the waiver recorded.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from filot_preflight.audit.model import (
    LOCALHOST,
    MOCK_IMPORT,
    MOCK_SWITCH,
    MOCKS_DIR,
    TEST_KEY,
    Allowed,
    FileFacts,
    Finding,
)
from filot_preflight.audit.text import Lines

JS_MOCK_LIBS = (
    "sinon", "nock", "msw", "@mswjs/data", "@mswjs/interceptors", "testdouble", "jest-mock",
    "jest-mock-extended", "vitest-mock-extended", "ts-mockito", "jest-when", "@faker-js/faker", "faker",
    "fetch-mock", "jest-fetch-mock", "axios-mock-adapter", "mock-fs", "ioredis-mock", "redis-mock",
    "aws-sdk-mock", "aws-sdk-client-mock", "mockdate", "proxyquire", "mock-require", "rewire",
    "@golevelup/ts-jest", "mockingoose",
)
PY_MOCK_MODULES = (
    "unittest.mock", "mock", "pytest_mock", "responses", "respx", "faker", "freezegun", "time_machine",
    "requests_mock", "httpretty", "vcr", "moto", "fakeredis", "aioresponses", "pytest_httpx", "mongomock",
    "asynctest",
)


def _alt(names: tuple[str, ...]) -> str:
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


# Module specifiers are matched from their opening quote (fast to scan for); the import keyword
# before the quote (`from`, `require(`, `import(`, `import`) is then checked with IMPORT_BEFORE.
_JS_LIB = re.compile(r"""(['"])(""" + _alt(JS_MOCK_LIBS) + r""")(?:/[^'"\n]*)?\1""")
_JS_MOCKS_PATH = re.compile(r"""(['"])([^'"\n]*__mocks__[^'"\n]*)\1""")
IMPORT_BEFORE = re.compile(r"(?:\bfrom|\brequire\s*\(|\bimport\s*\(|\bimport)\s*$")
_JS_API = re.compile(
    r"\b(jest|vi)\s*\.\s*(mock|doMock|unstable_mockModule|fn|spyOn|createMockFromModule|stubGlobal|stubEnv|"
    r"useFakeTimers)\s*\("
)
_PY_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(" + _alt(PY_MOCK_MODULES) + r")(?:\.[\w.]+)?[ \t]+import\b|import[ \t]+("
    + _alt(PY_MOCK_MODULES) + r")(?:\.[\w.]+)?\b|from[ \t]+(unittest)[ \t]+import[^\n]*\bmock\b)",
    re.M,
)
_PY_MOCKS_PATH = re.compile(r"^[ \t]*(?:from|import)[ \t]+([\w.]*__mocks__[\w.]*)", re.M)
_PY_MOCKER = re.compile(r"\bmocker\s*\.\s*(patch|Mock|MagicMock|AsyncMock|spy|stub)\b")
_LOCAL_URL = re.compile(
    r"""\b[a-z][a-z0-9+.-]*://(?:[^\s/@'"`]*@)?(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::(\d{1,5}))?(?![\w.-])""",
    re.I,
)
_LOCAL_BARE = re.compile(r"""(['"`])(localhost|127\.0\.0\.1|::1)(?::(\d{1,5}))?\1""")
# A bare 'localhost' is an endpoint only when given as a host: `host: 'localhost'`, `REDIS_HOST = "127.0.0.1"`,
# `connect(host="localhost")`; not in `if host == 'localhost'` or `LOOPBACK_NAMES = {'localhost'}`.
_HOST_KEY = re.compile(r"(?i)(?<![\w.])(?!\w*(?:local|loopback))\w*(?:host|server|addr)\w*['\"]?\s*(?<![=!<>])[:=]\s*$")
_FALLBACK = re.compile(r"\|\||\?\?|\bgetenv\s*\(|\.get\s*\(|\bdefault(?:_factory)?\s*=|\bor\b")
_PY_FIELD_DEFAULT = re.compile(r"^\s*[A-Za-z_]\w*\s*:\s*[^=]+=")
TEST_KEY_RX = re.compile(r"\b((?:sk|pk|rk)_test_)[A-Za-z0-9]{8,}")
MOCK_SWITCH_RX = re.compile(r"(?:^|_)MOCK(?:S|ED|ING)?(?:_|$)", re.I)
TRUTHY = frozenset({"1", "true", "yes", "y", "on", "enable", "enabled"})
_ENV_LINE = re.compile(r"^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(.*)$", re.M)


def is_mock_switch(name: str, value: str) -> bool:
    """MOCK_*, USE_MOCK*, *_MOCK, *_MOCKS ... set to a truthy value."""
    return MOCK_SWITCH_RX.search(name) is not None and _unquote(value).strip().lower() in TRUTHY


def test_key(value: str) -> str | None:
    """A secret-free description of a test key in `value` ('sk_test_… (32 chars)'), or None."""
    m = TEST_KEY_RX.search(value)
    return f"{m.group(1)}… ({len(m.group(0))} chars)" if m else None


def emit(facts: FileFacts, lines: Lines, lang: str, rule: str, line: int, what: str, fallback: bool = False) -> None:
    """Record a finding, or its waiver when the line carries `preflight: allow <reason>`."""
    reason = lines.allow_reason(line, lang)
    if reason is not None:
        facts.allowed.append(Allowed(rule, facts.path, line, reason))
    else:
        facts.findings.append(Finding(rule, facts.path, line, what, fallback))


def code_findings(text: str, lines: Lines, facts: FileFacts, lang: str) -> None:
    """Mock imports, test keys and loopback endpoints in one non-test source file."""
    if lang == "js":
        _each(_JS_LIB, text, lines, facts, lang, MOCK_IMPORT, lambda m: f"imports '{m.group(2)}'", imports=True)
        if "jest" in text or "vi." in text:
            _each(_JS_API, text, lines, facts, lang, MOCK_IMPORT, lambda m: f"calls {m.group(1)}.{m.group(2)}()",
                  code=True)
        mocks_path = _JS_MOCKS_PATH
    else:
        _each(_PY_IMPORT, text, lines, facts, lang, MOCK_IMPORT, _py_module)
        if "mocker" in text:
            _each(_PY_MOCKER, text, lines, facts, lang, MOCK_IMPORT, lambda m: f"uses mocker.{m.group(1)}", code=True)
        mocks_path = _PY_MOCKS_PATH
    if "__mocks__" in text:
        _each(mocks_path, text, lines, facts, lang, MOCKS_DIR, lambda m: f"imports from '{m.groups()[-1]}'",
              imports=lang == "js")
    if "_test_" in text:
        _each(TEST_KEY_RX, text, lines, facts, lang, TEST_KEY, _key_desc)
    if "localhost" in text or "127." in text or "::1" in text:
        _loopback(text, lines, facts, lang)


def _each(
    rx: re.Pattern[str], text: str, lines: Lines, facts: FileFacts, lang: str, rule: str,
    describe: Callable[[re.Match[str]], str], imports: bool = False, code: bool = False,
) -> None:
    """Emit `rule` for each match of `rx` outside comments (and outside strings when `code`)."""
    for m in rx.finditer(text):
        if imports and IMPORT_BEFORE.search(text, max(0, m.start() - 16), m.start()) is None:
            continue
        if lines.in_code(m.start(), lang) if code else not lines.in_comment(m.start(), lang):
            emit(facts, lines, lang, rule, lines.line_of(m.start()), describe(m))


def _py_module(m: re.Match[str]) -> str:
    return f"imports '{'unittest.mock' if m.group(3) else m.group(1) or m.group(2)}'"


def _key_desc(m: re.Match[str]) -> str:
    return f"{m.group(1)}… ({len(m.group(0))} chars)"


def _loopback(text: str, lines: Lines, facts: FileFacts, lang: str) -> None:
    seen: set[int] = set()
    for rx, host_group in ((_LOCAL_URL, 1), (_LOCAL_BARE, 2)):
        for m in rx.finditer(text):
            if rx is _LOCAL_BARE and _HOST_KEY.search(text, max(0, m.start() - 60), m.start()) is None:
                continue
            n = lines.line_of(m.start())
            if n in seen or lines.in_comment(m.start(), lang) or _in_message(text, m.start()):
                continue
            seen.add(n)
            host, port = m.group(host_group), m.group(host_group + 1)
            src = lines.line(n)
            fallback = _FALLBACK.search(src) is not None or (lang == "py" and _PY_FIELD_DEFAULT.match(src) is not None)
            emit(facts, lines, lang, LOCALHOST, n, f"{host}:{port}" if port else host, fallback)


_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
# Variables that list who may connect (allow-lists), not an endpoint: a loopback default there is no mock.
_ALLOWLIST = re.compile(r"ALLOWED_|_ALLOWED|TRUSTED_|INTERNAL_IPS|ALLOWLIST|WHITELIST|CORS_|_ORIGINS$")


def default_findings(facts: FileFacts, lines: Lines, lang: str) -> None:
    """A read's fallback value that is a loopback endpoint (`?? 'redis://localhost:6379'`,
    `os.getenv('REDIS_HOST', 'localhost')`, `redis_host: str = "localhost"`, zod `.default(...)` on a later
    line): a loopback fallback at the read's line, whatever the syntax, unless that line already has one.
    """
    waived = {a.line for a in facts.allowed if a.rule == LOCALHOST}
    have = {f.line for f in facts.findings if f.rule == LOCALHOST and f.fallback}
    for r in facts.env_reads:
        if r.default is None:
            continue
        value = r.default.strip()
        m = _LOCAL_URL.search(value)
        if m is not None:
            host, port = m.group(1), m.group(2)
        elif value.split(":")[0].lower() in _LOOPBACK_HOSTS or value.lower() in _LOOPBACK_HOSTS:
            host, _, port = value.partition(":") if value.count(":") == 1 else (value, "", "")
        else:
            continue
        if r.name is not None and _ALLOWLIST.search(r.name):
            # INTERNAL_IPS / ALLOWED_HOSTS default to loopback: who may connect, not where the code connects
            facts.findings[:] = [f for f in facts.findings
                                 if not (f.rule == LOCALHOST and f.line in (r.line, r.default_line))]
            continue
        if r.line in have or r.line in waived or r.default_line in waived:
            continue
        have.add(r.line)
        what = f"{host}:{port}" if port else host
        # the line scanner saw the same literal without knowing it is this read's fallback: replace its finding
        facts.findings[:] = [f for f in facts.findings
                             if not (f.rule == LOCALHOST and f.line in (r.line, r.default_line) and f.what == what)]
        emit(facts, lines, lang, LOCALHOST, r.line, what, True)


# A log line or an error message quotes an address for people to read; it connects nowhere.
_MESSAGE_CALL = re.compile(
    r"(?:\b(?:console|logger|log|logging|self\.log(?:ger)?|this\.log(?:ger)?|app\.log|fastify\.log)\s*\.\s*"
    r"(?:log|info|warn|warning|error|debug|trace|fatal|exception|critical)|\bprint|\bnew\s+\w*Error|\braise\s+\w+"
    r"|\bthrow\s+new\s+\w+|\bwarnings\.warn|\bparser\.error)\s*\("
)


def _in_message(text: str, at: int) -> bool:
    """Whether offset `at` sits inside the parentheses of a log / print / error call on its line."""
    start = text.rfind("\n", 0, at) + 1
    head = text[start:at]
    for m in _MESSAGE_CALL.finditer(head):
        inner = head[m.end():]
        if inner.count("(") >= inner.count(")"):
            return True
    return False


def config_findings(text: str, lines: Lines, facts: FileFacts) -> None:
    """Test keys in a production config file (production.json, prod.yaml, ...)."""
    for m in TEST_KEY_RX.finditer(text):
        emit(facts, lines, "env", TEST_KEY, lines.line_of(m.start()), _key_desc(m))


def env_file_findings(text: str, lines: Lines, facts: FileFacts) -> None:
    """Mock switches and test keys in a production env file."""
    for m in _ENV_LINE.finditer(text):
        name, raw = m.group(1), _strip_comment(m.group(2))
        n = lines.line_of(m.start())
        if is_mock_switch(name, raw):
            emit(facts, lines, "env", MOCK_SWITCH, n, f"{name}={_unquote(raw).strip()}")
        desc = test_key(raw)
        if desc is not None:
            emit(facts, lines, "env", TEST_KEY, n, f"{name} holds {desc}")


def _strip_comment(raw: str) -> str:
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        end = raw.find(raw[0], 1)
        return raw[: end + 1] if end > 0 else raw
    return raw.split(" #", 1)[0].strip()


def _unquote(v: str) -> str:
    v = v.strip()
    return v[1:-1] if len(v) >= 2 and v[0] == v[-1] and v[0] in ("'", '"') else v
