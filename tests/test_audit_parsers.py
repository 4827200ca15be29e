"""Env reads from syntax trees: writes, config libraries, schemas, helpers, multi-line defaults, parse errors.

Each case is real code in the shape the libraries document (envalid, zod, t3-env, znv, NestJS ConfigService,
environs, django-environ, python-decouple, pydantic-settings); the parsers are the real tree-sitter grammars
and Python's ast.
"""

from __future__ import annotations

import pytest

from filot_preflight.audit import scan_text
from filot_preflight.audit.model import LOCALHOST


def reads(code: str, rel: str = "f.ts") -> list[tuple[str | None, int, bool]]:
    kind = "py" if rel.endswith(".py") else "js"
    return [(r.name, r.line, r.has_default) for r in scan_text(code, rel, kind).env_reads]


JS = [
    # writes are not reads
    ("process.env.NODE_ENV = 'production';", []),
    ("process.env[key] = value;", []),
    ("process.env.X ||= 'a';", []),
    ("delete process.env.SECRET;", []),
    ("if (!process.env.TZ) process.env.TZ = 'UTC';", [("TZ", 1, False)]),
    # TS wrappers around a read
    ("const k = (process.env.K as string) ?? 'a';", [("K", 1, True)]),
    ("const m = process.env.M!;", [("M", 1, False)]),
    ("const u =\n  process.env.REDIS_URL\n  ?? 'redis://cache:6379';", [("REDIS_URL", 2, True)]),
    # envalid
    (
        "import { cleanEnv, str, port } from 'envalid';\n"
        "export const env = cleanEnv(process.env, {\n"
        "  DATABASE_URL: str(),\n"
        "  PORT: port({ default: 3000 }),\n"
        "  SENTRY_DSN: str({ devDefault: '' }),\n"
        "});",
        [("DATABASE_URL", 3, False), ("PORT", 4, True), ("SENTRY_DSN", 5, False)],
    ),
    # zod, inline and through a schema constant
    (
        "const env = z.object({\n  API_URL: z.string().url(),\n  LOG_LEVEL: z.string().default('info'),\n"
        "  DEBUG: z.coerce.boolean().optional(),\n}).parse(process.env);",
        [("API_URL", 2, False), ("LOG_LEVEL", 3, True), ("DEBUG", 4, True)],
    ),
    (
        "const schema = z.object({ REDIS_URL: z.string() });\nexport const env = schema.parse(process.env);",
        [("REDIS_URL", 1, False)],
    ),
    ("const env = loadSchema().parse(process.env);", [(None, 1, False)]),  # unresolvable: dynamic
    # t3-env
    (
        "export const env = createEnv({\n  server: { DATABASE_URL: z.string().url() },\n"
        "  client: { NEXT_PUBLIC_API: z.string() },\n  runtimeEnv: process.env,\n});",
        [("DATABASE_URL", 2, False), ("NEXT_PUBLIC_API", 3, False)],
    ),
    # znv
    ("const { PORT } = parseEnv(process.env, {\n  PORT: z.number().default(8080),\n});", [("PORT", 2, True)]),
    # NestJS ConfigService
    (
        "import { ConfigService } from '@nestjs/config';\nclass A {\n  constructor(private configService: ConfigService) {}\n"
        "  f() { return this.configService.get<string>('DB_HOST', 'db'); }\n"
        "  g() { return this.configService.getOrThrow('JWT_SECRET'); }\n"
        "  h() { return this.configService.get('database.host'); }\n}",
        [("DB_HOST", 4, True), ("JWT_SECRET", 5, False)],
    ),
    # a same-file helper, followed one level
    (
        "function required(name: string): string {\n  const v = process.env[name];\n"
        "  if (!v) throw new Error(`missing ${name}`);\n  return v;\n}\n"
        "export const db = required('DATABASE_URL');\nexport const r = required('REDIS_URL');",
        [("DATABASE_URL", 6, False), ("REDIS_URL", 7, False)],
    ),
    (
        "const opt = (name: string, d: string) => process.env[name] ?? d;\nconst p = opt('PORT', '3000');",
        [("PORT", 2, True)],
    ),
    # a helper called only with computed names stays dynamic
    ("function get(name) { return process.env[name]; }\nget(x);", [(None, 2, False)]),
    # Joi over process.env, through a schema constant and chained calls (hagopj13/node-express-boilerplate)
    (
        "const envVarsSchema = Joi.object()\n  .keys({\n    PORT: Joi.number().default(3000),\n"
        "    MONGODB_URL: Joi.string().required(),\n  })\n  .unknown();\n"
        "const { value: envVars } = envVarsSchema.prefs({ errors: { label: 'key' } }).validate(process.env);",
        [("PORT", 3, True), ("MONGODB_URL", 4, False)],
    ),
    # envalid spec declared after use, `satisfies`, conditional spreads, computed keys (novu's worker)
    (
        "export const validateEnv = () => cleanEnv(process.env, validators);\nconst validators = {\n  PORT: port(),\n"
        "  ...(process.env.STORAGE === 'S3' && {\n    S3_BUCKET: str(),\n  }),\n"
        "  ...Object.keys(Flags).reduce((a, k) => ({ ...a, [k]: bool({ default: false }) }), {}),\n"
        "} satisfies Record<string, ValidatorSpec<unknown>>;",
        [("PORT", 3, False), ("S3_BUCKET", 5, False), (None, 7, False), ("STORAGE", 4, False)],
    ),
    # a class validated over process.env (class-validator, brocoders/nestjs-boilerplate)
    (
        "class EnvironmentVariablesValidator {\n  @IsString()\n  DATABASE_HOST: string;\n\n  @IsOptional()\n"
        "  @IsString()\n  DATABASE_PASSWORD?: string;\n}\n"
        "export default registerAs('database', () => {\n  validateConfig(process.env, EnvironmentVariablesValidator);\n"
        "  return { host: process.env.DATABASE_HOST };\n});",
        [("DATABASE_HOST", 3, False), ("DATABASE_PASSWORD", 7, True), ("DATABASE_HOST", 11, False)],
    ),
    # zod over a copy of process.env made by a helper (langfuse's worker)
    (
        "const EnvSchema = z.object({\n  DATABASE_URL: z.string(),\n  PORT: z.coerce.number().default(3030),\n});\n"
        "const parsed = EnvSchema.parse(removeEmptyEnvVariables(process.env));",
        [("DATABASE_URL", 2, False), ("PORT", 3, True)],
    ),
    # Strapi's config functions get an `env` helper (strapi/foodadvisor config/database.js)
    (
        "module.exports = ({ env }) => ({\n  connection: {\n    host: env('DATABASE_HOST', 'db'),\n"
        "    port: env.int('DATABASE_PORT', 5432),\n    ssl: env.bool(\n      'DATABASE_SSL',\n      false\n    ),\n"
        "    key: env('DATABASE_SSL_KEY', undefined),\n    client: env.oneOf('DATABASE_CLIENT', ['pg', 'mysql'], 'pg'),\n"
        "  },\n});",
        [("DATABASE_HOST", 3, True), ("DATABASE_PORT", 4, True), ("DATABASE_SSL", 5, True),
         ("DATABASE_SSL_KEY", 9, False), ("DATABASE_CLIENT", 10, True)],
    ),
    ("const env = (k) => k;\nenv('NOT_A_VARIABLE');", []),  # `env` not handed in by a config function
    # an alias of process.env
    (
        "const processEnv = process.env as Record<string, string>;\n"
        "if (processEnv.STORAGE_SERVICE === 'AZURE') use(processEnv['AZURE_ACCOUNT_KEY']);",
        [("STORAGE_SERVICE", 2, False), ("AZURE_ACCOUNT_KEY", 2, False)],
    ),
]


@pytest.mark.parametrize(("code", "expected"), JS)
def test_js_reads_from_the_syntax_tree(code: str, expected: list[tuple[str | None, int, bool]]) -> None:
    assert reads(code) == expected


def test_tsx_and_jsx_parse() -> None:
    tsx = "export const A = () => <div title={process.env.NEXT_PUBLIC_TITLE}>{'process.env.NOT'}</div>;"
    assert reads(tsx, "a.tsx") == [("NEXT_PUBLIC_TITLE", 1, False)]
    assert reads(tsx, "a.jsx") == [("NEXT_PUBLIC_TITLE", 1, False)]
    facts = scan_text(tsx, "a.tsx", "js")
    assert facts.parse_error is None


def test_js_syntax_error_is_reported_and_the_rest_still_read() -> None:
    code = "const a = process.env.A;\nconst b = (;\nconst c = process.env.C;\n"
    facts = scan_text(code, "bad.ts", "js")
    assert facts.parse_error is not None and facts.parse_error.line == 2
    assert {r.name for r in facts.env_reads} >= {"A", "C"}


PY = [
    ("del os.environ['X']", []),
    ("import os as _os\nv = _os.getenv('A')", [("A", 2, False)]),
    ("os.environ.pop('A', None)", [("A", 1, True)]),
    (
        "from environs import Env\nenv = Env()\nenv.read_env()\nDEBUG = env.bool('DEBUG', False)\n"
        "URL = env.str('API_URL')\nN = env('WORKERS', 2)",
        [("DEBUG", 4, True), ("API_URL", 5, False), ("WORKERS", 6, True)],
    ),
    (
        "import environ\nenv = environ.Env(DEBUG=(bool, False))\nDEBUG = env('DEBUG')\n"
        "DATABASES = {'default': env.db()}\nKEY = env.str('SECRET_KEY', default='x')",
        [("DEBUG", 3, False), ("DATABASE_URL", 4, False), ("SECRET_KEY", 5, True)],
    ),
    (
        "from decouple import config, Csv\nDEBUG = config('DEBUG', default=False, cast=bool)\n"
        "HOSTS = config('ALLOWED_HOSTS', cast=Csv())",
        [("DEBUG", 2, True), ("ALLOWED_HOSTS", 3, False)],
    ),
    (
        "import os\n\ndef get_bool_from_env(name, default=False):\n    return os.getenv(name, str(default)) == 'True'\n\n"
        "USE_TLS = get_bool_from_env('USE_TLS')\nDEBUG = get_bool_from_env('DEBUG', True)",
        [("USE_TLS", 6, True), ("DEBUG", 7, True)],
    ),
    (
        "import os\n\ndef need(key):\n    return os.environ[key]\n\nDB = need('DATABASE_URL')",
        [("DATABASE_URL", 6, False)],
    ),
    (
        "class Base(BaseSettings):\n    model_config = SettingsConfigDict(env_prefix='APP_')\n    host: str\n\n"
        "class Child(Base):\n    port: int = 1",
        [("APP_HOST", 3, False), ("PORT", 6, True)],
    ),
    # a helper that also reads NAME_FILE (healthchecks' envsecret), every read of the helper followed
    (
        "import os\n\ndef envsecret(s, default=None):\n    if secret_path := os.getenv(s + '_FILE'):\n"
        "        return open(secret_path).read()\n    return os.getenv(s, default)\n\n"
        "SECRET_KEY = envsecret('SECRET_KEY', '---')\nTOKEN = envsecret('TELEGRAM_TOKEN')",
        [("SECRET_KEY_FILE", 8, True), ("SECRET_KEY", 8, True), ("TELEGRAM_TOKEN_FILE", 9, False),
         ("TELEGRAM_TOKEN", 9, True)],  # os.getenv(s, default): a fallback, even if None
    ),
    (
        "import os\n\ndef get_url_from_env(name, *, schemes=None):\n    if name in os.environ:\n"
        "        return os.environ[name]\n    return None\n\nPUBLIC_URL = get_url_from_env('PUBLIC_URL')",
        [("PUBLIC_URL", 8, True)],
    ),
    # starlette's Config (Netflix dispatch)
    (
        "from starlette.config import Config\nconfig = Config('.env')\nENV = config('ENV', default='local')\n"
        "KEY = config(\n    'DISPATCH_ENCRYPTION_KEY', cast=Secret\n)",
        [("ENV", 3, True), ("DISPATCH_ENCRYPTION_KEY", 4, False)],
    ),
    # dj-database-url / django-cache-url read their well-known variable unless env= names another (saleor)
    (
        "import dj_database_url\nimport django_cache_url\n"
        "DATABASES = {'default': dj_database_url.config(env=dj_database_url.DEFAULT_ENV, default='postgres://db/app')}\n"
        "R = dj_database_url.config(env='REPLICA_URL')\nX = dj_database_url.config(env=REPLICA_ENV_NAME)\n"
        "CACHES = {'default': django_cache_url.config()}",
        [("DATABASE_URL", 3, True), ("REPLICA_URL", 4, False), (None, 5, False), ("CACHE_URL", 6, False)],
    ),
]


@pytest.mark.parametrize(("code", "expected"), PY)
def test_py_reads_from_the_syntax_tree(code: str, expected: list[tuple[str | None, int, bool]]) -> None:
    assert reads(code, "f.py") == expected


# The case: a triple-quoted f-string used to hide every read and loopback default after it.
FSTRING = '''import os

BANNER = f"""
Worker {os.getenv("WORKER_NAME", "w")} starting
"""

REDIS_HOST = os.getenv("REDIS_HOST", "localhost")
DB = os.environ["DATABASE_URL"]
'''


def test_triple_quoted_fstring_does_not_blind_the_rest_of_the_file() -> None:
    facts = scan_text(FSTRING, "settings.py", "py")
    assert [(r.name, r.line) for r in facts.env_reads] == [("WORKER_NAME", 4), ("REDIS_HOST", 7), ("DATABASE_URL", 8)]
    assert [(f.rule, f.line, f.fallback) for f in facts.findings] == [(LOCALHOST, 7, True)]


def test_python_syntax_error_is_reported_and_read_by_patterns() -> None:
    facts = scan_text("import os\nA = os.getenv('A')\nprint 'py2'\n", "old.py", "py")
    assert facts.parse_error is not None and facts.parse_error.line == 3
    assert [r.name for r in facts.env_reads] == ["A"]


@pytest.mark.parametrize(
    ("code", "rel", "line", "what"),
    [
        ("const url =\n  process.env.REDIS_URL ??\n  'redis://localhost:6379';", "a.ts", 2, "localhost:6379"),
        ("const env = z.object({\n  API: z.string().default('http://127.0.0.1:3000'),\n}).parse(process.env);",
         "a.ts", 2, "127.0.0.1:3000"),
        ("host = os.getenv('REDIS_HOST', 'localhost')", "a.py", 1, "localhost"),
        ("class S(BaseSettings):\n    redis_host: str = \"localhost\"", "a.py", 2, "localhost"),
        ("from decouple import config\nDB = config(\n    'DB_HOST',\n    default='127.0.0.1',\n)", "a.py", 2,
         "127.0.0.1"),
    ],
)
def test_loopback_fallback_of_a_read_whatever_the_syntax(code: str, rel: str, line: int, what: str) -> None:
    facts = scan_text(code, rel, "py" if rel.endswith(".py") else "js")
    assert [(f.rule, f.line, f.what, f.fallback) for f in facts.findings] == [(LOCALHOST, line, what, True)]


def test_a_file_that_does_not_parse_is_a_warn_with_file_and_line() -> None:
    from filot_preflight import manifest
    from filot_preflight.audit.model import ParseError, TreeScan
    from filot_preflight.checkers.env_drift import DriftFacts, judge
    from filot_preflight.models import Status

    scan = TreeScan(root="/src/backend", service="backend", files_scanned=2,
                    parse_errors=[ParseError("src/a.ts", 7, "syntax error")])
    got = [r for r in judge(DriftFacts((scan,)), manifest.load()) if r.id == "env_drift.parse_error"]
    assert [(r.status, r.target) for r in got] == [(Status.WARN, "src/a.ts:7")]
    assert got[0].remediation
    clean = TreeScan(root="/src/backend", service="backend", files_scanned=2)
    assert [r.status for r in judge(DriftFacts((clean,)), manifest.load())
            if r.id == "env_drift.parse_error"] == [Status.PASS]


@pytest.mark.parametrize(
    ("code", "rel", "expected"),
    [
        ("import { FakeQueue, helper } from '../lib/queue';", "src/a.ts", [("project_mock", 1)]),
        ("const { StubMailer } = require('./mail');", "src/a.js", [("project_mock", 1)]),
        ("import ocr from './services/mock-ocr';", "src/a.ts", [("project_mock", 1)]),
        ("import { InMemoryCache } from '@apollo/client';", "src/a.ts", []),  # a library's class
        ("import { MockedProvider } from './providers';", "src/a.ts", []),  # not a mock name shape
        ("import supertest from 'supertest';", "src/a.ts", [("test_package", 1)]),
        ("const { MongoMemoryServer } = require('mongodb-memory-server');", "src/a.js", [("test_package", 1)]),
        ("from .fakes import FakeRedis", "w/a.py", [("project_mock", 1)]),
        ("from worker.models import InMemoryStore", "w/a.py", [("project_mock", 1)]),
        ("from elsewhere import InMemoryStore", "w/a.py", []),  # not a module of this tree
        ("import pytest", "w/a.py", [("test_package", 1)]),
    ],
)
def test_project_mocks_and_test_packages(code: str, rel: str, expected: list[tuple[str, int]]) -> None:
    kind = "py" if rel.endswith(".py") else "js"
    facts = scan_text(code, rel, kind, local=frozenset({"worker"}))
    assert [(f.rule, f.line) for f in facts.findings] == expected


@pytest.mark.parametrize(
    ("code", "lang"),
    [
        ("app.listen(port, () => console.log(`listening on http://localhost:${port}`));", "js"),
        ("throw new Error('REDIS_URL missing, e.g. redis://localhost:6379');", "js"),
        ("this.logger.warn('falling back to http://127.0.0.1:8080 is disabled');", "js"),
        ("raise ValueError('set DATABASE_URL, e.g. postgres://localhost/db')", "py"),
        ("logging.info('serving on http://localhost:%d', port)", "py"),
    ],
)
def test_loopback_in_messages_is_not_an_endpoint(code: str, lang: str) -> None:
    assert scan_text(code, "f." + ("ts" if lang == "js" else "py"), lang).findings == []


def test_test_paths_from_the_runners_configuration(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """jest testMatch/testRegex (package.json), vitest include, pytest testpaths/python_files are test paths."""
    import json

    from filot_preflight.audit import make_config, scan_tree
    from filot_preflight.audit.paths import compile_globs
    from filot_preflight.audit.testconfig import project_test_patterns

    (tmp_path / "package.json").write_text(json.dumps({"jest": {
        "testMatch": ["<rootDir>/src/**/*.check.ts", "**/?(*.)+(spec|probe).[jt]s?(x)"],
        "testRegex": "/contract/.*\\.ts$",
    }}))
    (tmp_path / "vitest.config.ts").write_text("export default defineConfig({ test: { include: ['web/**/*.vt.ts'] } });")
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["qa"]\npython_files = ["check_*.py"]\n')
    globs, regexes = project_test_patterns(str(tmp_path))
    rx = compile_globs(globs)
    for path in ("src/a/b.check.ts", "src/x.probe.tsx", "web/a.vt.ts", "qa/deep/a.py", "worker/check_io.py"):
        assert rx.match(path), path
    assert not rx.match("src/a.ts") and not rx.match("worker/io.py")
    assert regexes == ("/contract/.*\\.ts$",)
    for rel in ("src/a/b.check.ts", "src/contract/pay.ts", "qa/a.py", "src/app.ts"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("export const x = process.env.ONLY_IN_TESTS;\n")
    scan = scan_tree(tmp_path, "backend", make_config())
    assert [r.path for r in scan.env_reads] == ["src/app.ts"]
