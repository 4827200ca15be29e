"""Value rules: pure judgements of one manifest variable's value. No I/O, and the value is never printed.

`evaluate(variable, value, ...)` returns `Finding`s: missing, malformed, tls, weak, placeholder,
loopback, test_key, reused, needs_verification, or a single ok. Messages and evidence describe a
value only by its length, an entropy class and (added by the caller) where it came from.
The helpers (`classify_host`, `key_material`, `entropy_class`, `placeholder_kind`, `find_reuse`) are
public so live checkers judge hosts and secrets the same way.

The package is split by concern; this module re-exports the public names, so callers keep importing
from `filot_preflight.rules`:

- `findings`: `Rule`, `Finding`, `Issue`
- `hosts`: `classify_host`, `HOST_CLASSES`
- `entropy`: `key_material`, `estimate_bits`, `entropy_class`
- `placeholders`: `placeholder_kind`
- `formats`: `check_url`, `check_hostport`, `check_secret`, `format_hint`
- `remediation`: `where_stored`, `how_to_set`
- `evaluation`: `evaluate`, `find_reuse`, `DEFAULT_TEST_PREFIXES`
"""

from __future__ import annotations

from filot_preflight.rules.entropy import RANDOM_DISTINCT_RATIO, entropy_class, estimate_bits, key_material
from filot_preflight.rules.evaluation import DEFAULT_TEST_PREFIXES, evaluate, find_reuse
from filot_preflight.rules.findings import Finding, Issue, Rule
from filot_preflight.rules.formats import check_hostport, check_secret, check_url, format_hint
from filot_preflight.rules.hosts import HOST_CLASSES, classify_host
from filot_preflight.rules.placeholders import placeholder_kind
from filot_preflight.rules.remediation import how_to_set, where_stored

__all__ = [
    "DEFAULT_TEST_PREFIXES",
    "HOST_CLASSES",
    "RANDOM_DISTINCT_RATIO",
    "Finding",
    "Issue",
    "Rule",
    "check_hostport",
    "check_secret",
    "check_url",
    "classify_host",
    "entropy_class",
    "estimate_bits",
    "evaluate",
    "find_reuse",
    "format_hint",
    "how_to_set",
    "key_material",
    "placeholder_kind",
    "where_stored",
]
