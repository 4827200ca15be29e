"""Unit tests of the source scanner (filot_preflight.audit): extraction tables, paths, walking, skipping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from filot_preflight.audit import make_config, scan_text, scan_tree
from filot_preflight.audit import scan as scan_mod
from filot_preflight.audit.model import CONSTANT, CONSUME, DECLARE, DEFAULT, PRODUCE, QueueRef
from filot_preflight.audit.paths import compile_globs, env_file_is_production, file_kind
from filot_preflight.audit.queues import resolve


def reads(code: str, kind: str = "js") -> list[tuple[str | None, int, bool]]:
    return [(r.name, r.line, r.has_default) for r in scan_text(code, "f", kind).env_reads]


JS_READS = [
    ("process.env.FOO", [("FOO", 1, False)]),
    ("process.env?.FOO", [("FOO", 1, False)]),
    ("x = process . env . FOO", [("FOO", 1, False)]),
    ("process.env['FOO']", [("FOO", 1, False)]),
    ('process.env["FOO"]', [("FOO", 1, False)]),
    ("process.env[`FOO`]", [("FOO", 1, False)]),
    ("process.env.FOO || 'x'", [("FOO", 1, True)]),
    ("process.env.FOO ?? 3", [("FOO", 1, True)]),
    ("process.env['FOO'] || 'x'", [("FOO", 1, True)]),
    ("import.meta.env.VITE_API", [("VITE_API", 1, False)]),
    ("const { A, B: b, C = 'x' } = process.env;", [("A", 1, False), ("B", 1, False), ("C", 1, True)]),
    ("const {\n  A,\n  'B': b,\n} = process.env;", [("A", 2, False), ("B", 3, False)]),
    ("const { A }: Env = process.env;", [("A", 1, False)]),
    ("// process.env.COMMENTED", []),
    ("f(); // uses process.env.COMMENTED", []),
    ("/**\n * process.env.IN_JSDOC\n */", []),  # a parsed comment, not a line-start heuristic
    ("const u = 'http://x'; process.env.AFTER_URL", [("AFTER_URL", 1, False)]),
    ("process.env.hasOwnProperty('X')", []),
    ("const all = { ...process.env };", []),
    ("myprocess.env.NOPE", []),
    ("\n\nconst a = process.env.THIRD", [("THIRD", 3, False)]),
    ("const hint = 'set process.env.IN_STRING';", []),
    ("const u = `${process.env.IN_TEMPLATE}/x`;", [("IN_TEMPLATE", 1, False)]),
]


@pytest.mark.parametrize(("code", "expected"), JS_READS)
def test_js_env_reads(code: str, expected: list[tuple[str, int, bool]]) -> None:
    assert reads(code) == expected


PY_READS = [
    ("os.environ['A']", [("A", 1, False)]),
    ('os.environ["A"]', [("A", 1, False)]),
    ("os.environ.get('A')", [("A", 1, False)]),
    ("os.environ.get('A', 'x')", [("A", 1, True)]),
    ("os.getenv('A')", [("A", 1, False)]),
    ("getenv('A', '1')", [("A", 1, True)]),
    ("environ['A']", [("A", 1, False)]),
    ("os.environ.setdefault('A', 'x')", [("A", 1, True)]),
    ("if 'A' in os.environ: pass", [("A", 1, True)]),
    ("os.environ['A'] = 'x'", []),
    ("self.environ['A']", []),
    ("my_getenv('A')", []),
    ("# os.getenv('A')", []),
    ("x = 1  # os.getenv('A')", []),
    ("'#'; os.getenv('A')", [("A", 1, False)]),
    ('"""Reads os.environ[\'A\'] and\nos.getenv(\'B\')."""\nC = os.getenv("C")', [("C", 3, False)]),  # docstrings
    ("msg = \"set os.environ['A']\"", []),  # a plain string is not a read
    ("msg = f\"{os.environ['A']}\"", [("A", 1, False)]),  # an f-string interpolates code
]


@pytest.mark.parametrize(("code", "expected"), PY_READS)
def test_py_env_reads(code: str, expected: list[tuple[str, int, bool]]) -> None:
    assert reads(code, "py") == expected


@pytest.mark.parametrize(
    ("code", "kind", "expr"),
    [
        ("process.env[name]", "js", "name"),
        ("process.env[`A_${x}`]", "js", "`A_${x}`"),
        ("process.env['A' + x]", "js", "'A' + x"),
        ("const { A, ...rest } = process.env", "js", "...rest"),
        ("os.environ[key]", "py", "key"),
        ("os.getenv(f'A_{x}')", "py", "f'A_{x}'"),
        ("os.getenv('A' + x)", "py", "'A' + x"),
        ("os.environ.get(name, 'd')", "py", "name, 'd'"),
    ],
)
def test_dynamic_reads_are_unresolved_not_guessed(code: str, kind: str, expr: str) -> None:
    dyn = [r for r in scan_text(code, "f", kind).env_reads if r.name is None]
    assert [r.expr for r in dyn] == [expr]


@pytest.mark.parametrize(
    ("code", "kind", "expected"),
    [
        ("KEY = 'OCR_QUEUE_KEY'\nq = os.getenv(KEY)", "py", [("OCR_QUEUE_KEY", 2, False)]),
        ("KEY = 'OCR_QUEUE_KEY'\nq = os.environ.get(KEY, 'x')", "py", [("OCR_QUEUE_KEY", 2, True)]),
        ("const KEY = 'OCR_QUEUE_KEY';\nconst q = process.env[KEY];", "js", [("OCR_QUEUE_KEY", 2, False)]),
        ("KEY = 'A'\nKEY = 'B'\nos.getenv(KEY)", "py", [(None, 3, False)]),  # two values: not guessed
        ("def f(KEY):\n    KEY = 'A'\n    return os.getenv(KEY)", "py", [(None, 3, False)]),  # not module level
    ],
)
def test_constant_names_in_the_same_file_are_resolved(code: str, kind: str, expected: list[tuple[str | None, int, bool]]) -> None:
    assert reads(code, kind) == expected


def test_dynamic_read_waived_by_allow_comment() -> None:
    facts = scan_text("v = os.environ[key]  # preflight: allow keys are listed in KNOWN_KEYS\n", "w.py", "py")
    assert facts.env_reads == []
    assert [(a.rule, a.line, a.reason) for a in facts.allowed] == [("dynamic", 1, "keys are listed in KNOWN_KEYS")]


SETTINGS = '''
from typing import ClassVar
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Worker(BaseSettings):
    """Docs.

    not_a_field: str
    """

    model_config = SettingsConfigDict(env_prefix="ocr_")
    queue_key: str
    retries: int = 3
    timeout: int = Field(...)
    concurrency: int = Field(default=2, alias="GPU_WORKER_CONCURRENCY")
    token: str = Field(validation_alias=AliasChoices("HF_TOKEN", "HUGGINGFACE_TOKEN"))
    _private: str = "x"
    VERSION: ClassVar[str] = "1"

    def url(self) -> str:
        return "x"


class Legacy(BaseSettings):
    api_url: str

    class Config:
        env_prefix = "LEGACY_"


class Exact(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=True)
    MixedCase: str


class NotSettings(BaseModel):
    ignored: str
'''

NESTED = '''
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict


class Pool(BaseModel):
    size: int = 5


class Database(BaseModel):
    host: str = "localhost"
    port: int = 5432
    pool: Pool = Pool()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APP_", env_nested_delimiter="__")
    db: Database = Database()
    cache: Database | None = None
    name: str


class Flat(BaseSettings):
    db: Database
'''


def test_pydantic_settings_nested_delimiter_reads_each_leaf() -> None:
    """env_nested_delimiter='__': `db: Database` is read as APP_DB__HOST, ... at each leaf's line (its default
    is judged there); without a delimiter the field is one JSON variable."""
    assert reads(NESTED, "py") == [
        ("APP_DB__HOST", 11, True), ("APP_DB__PORT", 12, True), ("APP_DB__POOL__SIZE", 7, True),
        ("APP_CACHE__HOST", 11, True), ("APP_CACHE__PORT", 12, True), ("APP_CACHE__POOL__SIZE", 7, True),
        ("APP_NAME", 20, False),
        ("DB", 24, False),
    ]
    facts = scan_text(NESTED, "settings.py", "py")
    assert [(f.rule, f.line, f.fallback) for f in facts.findings] == [("localhost", 11, True)]


def test_pydantic_settings_fields() -> None:
    got = reads(SETTINGS, "py")
    assert got == [
        ("OCR_QUEUE_KEY", 14, False),
        ("OCR_RETRIES", 15, True),
        ("OCR_TIMEOUT", 16, False),
        ("GPU_WORKER_CONCURRENCY", 17, True),
        ("HF_TOKEN", 18, False),
        ("HUGGINGFACE_TOKEN", 18, False),
        ("LEGACY_API_URL", 27, False),
        ("MixedCase", 35, False),
    ]


MOCKS = [
    ("js", "import sinon from 'sinon';", "mock_import", "sinon"),
    ("js", "import { http } from 'msw';", "mock_import", "msw"),
    ("js", "import { setupServer } from 'msw/node';", "mock_import", "msw"),
    ("js", "const nock = require('nock');", "mock_import", "nock"),
    ("js", "const td = await import('testdouble');", "mock_import", "testdouble"),
    ("js", "import 'jest-fetch-mock';", "mock_import", "jest-fetch-mock"),
    ("js", "import { faker } from '@faker-js/faker';", "mock_import", "@faker-js/faker"),
    ("js", "jest.mock('./db');", "mock_import", "jest.mock"),
    ("js", "const f = vi.fn();", "mock_import", "vi.fn"),
    ("js", "import ocr from '../__mocks__/ocr';", "mocks_dir", "__mocks__"),
    ("js", "const key = 'sk_test_4eC39HqLyjWDarjtT1zdp7dc';", "test_key", "sk_test_"),
    ("js", "fetch('http://localhost:3000/api')", "localhost", "localhost:3000"),
    ("js", "const db = 'postgres://u:pw@127.0.0.1:5432/db'", "localhost", "127.0.0.1:5432"),
    ("js", "redis.connect({ host: 'localhost' })", "localhost", "localhost"),
    ("py", "from unittest.mock import patch", "mock_import", "unittest.mock"),
    ("py", "from unittest import mock", "mock_import", "unittest.mock"),
    ("py", "import unittest.mock", "mock_import", "unittest.mock"),
    ("py", "import responses", "mock_import", "responses"),
    ("py", "from faker import Faker", "mock_import", "faker"),
    ("py", "from moto import mock_aws", "mock_import", "moto"),
    ("py", "    mocker.patch('x')", "mock_import", "mocker.patch"),
    ("py", "API = 'http://[::1]:8080'", "localhost", "[::1]:8080"),
    ("py", "REDIS_HOST = 'localhost'", "localhost", "localhost"),
    ("py", "r = redis.Redis(host='127.0.0.1', port=6379)", "localhost", "127.0.0.1"),
]


@pytest.mark.parametrize(("lang", "code", "rule", "what"), MOCKS)
def test_mock_findings(lang: str, code: str, rule: str, what: str) -> None:
    facts = scan_text(code, "src/x", lang)
    assert [(f.rule, f.line) for f in facts.findings] == [(rule, 1)]
    assert what in facts.findings[0].what


@pytest.mark.parametrize(
    ("lang", "code"),
    [
        ("js", "// import sinon from 'sinon';"),
        ("js", "const s = 'sinon';"),
        ("js", "import { mockFn } from './mocking';"),
        ("js", "if (key.startsWith('sk_test_')) throw new Error('test key');"),
        ("js", "app.listen(port, '0.0.0.0');"),
        ("js", "const u = 'https://localhost.example.com';"),
        ("js", "const u = 'https://api.example.com/localhost';"),
        ("py", "import mockito_like_but_not"),
        ("py", "from app import responses"),
        ("py", "# from unittest import mock"),
        ("py", "HOST = '0.0.0.0'"),
        ("py", "if host == 'localhost' or host.endswith('.localhost'): pass"),
        ("py", "LOOPBACK_HOSTS = {'localhost', '127.0.0.1'}"),
        ("py", "LOCALHOST = 'localhost'"),
        ("py", "INTERNAL_IPS = get_list(os.environ.get('INTERNAL_IPS', '127.0.0.1'))"),  # an allow-list, no endpoint
        ("py", "ALLOWED_HOSTS = os.getenv('ALLOWED_HOSTS', 'localhost')"),
        ("py", '"""Example:\n\n    mocker.patch("x")\n    url = "http://localhost:8080"\n"""'),
        ("py", "HELP = 'patch with mocker.patch in tests'"),
        ("js", "const help = 'call jest.mock() in tests only';"),
    ],
)
def test_no_false_mock_findings(lang: str, code: str) -> None:
    assert scan_text(code, "src/x", lang).findings == []


@pytest.mark.parametrize(
    ("code", "fallback"),
    [
        ("const u = process.env.API_URL || 'http://localhost:3000'", True),
        ("const u = process.env.API_URL ?? 'http://localhost:3000'", True),
        ("const u = 'http://localhost:3000'", False),
    ],
)
def test_localhost_fallback_flag(code: str, fallback: bool) -> None:
    assert [f.fallback for f in scan_text(code, "a.ts", "js").findings] == [fallback]


@pytest.mark.parametrize(
    ("code", "lang", "waived"),
    [
        ("import sinon from 'sinon'; // preflight: allow used by the demo endpoint", "js", True),
        ("// preflight: allow used by the demo endpoint\nimport sinon from 'sinon';", "js", True),
        ("import sinon from 'sinon'; // preflight: allow", "js", False),  # a reason is required
        ("x(); // preflight: allow reason for x only\nimport sinon from 'sinon';", "js", False),  # not comment-only
        ("// preflight: allow one line only\n\nimport sinon from 'sinon';", "js", False),
        ("import responses  # preflight: allow replay tool shipped on purpose", "py", True),
    ],
)
def test_allow_comment_silences_one_line(code: str, lang: str, waived: bool) -> None:
    facts = scan_text(code, "a", lang)
    assert bool(facts.allowed) is waived
    assert bool(facts.findings) is not waived
    if waived:
        assert facts.allowed[0].reason and "preflight" not in facts.allowed[0].reason


ENV_FILE = """# production
NODE_ENV=production
USE_MOCK_PAYMENTS=true
MOCK_OCR="1"
export PAYMENTS_MOCK=yes
MOCKS_ENABLED=on # inline comment
USE_MOCK_GPU=false
MOCKINGBIRD_URL=true
SMOCK=true
STRIPE_KEY=pk_test_TYooMQauvdEDq54NiTphI7jx
MOCK_SMS=true # preflight: allow the SMS provider has no sandbox-free plan
"""


def test_env_file_mock_switches_and_test_keys() -> None:
    facts = scan_text(ENV_FILE, ".env.production", "env")
    got = [(f.rule, f.line) for f in facts.findings]
    assert got == [("mock_switch", 3), ("mock_switch", 4), ("mock_switch", 5), ("mock_switch", 6), ("test_key", 10)]
    assert "TYooMQ" not in " ".join(f.what for f in facts.findings)
    assert [a.line for a in facts.allowed] == [11]


@pytest.mark.parametrize(
    ("name", "prod"),
    [
        (".env", True), (".env.production", True), (".env.prod", True), ("prod.env", True),
        ("prod.env.backup", True), ("backend.env", True), ("production.env", True),
        (".env.test", False), (".env.development", False), (".env.local", False), (".env.example", False),
        ("dev.env", False), ("staging.env", False), ("ci.env", False), ("env.ts", False), ("README.md", False),
    ],
)
def test_env_file_classification(name: str, prod: bool) -> None:
    assert env_file_is_production(name) is prod


@pytest.mark.parametrize(
    ("name", "kind"),
    [("a.ts", "js"), ("a.tsx", "js"), ("a.mjs", "js"), ("a.d.ts", None), ("a.min.js", None), ("a.py", "py"),
     ("production.json", "config"), ("config.json", None), ("logo.png", None), (".env.production", "env")],
)
def test_file_kind(name: str, kind: str | None) -> None:
    assert file_kind(name) == kind


@pytest.mark.parametrize(
    ("path", "is_test"),
    [
        ("src/__tests__/a.ts", True), ("tests/test_a.py", True), ("test/e2e.js", True), ("src/a.test.ts", True),
        ("src/a.spec.js", True), ("worker/test_main.py", True), ("worker/main_test.py", True),
        ("conftest.py", True), ("pkg/conftest.py", True), ("jest.config.js", True), ("src/Button.stories.tsx", True),
        ("src/a.ts", False), ("src/testing.ts", False), ("src/contest.py", False), ("src/latest/a.ts", False),
        ("src/__mocks__/a.ts", False), ("worker/attest.py", False),
        ("src/api.clienttest.ts", True), ("setup-jest.ts", True), ("integration-tests/a.ts", True),
        ("scripts/seed.ts", True), ("load_tests/locustfile.py", True), ("src/scripts/run.ts", True),  # ops tooling (langfuse worker)
        ("src/integration/buli2.ts", False),
    ],
)
def test_default_test_paths(path: str, is_test: bool) -> None:
    rx = compile_globs(make_config().test_globs)
    assert bool(rx.match(path)) is is_test


def test_test_paths_are_configurable() -> None:
    cfg = make_config(extra_test_globs=["src/dev/**", "**/*.fixture.ts"])
    rx = compile_globs(cfg.test_globs)
    assert rx.match("src/dev/seed.ts") and rx.match("a/b.fixture.ts") and rx.match("src/a.test.ts")
    only = compile_globs(make_config(test_globs=["qa/**"]).test_globs)
    assert only.match("qa/a.ts") and not only.match("src/a.test.ts")


QUEUE_CASES = [
    ("js", "await redis.lpush('filot:ocr:jobs', job)", [(PRODUCE, "lpush", "filot:ocr:jobs", None)]),
    ("js", "await client.lPush(QUEUE, job)", [(PRODUCE, "lpush", None, "QUEUE")]),
    ("js", "await redis.rpush(config.ocr.key as string, job)", [(PRODUCE, "rpush", None, "config.ocr.key")]),
    ("js", "const q = new Queue('ocr', { connection })", [(PRODUCE, "Queue", "ocr", None)]),
    ("js", "new Worker<Job>('ocr', handler)", [(CONSUME, "Worker", "ocr", None)]),
    ("js", "const OCR_QUEUE = 'filot:ocr:jobs';", [(CONSTANT, "OCR_QUEUE", "filot:ocr:jobs", None)]),
    ("js", "const key = process.env.OCR_QUEUE_KEY || 'ocr'", [(DEFAULT, "OCR_QUEUE_KEY", "ocr", None)]),
    ("js", "redis.lpush(`jobs:${id}`, x)", []),
    ("js", "// redis.lpush('old', x)", []),
    ("py", "r.brpop(['filot:ocr:jobs'], timeout=5)", [(CONSUME, "brpop", "filot:ocr:jobs", None)]),
    ("py", "r.blmove(SRC, DST, 5)", [(CONSUME, "blmove", None, "SRC")]),
    ("py", "q = Queue('ocr', connection=r)", [(DECLARE, "Queue", "ocr", None)]),
    ("py", "q = asyncio.Queue(maxsize)", []),
    ("py", "r.brpop(f'jobs:{x}')", []),
    ("py", "Q = os.getenv('OCR_QUEUE_KEY', 'ocr_jobs')", [(DEFAULT, "OCR_QUEUE_KEY", "ocr_jobs", None)]),
    ("py", "DEAD_QUEUE: str = 'dead'", [(CONSTANT, "DEAD_QUEUE", "dead", None)]),
    # a TS enum member names the queue (resolved against the tree's enum constants)
    ("js", "enum QueueName {\n  OCR = 'filot:ocr:jobs',\n  MAIL = \"mail\",\n}\nnew Queue(QueueName.OCR, { connection })",
     [(PRODUCE, "Queue", None, "QueueName.OCR"), (CONSTANT, "QueueName.OCR", "filot:ocr:jobs", None),
      (CONSTANT, "QueueName.MAIL", "mail", None)]),
    ("js", "const q = new Queue(queueName, { connection })", []),  # a parameter: not a queue we can name
    # rq workers over a literal list of names
    ("py", "listen = ['high', 'default']\nw = Worker(map(Queue, listen), connection=conn)",
     [(CONSUME, "Worker", "high", None), (CONSUME, "Worker", "default", None)]),
    ("py", "listen = ['ocr']\nw = Worker([Queue(name, connection=conn) for name in listen])",
     [(CONSUME, "Worker", "ocr", None)]),
    ("py", "w = Worker(['high', 'low'], connection=r)", [(CONSUME, "Worker", "high", None), (CONSUME, "Worker", "low", None)]),
    ("py", "w = Worker(map(Queue, names_from_cli()))", []),
]


@pytest.mark.parametrize(("lang", "code", "expected"), QUEUE_CASES)
def test_queue_refs(lang: str, code: str, expected: list[tuple[str, str, str | None, str | None]]) -> None:
    refs = scan_text(code, "f", lang, frozenset({"OCR_QUEUE_KEY"})).queue_refs
    assert [(r.kind, r.label, r.value, r.ident) for r in refs] == expected


def test_settings_field_default_is_a_queue_default() -> None:
    code = "class S(BaseSettings):\n    model_config = SettingsConfigDict(env_prefix='OCR_')\n    queue_key: str = 'q1'\n"
    refs = scan_text(code, "s.py", "py").queue_refs
    assert [(r.kind, r.label, r.value) for r in refs] == [(DEFAULT, "OCR_QUEUE_KEY", "q1")]


@pytest.mark.parametrize(
    ("ident", "constants", "const_env", "reads", "expected"),
    [
        ("OCR_QUEUE", {"OCR_QUEUE": {"a"}}, {}, set(), ("lit", "a")),
        ("OCR_QUEUE", {"OCR_QUEUE": {"a", "b"}}, {}, set(), None),  # ambiguous: not guessed
        ("q", {}, {"q": "OCR_QUEUE_KEY"}, set(), ("env", "OCR_QUEUE_KEY")),
        ("config.ocrQueueKey", {}, {}, {"OCR_QUEUE_KEY"}, ("env", "OCR_QUEUE_KEY")),
        ("settings.queue_key", {}, {}, {"OCR_QUEUE_KEY"}, ("env", "OCR_QUEUE_KEY")),
        ("settings.key", {}, {}, {"OCR_QUEUE_KEY"}, None),  # one-word names are too vague to match a suffix
        ("unknown", {}, {}, set(), None),
    ],
)
def test_resolve(ident: str, constants: dict[str, set[str]], const_env: dict[str, str], reads: set[str],
                 expected: tuple[str, str] | None) -> None:
    ref = QueueRef(PRODUCE, "lpush", "f", 1, ident=ident)
    assert resolve(ref, constants, const_env, reads) == expected


def write(root: Path, rel: str, text: str | bytes) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)


def test_walk_skips_vendored_test_binary_and_huge_files(tmp_path: Path) -> None:
    bad = "import sinon from 'sinon'; const u = 'http://localhost:1';\n"
    write(tmp_path, "src/app.ts", "const a = process.env.A;\n")
    for rel in ("node_modules/x/index.js", ".git/hooks/a.js", "dist/app.js", "build/app.js", ".venv/lib/a.py",
                "env3/lib/a.py", "src/__tests__/a.ts", "src/a.test.ts", "tests/test_a.py", "conftest.py",
                "coverage/lcov.js", "src/types.d.ts", "public/app.min.js"):
        write(tmp_path, rel, bad)
    write(tmp_path, "env3/pyvenv.cfg", "home = /usr/bin\n")
    write(tmp_path, "src/logo.js", b"\x89PNG\r\n\x1a\n\x00\x00" + b"x" * 100)
    write(tmp_path, "src/huge.js", "// x\n" * 300_000)
    write(tmp_path, "src/__mocks__/db.ts", "export default {};\n")
    write(tmp_path, "src/__mocks__/deep/x.ts", "export default {};\n")
    scan = scan_tree(tmp_path, "backend", make_config())
    assert scan.files_scanned == 1
    assert [(r.name, r.path) for r in scan.env_reads] == [("A", "src/app.ts")]
    assert scan.skipped_binary == 1 and scan.skipped_large == 1
    assert scan.test_files == 2  # a.test.ts and conftest.py; test folders are pruned whole
    assert [(f.rule, f.path, f.line, f.what) for f in scan.findings] == [("mocks_dir", "src/__mocks__", 0, "2 file(s)")]


def test_missing_root_is_a_fact(tmp_path: Path) -> None:
    assert scan_tree(tmp_path / "nope", "backend", make_config()).error == "does not exist"
    (tmp_path / "f").write_text("")
    assert scan_tree(tmp_path / "f", "backend", make_config()).error == "not a directory"


def test_symlinked_folders_are_not_followed(tmp_path: Path) -> None:
    write(tmp_path, "src/a.ts", "process.env.A\n")
    os.symlink(tmp_path / "src", tmp_path / "src" / "loop")
    assert scan_tree(tmp_path, "backend", make_config()).files_scanned == 1


def test_process_pool_gives_the_same_facts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(40):
        write(tmp_path, f"src/m{n}.ts", f"const v{n} = process.env.V{n};\nimport nock from 'nock';\n")
    one = scan_tree(tmp_path, "backend", make_config())
    monkeypatch.setattr(scan_mod, "POOL_MIN_FILES", 1)
    two = scan_tree(tmp_path, "backend", make_config(), workers=2)
    assert two.files_scanned == one.files_scanned == 40
    assert two.env_reads == one.env_reads and two.findings == one.findings


def test_cached_scan_is_shared_until_cleared(tmp_path: Path) -> None:
    write(tmp_path, "a.ts", "process.env.A\n")
    cfg = make_config()
    first = scan_mod.scan_tree_cached(tmp_path, "backend", cfg)
    assert scan_mod.scan_tree_cached(tmp_path, "backend", cfg) is first
    scan_mod.clear_cache()
    assert scan_mod.scan_tree_cached(tmp_path, "backend", cfg) is not first


def test_enum_queue_names_resolve_across_files_and_meet_an_rq_worker(tmp_path: Path) -> None:
    """`new Queue(QueueName.OCR)` with the enum imported from another file; the worker is rq over a list."""
    from filot_preflight.audit.queue_judge import judge_queues
    from filot_preflight.models import Status

    (tmp_path / "backend" / "src").mkdir(parents=True)
    (tmp_path / "backend" / "src" / "queues.ts").write_text("export enum QueueName {\n  OCR = 'filot:ocr:jobs',\n}\n")
    (tmp_path / "backend" / "src" / "producer.ts").write_text(
        "import { Queue } from 'bullmq';\nimport { QueueName } from './queues';\n"
        "export const ocr = new Queue(QueueName.OCR, { connection });\n")
    (tmp_path / "worker").mkdir()
    worker = tmp_path / "worker" / "worker.py"
    worker.write_text("from rq import Queue, Worker\nlisten = ['filot:ocr:jobs']\n"
                      "Worker(map(Queue, listen), connection=conn).work()\n")
    config = make_config()
    scans = {"backend": scan_tree(tmp_path / "backend", "backend", config),
             "gpu-worker": scan_tree(tmp_path / "worker", "gpu-worker", config)}
    assert [r.status for r in judge_queues(scans, {})] == [Status.PASS]
    worker.write_text("from rq import Queue, Worker\nlisten = ['ocr_jobs']\nWorker(map(Queue, listen)).work()\n")
    scans["gpu-worker"] = scan_tree(tmp_path / "worker", "gpu-worker", config)
    [r] = judge_queues(scans, {})
    assert r.status == Status.FAIL and "'filot:ocr:jobs'" in r.summary and "'ocr_jobs'" in r.summary


def test_dotenv_safe_makes_every_name_of_the_example_a_read(tmp_path: Path) -> None:
    """dotenv-safe refuses to start unless each name of .env.example is set: those names are the service's reads."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "index.js").write_text("require('dotenv-safe').config();\nconst app = require('./app');\n")
    (tmp_path / ".env.example").write_text("# copy to .env\nDATABASE_URL=\n\nexport REDIS_URL=redis://cache:6379\n"
                                           "JWT_SECRET=\"multi\nline\"\nPORT=3000\n")
    scan = scan_tree(tmp_path, "backend", make_config())
    assert [(r.name, r.where, r.has_default) for r in scan.env_reads] == [
        ("DATABASE_URL", ".env.example:2", False), ("REDIS_URL", ".env.example:4", False),
        ("JWT_SECRET", ".env.example:5", False), ("PORT", ".env.example:7", False),
    ]
    assert scan.parse_errors == []


def test_dotenv_safe_example_option_and_a_missing_example(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "server.ts").write_text(
        "import dotenvSafe from 'dotenv-safe';\ndotenvSafe.config({ example: './config/.env.required' });\n")
    (tmp_path / "config" / ".env.required").write_text("OCR_QUEUE_KEY=\n")
    scan = scan_tree(tmp_path, "backend", make_config())
    assert [(r.name, r.where) for r in scan.env_reads] == [("OCR_QUEUE_KEY", "config/.env.required:1")]
    (tmp_path / "config" / ".env.required").unlink()
    scan = scan_tree(tmp_path, "backend", make_config())
    assert scan.env_reads == []
    assert scan.parse_errors == [] and [e.where for e in scan.missing_examples] == ["server.ts:1"]


def test_a_missing_dotenv_safe_example_is_a_warn_naming_the_loader(tmp_path: Path) -> None:
    from filot_preflight import manifest
    from filot_preflight.checkers.env_drift import DriftFacts, judge
    from filot_preflight.models import Status

    (tmp_path / "index.js").write_text("\nrequire('dotenv-safe').config();\n")
    scan = scan_tree(tmp_path, "backend", make_config())
    got = [r for r in judge(DriftFacts((scan,)), manifest.load()) if r.id == "env_drift.dotenv_safe_example"]
    assert [(r.status, r.target) for r in got] == [(Status.WARN, "index.js:2")]
    assert ".env.example" in got[0].summary and got[0].remediation
