"""One pass over a source tree: every file is read once and every extractor runs on that one text.

`scan_tree` is the entry point. Env reads come from syntax trees (jsparse: tree-sitter; pyparse: ast),
the other extractors are anchored patterns; after the walk, files the pre-filter marked go through
detect-secrets (credentials). Large trees can be split over a process pool (`workers`); the default is
single-process (bench/scan_tree.py measures a 10,000-file tree).
`scan_tree_cached` shares one scan between the checkers of a run (mock_code and env_drift read the
same trees concurrently).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import replace

from filot_preflight.audit import credentials, dotenv_safe, envreads, jsparse, mocks, project_mocks, pyparse, queues
from filot_preflight.audit.model import (
    DYNAMIC,
    MOCKS_DIR,
    Allowed,
    AuditConfig,
    EnvRead,
    FileFacts,
    Finding,
    ParseError,
    TreeScan,
)
from filot_preflight.audit.paths import CONFIG, ENV, JS, Entry, WalkStats, walk
from filot_preflight.audit.testconfig import project_test_patterns
from filot_preflight.audit.text import Lines

_SNIFF = 8192
# Files worth parsing for env reads: anything else cannot read one (a cheap pre-filter, not the decision).
_JS_HINTS = re.compile(r"process|import\s*\.\s*meta|ConfigService|configService|createEnv|\{\s*env\s*[,}]")
_PY_HINTS = re.compile(r"environ|getenv|BaseSettings|decouple|starlette|dj_database_url|django_cache_url|dj_email_url")
POOL_MIN_FILES = 4000  # below this, starting worker processes costs more than it saves

BINARY = "binary"
LARGE = "large"


def scan_text(
    text: str, rel: str, kind: str, queue_vars: frozenset[str] = frozenset(), local: frozenset[str] = frozenset(),
    digests: tuple[tuple[str, str], ...] = (),
) -> FileFacts:
    """Every fact of one file's text (no I/O; unit tests call this directly)."""
    facts = FileFacts(rel)
    lines = Lines(text)
    facts.secret_candidate = credentials.is_candidate(text)
    if digests:
        facts.findings += credentials.manifest_values(text, lines, rel, dict(digests))
    if kind == ENV:
        mocks.env_file_findings(text, lines, facts)
        return facts
    if kind == CONFIG:
        mocks.config_findings(text, lines, facts)
        return facts
    lang = "js" if kind == JS else "py"
    mocks.code_findings(text, lines, facts, lang)
    if lang == "js":
        project_mocks.js_findings(text, lines, facts)
        facts.dotenv_safe = dotenv_safe.detect(text)
    else:
        project_mocks.py_findings(text, lines, facts, local)
    facts.env_reads, facts.parse_error = _env_reads(text, lines, rel, lang)
    facts.env_reads = [r for r in facts.env_reads if r.name is not None or not _waive(facts, lines, lang, r.line)]
    mocks.default_findings(facts, lines, lang)
    refs = queues.queue_refs(text, lines, rel, lang, queue_vars)
    if lang == "py" and refs and "BaseSettings" in text:
        refs = queues.settings_defaults(refs, facts.env_reads)
    facts.queue_refs = refs
    if "env" in text:
        facts.const_env = queues.env_constants(text, lang)
    return facts


def _env_reads(text: str, lines: Lines, rel: str, lang: str) -> tuple[list[EnvRead], ParseError | None]:
    """Env reads from the file's syntax tree. A Python file that does not parse is read by the pattern
    scanner instead, and the syntax error reported either way (never silently half-read).
    """
    if lang == "js":
        if not _JS_HINTS.search(text):
            return [], None
        reads, err = jsparse.js_env_reads(text, rel)
        return envreads.resolve_constants(reads, text, "js"), err
    if not _PY_HINTS.search(text):
        return [], None
    reads, err = pyparse.py_env_reads(text, rel)
    if err is not None:
        reads = envreads.py_env_reads(text, lines, rel)
    return reads, err


def _waive(facts: FileFacts, lines: Lines, lang: str, line: int) -> bool:
    """A dynamic env read on an allow-commented line is waived (and the waiver recorded)."""
    reason = lines.allow_reason(line, lang)
    if reason is None:
        return False
    facts.allowed.append(Allowed(DYNAMIC, facts.path, line, reason))
    return True


def scan_file(entry: Entry, config: AuditConfig) -> FileFacts | str:
    """Read one file and scan it; BINARY or LARGE when it is skipped."""
    try:
        with open(entry.path, "rb") as f:
            raw = f.read(config.max_file_bytes + 1)
    except OSError:
        return BINARY
    if len(raw) > config.max_file_bytes:
        return LARGE
    if b"\0" in raw[:_SNIFF]:
        return BINARY
    text = raw.decode("utf-8", errors="replace")
    return scan_text(text, entry.rel, entry.kind, config.queue_vars, config.local_modules, config.secret_digests)


def local_modules(root: str) -> frozenset[str]:
    """Top-level Python module names of a tree: folders and .py files at its root and under src/."""
    out: set[str] = set()
    for base in (root, os.path.join(root, "src")):
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for n in names:
            stem = n[:-3] if n.endswith(".py") else n
            if stem.isidentifier() and (n.endswith(".py") or os.path.isdir(os.path.join(base, n))):
                out.add(stem)
    return frozenset(out)


def _scan_chunk(entries: Sequence[Entry], config: AuditConfig) -> list[FileFacts | str]:
    return [scan_file(e, config) for e in entries]


def scan_tree(root: str | os.PathLike[str], service: str, config: AuditConfig, workers: int = 1) -> TreeScan:
    """Scan one service's tree. A missing root is recorded in `error`, not raised."""
    start = time.perf_counter()
    root_s = os.fspath(root)
    out = TreeScan(root=root_s, service=service)
    if not os.path.isdir(root_s):
        out.error = "not a directory" if os.path.exists(root_s) else "does not exist"
        return out
    stats = WalkStats()
    globs, regexes = project_test_patterns(root_s)
    config = replace(config, local_modules=local_modules(root_s), test_globs=config.test_globs + globs,
                     test_regexes=config.test_regexes + regexes)
    entries = list(walk(root_s, config, stats))
    if workers > 1 and len(entries) >= POOL_MIN_FILES:
        from concurrent.futures import ProcessPoolExecutor  # lazily: a pool is the exception, not the rule
        from multiprocessing import get_context

        size = -(-len(entries) // (workers * 4))
        chunks = [entries[i : i + size] for i in range(0, len(entries), size)]
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            results = [r for part in pool.map(_scan_chunk, chunks, [config] * len(chunks)) for r in part]
    else:
        results = _scan_chunk(entries, config)
    for entry, res in zip(entries, results, strict=True):
        if res == LARGE:
            out.skipped_large += 1
        elif res == BINARY:
            out.skipped_binary += 1
        elif isinstance(res, FileFacts):
            out.files_scanned += 1
            out.env_files += entry.kind == ENV
            out.add(res)
    users: dict[str, tuple[str, int]] = {}  # example file -> the first file loading dotenv-safe with it
    for r in results:
        if isinstance(r, FileFacts) and r.dotenv_safe is not None:
            users.setdefault(r.dotenv_safe[0], (r.path, r.dotenv_safe[1]))
    for example, (user, line) in users.items():
        reads, err = dotenv_safe.example_reads(root_s, example, user, line)
        out.env_reads += reads
        if err is not None:
            (out.missing_examples if err.message.startswith(dotenv_safe.MISSING) else out.parse_errors).append(err)
    candidates = [(e.path, e.rel) for e, r in zip(entries, results, strict=True)
                  if isinstance(r, FileFacts) and r.secret_candidate]
    found, waived = credentials.findings(candidates, out.findings)
    out.findings += found
    out.allowed += waived
    out.test_files = stats.test_files
    out.test_dirs = stats.test_dirs
    out.findings.extend(Finding(MOCKS_DIR, rel, 0, f"{n} file(s)") for rel, n in stats.mocks_dirs or [])
    out.seconds = time.perf_counter() - start
    return out


_cache: dict[tuple[str, str, AuditConfig], TreeScan] = {}
_locks: dict[tuple[str, str, AuditConfig], threading.Lock] = {}
_guard = threading.Lock()


def scan_tree_cached(root: str | os.PathLike[str], service: str, config: AuditConfig) -> TreeScan:
    """`scan_tree`, computed once per (root, service, config) in this process, even when asked concurrently."""
    key = (os.path.realpath(os.fspath(root)), service, config)
    with _guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        if key not in _cache:
            _cache[key] = scan_tree(root, service, config)
        return _cache[key]


def clear_cache() -> None:
    """Forget cached scans (tests that rewrite a tree; long-lived processes)."""
    with _guard:
        _cache.clear()
        _locks.clear()
