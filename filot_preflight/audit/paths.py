"""Which files a source audit reads: test-path conventions (configurable globs), skipped folders, file kinds.

Globs are matched against the POSIX path relative to the scanned root: `**/` is any number of folders,
`*` any run of characters within one path segment, `?` one character. All globs are compiled into
one regular expression, so classifying a file costs one match whatever the number of globs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from filot_preflight.audit.model import AuditConfig

# The usual conventions of Jest/Vitest/Mocha/Cypress/Playwright/Storybook and pytest/unittest.
DEFAULT_TEST_GLOBS: tuple[str, ...] = (
    "**/__tests__/**",
    "**/test/**",
    "**/tests/**",
    "**/spec/**",
    "**/specs/**",
    "**/e2e/**",
    "**/cypress/**",
    "**/playwright/**",
    "**/__fixtures__/**",
    "**/testdata/**",
    "**/test-utils/**",
    "**/test_utils/**",
    "**/*.test.*",
    "**/*.spec.*",
    "**/*.e2e.*",
    "**/*.stories.*",
    "**/test_*.py",
    "**/*_test.py",
    "**/conftest.py",
    "**/jest.config.*",
    "**/jest.setup.*",
    "**/vitest.config.*",
    "**/vitest.setup.*",
    "**/setupTests.*",
    "**/playwright.config.*",
    "**/cypress.config.*",
    "**/*.clienttest.*",
    "**/*.integration.*",
    "**/*.bench.*",
    "**/setup-jest.*",
    "**/jest-setup.*",
    "**/setup-tests.*",
    "**/test-setup.*",
    "**/integration-tests/**",
    "**/integration_tests/**",
    "**/load_tests/**",
    "**/load-tests/**",
    "**/loadtests/**",
    "**/__snapshots__/**",
    "scripts/**",
    "src/scripts/**",
)

# Folders that never hold the service's own production source. Hidden folders (.git, .venv, .next,
# .github, ...) are skipped as well, and so is any folder holding a pyvenv.cfg (a virtualenv).
DEFAULT_SKIP_DIRS = frozenset(
    {
        "node_modules", "bower_components", "jspm_packages", "dist", "build", "out-tsc", "coverage",
        "htmlcov", "storybook-static", "venv", "virtualenv", "site-packages", "__pycache__",
        "__pypackages__", "vendor",
    }
)

JS_EXT = frozenset({".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".mts", ".cts"})
PY_EXT = frozenset({".py"})
CONFIG_EXT = frozenset({".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".properties"})

# Tokens of an env/config file name that mark it as NOT production (`.env.test`, `dev.env`, ...).
_NON_PROD = frozenset(
    {
        "test", "tests", "testing", "dev", "development", "local", "example", "examples", "sample",
        "template", "tmpl", "dist", "ci", "e2e", "staging", "stage", "qa", "sandbox", "mock", "mocks",
    }
)
_TOKENS = re.compile(r"[^a-z0-9]+")

JS, PY, ENV, CONFIG = "js", "py", "env", "config"


def compile_globs(globs: Iterable[str]) -> re.Pattern[str]:
    """One regex matching a relative POSIX path against any of `globs` (never matches when empty)."""
    parts = [_glob_to_regex(g.strip().lstrip("/")) for g in globs if g.strip()]
    return re.compile("^(?:" + "|".join(parts) + ")$" if parts else r"(?!)")


def _split_top(body: str, sep: str) -> list[str]:
    """Split `body` on `sep` outside nested (), {} and []."""
    parts, depth, cur = [], 0, ""
    for c in body:
        if c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        if c == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += c
    return [*parts, cur]


def _closing(glob: str, i: int) -> int:
    """Index of the bracket closing the one at `i` (-1 when unbalanced)."""
    depth = 0
    for j in range(i, len(glob)):
        if glob[j] in "({":
            depth += 1
        elif glob[j] in ")}":
            depth -= 1
            if depth == 0:
                return j
    return -1


def _glob_to_regex(glob: str) -> str:
    """A glob as a regex: `**`, `*`, `?`, `[...]`, `{a,b}` and the extglobs jest uses (`?(x)`, `+(a|b)`, `@(...)`)."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if c in "?*+@!" and glob.startswith("(", i + 1) and (end := _closing(glob, i + 1)) > 0:
            alts = "|".join(_glob_to_regex(a) for a in _split_top(glob[i + 2 : end], "|"))
            suffix = {"?": "?", "*": "*", "+": "+", "@": ""}.get(c)
            out.append(f"(?:{alts}){suffix}" if suffix is not None else f"(?!(?:{alts}))[^/]*")
            i = end + 1
        elif c == "{" and (end := _closing(glob, i)) > 0:
            out.append("(?:" + "|".join(_glob_to_regex(a) for a in _split_top(glob[i + 1 : end], ",")) + ")")
            i = end + 1
        elif c == "[" and (end := glob.find("]", i + 2)) > 0:
            body = glob[i + 1 : end]
            out.append("[" + ("^" + re.escape(body[1:]) if body[0] in "!^" else re.escape(body)) + "]")
            i = end + 1
        elif glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out)


def make_config(
    test_globs: Iterable[str] | None = None,
    extra_test_globs: Iterable[str] = (),
    skip_dirs: Iterable[str] = (),
    max_file_bytes: int = 1024 * 1024,
    queue_vars: Iterable[str] = (),
) -> AuditConfig:
    """An AuditConfig from the defaults plus the manifest's `checks.code` settings."""
    base = tuple(DEFAULT_TEST_GLOBS if test_globs is None else test_globs)
    return AuditConfig(
        test_globs=base + tuple(extra_test_globs),
        skip_dirs=DEFAULT_SKIP_DIRS | frozenset(skip_dirs),
        max_file_bytes=max_file_bytes,
        queue_vars=frozenset(queue_vars),
    )


def env_file_is_production(name: str) -> bool:
    """Whether a file name looks like a production env file (`.env`, `*.env`, `.env.production`, `prod.env.*`).

    Plain `.env` counts: dotenv loads it in every environment, production included.
    """
    low = name.lower()
    if not (low.endswith(".env") or low.startswith(".env") or low.startswith(("prod.env", "production.env"))):
        return False
    return not (_NON_PROD & set(_TOKENS.split(low)))


def config_is_production(name: str) -> bool:
    """Config files scanned for test keys: only those whose name says production (`production.json`)."""
    tokens = set(_TOKENS.split(name.lower()))
    return bool(tokens & {"prod", "production"}) and not (tokens & _NON_PROD)


@dataclass(frozen=True, slots=True)
class Entry:
    """A file to read: absolute path, POSIX path relative to the root, kind (js/py/env/config)."""

    path: str
    rel: str
    kind: str


@dataclass(slots=True)
class WalkStats:
    """What the walk skipped without reading."""

    test_files: int = 0
    test_dirs: int = 0
    mocks_dirs: list[tuple[str, int]] | None = None  # (rel dir, file count) of __mocks__ outside tests


def file_kind(name: str) -> str | None:
    """The kind of a file by name, or None when the audit never reads it (binary, docs, lockfiles)."""
    dot = name.rfind(".")
    ext = name[dot:].lower() if dot > 0 else ""
    if ext in JS_EXT:
        if name.endswith((".min.js", ".d.ts", ".d.mts", ".d.cts", ".bundle.js")):
            return None
        return JS
    if ext in PY_EXT:
        return PY
    if env_file_is_production(name):
        return ENV
    if ext in CONFIG_EXT and config_is_production(name):
        return CONFIG
    return None


def walk(root: str, config: AuditConfig, stats: WalkStats) -> Iterator[Entry]:
    """Files under `root` worth reading, in a stable order; test paths and skipped folders are pruned."""
    by_glob = compile_globs(config.test_globs).match
    by_regex = [re.compile(r) for r in config.test_regexes if _valid(r)]

    def is_test(rel: str) -> bool:  # jest's testRegex is searched in the file's path
        return by_glob(rel) is not None or any(rx.search("/" + rel) for rx in by_regex if not rel.endswith("\0"))

    stats.mocks_dirs = []
    stack = [("", root)]
    while stack:
        rel_dir, abs_dir = stack.pop()
        try:
            with os.scandir(abs_dir) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs: list[tuple[str, str]] = []
        for e in entries:
            rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
            if e.is_dir(follow_symlinks=False):
                if e.name.startswith(".") or e.name in config.skip_dirs:
                    continue
                # "\0" stands for any file in the folder: a folder-wide glob (**/tests/**) matches it,
                # a file glob (**/*.test.*) does not.
                if is_test(rel + "/\0"):
                    stats.test_dirs += 1
                    continue
                if e.name == "__mocks__":
                    stats.mocks_dirs.append((rel, _count_files(e.path)))
                    continue
                if os.path.exists(os.path.join(e.path, "pyvenv.cfg")):
                    continue
                subdirs.append((rel, e.path))
            elif e.is_file(follow_symlinks=False):
                kind = file_kind(e.name)
                if kind is None:
                    continue
                if is_test(rel):
                    stats.test_files += 1
                    continue
                yield Entry(e.path, rel, kind)
        stack.extend(reversed(subdirs))


def _valid(rx: str) -> bool:
    try:
        re.compile(rx)
    except re.error:
        return False
    return True


def _count_files(path: str) -> int:
    n = 0
    for _dirpath, _dirs, files in os.walk(path):
        n += len(files)
    return n
