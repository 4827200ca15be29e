"""Facts the source scanner produces: findings, env-var reads, queue references, per-tree totals.

Plain frozen dataclasses (no pydantic) so that the scanner stays cheap to import in worker processes.
Paths are POSIX paths relative to the scanned root; `line` is 1-based.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Mock-code rules (the part after `mock_code.` in a result id).
MOCKS_DIR = "mocks_dir"
MOCK_IMPORT = "mock_import"
MOCK_SWITCH = "mock_switch"
TEST_KEY = "test_key"
LOCALHOST = "localhost"
PROJECT_MOCK = "project_mock"  # the project's own Mock*/Fake*/InMemory* class or module, imported by production code
TEST_PACKAGE = "test_package"  # a test-only package (mongodb-memory-server, supertest) imported by production code
COMMITTED_SECRET = "committed_secret"  # noqa: S105 (a rule name) a credential committed to a production path (detect-secrets)
MOCK_RULES = (MOCKS_DIR, MOCK_IMPORT, MOCK_SWITCH, TEST_KEY, LOCALHOST, PROJECT_MOCK, TEST_PACKAGE, COMMITTED_SECRET)
DYNAMIC = "dynamic"  # an env read whose name is computed (env_drift); only used for waivers here


@dataclass(frozen=True, slots=True)
class Finding:
    """One mock-code finding. `what` is a short, secret-free description (a library name, a host:port)."""

    rule: str
    path: str
    line: int
    what: str
    fallback: bool = False  # localhost only: the literal is a default behind `||`, `??`, getenv(..., x)

    @property
    def where(self) -> str:
        """'path:line' (or just the path for a directory finding)."""
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(frozen=True, slots=True)
class EnvRead:
    """One read of an environment variable. `name` is None when the name is computed at run time."""

    name: str | None
    path: str
    line: int
    has_default: bool = False
    expr: str = ""  # the unresolved expression, for dynamic reads (code text, never a value)
    default: str | None = None  # the fallback's literal in code (`?? 'redis://localhost'`), judged for loopback
    default_line: int = 0  # where that literal is (a multi-line read's fallback may sit lines below it)

    @property
    def where(self) -> str:
        """'path:line'."""
        return f"{self.path}:{self.line}"


# Queue reference kinds.
PRODUCE = "produce"  # lpush/rpush/xadd/new Queue(...): the service puts jobs there
CONSUME = "consume"  # brpop/blpop/lmove/new Worker(...): the service takes jobs from there
DEFAULT = "default"  # a queue env var's fallback: process.env.OCR_QUEUE_KEY || 'x', getenv('Q', 'x')
CONSTANT = "constant"  # OCR_QUEUE = 'x'
DECLARE = "declare"  # Queue('x') in Python (rq), QueueEvents: used by producers and consumers alike


@dataclass(frozen=True, slots=True)
class QueueRef:
    """A queue named in code. Exactly one of `value` (a literal) / `ident` (an identifier) is set."""

    kind: str
    label: str  # the call (lpush), the constant name, or the env var name
    path: str
    line: int
    value: str | None = None
    ident: str | None = None

    @property
    def where(self) -> str:
        """'path:line'."""
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class Allowed:
    """A line silenced by `preflight: allow <reason>`; kept so the report can show what was waived."""

    rule: str
    path: str
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ParseError:
    """A file the parser could not read cleanly: it was read as far as the parser recovered, and reported."""

    path: str
    line: int
    message: str

    @property
    def where(self) -> str:
        """'path:line'."""
        return f"{self.path}:{self.line}"


@dataclass(slots=True)
class FileFacts:
    """What one file contributed."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    env_reads: list[EnvRead] = field(default_factory=list)
    queue_refs: list[QueueRef] = field(default_factory=list)
    # identifier -> 'env:VAR' for constants initialised from a queue env var (resolves lpush(OCR_QUEUE))
    const_env: dict[str, str] = field(default_factory=dict)
    allowed: list[Allowed] = field(default_factory=list)
    parse_error: ParseError | None = None
    secret_candidate: bool = False  # worth a detect-secrets pass (credentials.is_candidate)
    dotenv_safe: tuple[str, int] | None = None  # (example file, line): the file loads dotenv-safe


@dataclass(frozen=True, slots=True)
class AuditConfig:
    """Scanner settings; hashable so that a scan can be cached per (root, config)."""

    test_globs: tuple[str, ...]
    skip_dirs: frozenset[str]
    max_file_bytes: int = 1024 * 1024
    queue_vars: frozenset[str] = frozenset()  # env vars naming queues; their code defaults are recorded
    local_modules: frozenset[str] = frozenset()  # top-level Python modules of the tree (set by scan_tree)
    test_regexes: tuple[str, ...] = ()  # jest testRegex of the tree (set by scan_tree)
    secret_digests: tuple[tuple[str, str], ...] = ()  # (sha256 of a manifest secret's value, variable name)


@dataclass(slots=True)
class TreeScan:
    """Everything found in one source tree."""

    root: str
    service: str
    files_scanned: int = 0
    test_files: int = 0
    test_dirs: int = 0  # test folders pruned whole (their files are not counted)
    skipped_large: int = 0
    skipped_binary: int = 0
    env_files: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    env_reads: list[EnvRead] = field(default_factory=list)
    queue_refs: list[QueueRef] = field(default_factory=list)
    const_env: dict[str, str] = field(default_factory=dict)
    allowed: list[Allowed] = field(default_factory=list)
    parse_errors: list[ParseError] = field(default_factory=list)
    missing_examples: list[ParseError] = field(default_factory=list)  # dotenv-safe loaded, its example absent
    error: str | None = None  # the root is missing or unreadable

    def add(self, facts: FileFacts) -> None:
        """Merge one file's facts."""
        self.findings.extend(facts.findings)
        self.env_reads.extend(facts.env_reads)
        self.queue_refs.extend(facts.queue_refs)
        self.const_env.update(facts.const_env)
        self.allowed.extend(facts.allowed)
        if facts.parse_error is not None:
            self.parse_errors.append(facts.parse_error)
