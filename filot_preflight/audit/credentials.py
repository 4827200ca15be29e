"""Committed credentials on production paths, found by detect-secrets (Yelp's engine, used as a library).

The scanner marks files worth a look while it reads them (`candidate`: a long quoted token mixing upper
and lower case and digits, a key prefix such as AKIA / xoxb- / sk_live_ / eyJ / ghp_, a PEM header,
`scheme://user:pass@`, or a secret-ish name assigned a literal); only those go through detect-secrets'
plugins and filters, which decide. A finding carries the file, the line and the secret's type, never
the value. The manifest's own secret values are matched in code by SHA-256 digest of each quoted string
(`value_digests`), so no value travels into the scan.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable, Iterator

from filot_preflight.audit.model import COMMITTED_SECRET, TEST_KEY, Allowed, Finding
from filot_preflight.audit.text import Lines

# Entropy of hex strings flags digests and ids, public IPs are not credentials: both left out.
_OFF = frozenset({"HexHighEntropyString", "IPPublicDetector"})
_MIN_SECRET = 8  # shorter manifest values are not searched for (too many accidental matches)

# The pre-filter, in parts that are each cheap to search for (one combined pattern cost ~1.5 ms a file).
# Key prefixes are looked for in the long tokens only: a committed key is a literal (or an env-file value).
_PREFIXES = ("AKIA", "ASIA", "eyJ", "xox", "sk_live", "rk_live", "pk_live", "ghp_", "gho_", "ghs_",
             "github_pat", "glpat", "npm_", "pypi-", "SG.", "sk-")
_TOKEN = re.compile(r"""['"`=]([\w+/=\-.~]{20,})""")
_USERINFO = re.compile(r"""://[^/\s:@'"`]+:[^@\s/'"`]+@""")
# a secret-named key assigned a literal: anchored on the assignment, the name is then checked behind it
_ASSIGN_LITERAL = re.compile(r"""[:=][ \t]*['"`][^'"`\s]{6,}""")
_KEY_BEHIND = re.compile(r"""(?:secret|passw(?:or)?d|pwd|token|api_?key|private_?key|credential)\w*['"]?[ \t]*$""")
_DIGIT = re.compile(r"\d")
_QUOTED = re.compile(r"""(['"`])([^'"`\n]{8,400})\1""")
_lock = threading.Lock()


def is_candidate(text: str) -> bool:
    """Whether a file is worth detect-secrets' time (a cheap pre-filter; detect-secrets decides)."""
    if "-----BEGIN" in text or "AccountKey=" in text:
        return True
    for m in _TOKEN.finditer(text):
        tok = m.group(1)
        if (not tok.isupper() and not tok.islower() and _DIGIT.search(tok)) or tok.startswith(_PREFIXES):
            return True
    if "://" in text and "@" in text and _USERINFO.search(text):
        return True
    for m in _ASSIGN_LITERAL.finditer(text):
        if _KEY_BEHIND.search(text[max(0, m.start() - 48) : m.start()].lower()):
            return True
    return False


def digest(value: str) -> str:
    """SHA-256 hex of a value (what the scan compares, so that no value is handed to it)."""
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


def value_digests(secrets: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """(digest, variable name) for each manifest secret value long enough to search for."""
    return tuple(sorted({(digest(v), name) for name, v in secrets if len(v) >= _MIN_SECRET}))


def manifest_values(text: str, lines: Lines, path: str, digests: dict[str, str]) -> list[Finding]:
    """Quoted strings of `text` equal to a manifest secret's value (compared by digest)."""
    out: list[Finding] = []
    for m in _QUOTED.finditer(text):
        name = digests.get(digest(m.group(2)))
        if name is not None:
            out.append(Finding(COMMITTED_SECRET, path, lines.line_of(m.start()), f"the value of {name} (a manifest "
                                                                                  "secret)"))
    return out


def _settings() -> dict[str, object]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    classes: Iterable[type] = get_mapping_from_secret_type_to_class().values()
    plugins = sorted(cls.__name__ for cls in classes)
    used: list[dict[str, object]] = [{"name": n} for n in plugins if n not in _OFF]
    for p in used:
        if p["name"] == "Base64HighEntropyString":
            p["limit"] = 4.5
    return {"plugins_used": used}


def detect(files: Iterable[tuple[str, str]]) -> Iterator[tuple[str, int, str]]:
    """(rel path, line, secret type) for each secret detect-secrets finds in `files` ((abs path, rel path))."""
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import transient_settings

    with _lock, transient_settings(_settings()):  # detect-secrets' settings are process-global
        for abs_path, rel in files:
            for secret in scan_file(abs_path):
                yield rel, secret.line_number, secret.type


def findings(
    files: list[tuple[str, str]], existing: Iterable[Finding]
) -> tuple[list[Finding], list[Allowed]]:
    """One finding per (file, line) with the types found there; lines already reported as a test key (or
    as a manifest value) are not reported twice; `preflight: allow <reason>` waives a line.
    """
    taken = {(f.path, f.line) for f in existing if f.rule in (TEST_KEY, COMMITTED_SECRET)}
    by_line: dict[tuple[str, int], list[str]] = {}
    for rel, line, kind in detect(files):
        if (rel, line) not in taken:
            by_line.setdefault((rel, line), [])
            if kind not in by_line[(rel, line)]:
                by_line[(rel, line)].append(kind)
    out: list[Finding] = []
    allowed: list[Allowed] = []
    texts: dict[str, Lines] = {}
    abs_of = dict((rel, a) for a, rel in files)
    for (rel, line), kinds in sorted(by_line.items()):
        if rel not in texts:
            with open(abs_of[rel], encoding="utf-8", errors="replace") as f:
                texts[rel] = Lines(f.read())
        lang = "py" if rel.endswith(".py") else "env" if "env" in rel.rsplit("/", 1)[-1] else "js"
        reason = texts[rel].allow_reason(line, lang)
        if reason is not None:
            allowed.append(Allowed(COMMITTED_SECRET, rel, line, reason))
        else:
            out.append(Finding(COMMITTED_SECRET, rel, line, ", ".join(kinds)))
    return out, allowed
