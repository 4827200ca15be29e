"""Source audits: scan the backend's and the worker's trees for mock code, env-var reads and queue names.

Pure scanning, no network: `scan_tree(root, service, config)` walks one tree (test paths and
vendored folders pruned), reads each file once and returns a `TreeScan` of facts that the
`mock_code` and `env_drift` checkers judge.
"""

from typing import Any

from filot_preflight.audit.model import AuditConfig, EnvRead, Finding, QueueRef, TreeScan
from filot_preflight.audit.paths import DEFAULT_SKIP_DIRS, DEFAULT_TEST_GLOBS, make_config

_SCAN = ("clear_cache", "scan_text", "scan_tree", "scan_tree_cached")


def __getattr__(name: str) -> Any:
    # The scanner (parsers, tree-sitter, detect-secrets) loads on first use: a check without --source-dir
    # imports only the models the checkers are typed with.
    if name in _SCAN:
        from filot_preflight.audit import scan

        return getattr(scan, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_SKIP_DIRS",
    "DEFAULT_TEST_GLOBS",
    "AuditConfig",
    "EnvRead",
    "Finding",
    "QueueRef",
    "TreeScan",
    "clear_cache",
    "make_config",
    "scan_text",
    "scan_tree",
    "scan_tree_cached",
]
