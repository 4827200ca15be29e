"""Key material and entropy: how many bytes a secret decodes to, and how random it looks.

Nothing here sees a variable or prints a value; the estimates are shared by the placeholder rules.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter

_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+={0,2}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


def _b64_bytes(v: str) -> int | None:
    if not _B64.fullmatch(v) or ("=" in v and len(v) % 4):
        return None
    body = v.rstrip("=")
    if len(body) % 4 == 1:
        return None
    alt = b"-_" if ("-" in body or "_" in body) else None
    try:
        return len(base64.b64decode(body + "=" * (-len(body) % 4), altchars=alt, validate=True))
    except (binascii.Error, ValueError):
        return None


def key_material(value: str, encoding: str = "any") -> tuple[str, int] | None:
    """(encoding, bytes of key material) of a secret; None when a declared encoding does not decode.

    With `any`, hex is tried first (a hex string is also valid base64 and would overstate its
    bytes), then base64, and anything else counts its UTF-8 bytes as text.
    """
    if encoding in ("hex", "any") and _HEX.fullmatch(value):
        return "hex", len(value) // 2
    if encoding == "hex":
        return None
    n = _b64_bytes(value)
    if n is not None:
        return "base64", n
    if encoding == "base64":
        return None
    return "text", len(value.encode("utf-8"))


def _pool(value: str) -> int:
    if re.fullmatch(r"[0-9a-fA-F]+", value):
        return 16
    classes = sum(bool(re.search(c, value)) for c in ("[a-z]", "[A-Z]", "[0-9]"))
    if classes >= 2 and _B64.fullmatch(value):
        return 64  # base64 output: a short key need not show every character class to be random
    pool = 0
    for pattern, size in ((r"[a-z]", 26), (r"[A-Z]", 26), (r"[0-9]", 10), (r"[+/_-]", 2), (r"[^A-Za-z0-9+/_-]", 32)):
        if re.search(pattern, value):
            pool += size
    if any(ord(c) > 127 for c in value):
        pool += 64  # some non-ASCII: a rough allowance, never decisive on its own
    return max(pool, 1)


# Random draws give about `expected_distinct` different characters; a value well below that is not
# random. 0.6 keeps false "medium" verdicts on real 128-bit keys below 1 in 100,000 (measured).
RANDOM_DISTINCT_RATIO = 0.6


def estimate_bits(value: str) -> float:
    """A conservative estimate of the random bits in `value`.

    When the number of distinct characters is what random draws from the character pool would
    give, the value is treated as random (length x log2(pool)); otherwise the Shannon entropy of its
    character distribution is used, and a repeating pattern only counts one period.
    """
    value = value.rstrip("=")  # base64 padding carries no randomness
    n = len(value)
    if n == 0:
        return 0.0
    pool = _pool(value)
    counts = Counter(value)
    expected_distinct = pool * (1 - math.exp(-n / pool))
    period = _period(value)
    if len(counts) >= RANDOM_DISTINCT_RATIO * expected_distinct and period is None:
        return n * math.log2(pool)
    shannon = -sum(c / n * math.log2(c / n) for c in counts.values())
    return min(n * shannon, (period or n) * math.log2(pool))


def entropy_class(value: str) -> str:
    """'low' (< 64 bits), 'medium' (< 128 bits) or 'high'."""
    bits = estimate_bits(value)
    return "low" if bits < 64 else "medium" if bits < 128 else "high"


def _period(v: str, max_period: int = 16) -> int | None:
    """Smallest p <= max_period with v made of one p-character unit repeated (at least twice)."""
    for p in range(1, min(max_period, len(v) // 2) + 1):
        if v[p:] == v[:-p]:
            return p
    return None


def _is_sequence(v: str) -> bool:
    """'abcdef', '123456789012', '987654': each character one step from the last (digits wrap)."""
    if not 5 <= len(v) <= 64:
        return False
    for step in (1, -1):
        if all(
            ord(b) - ord(a) == step or (a, b) == (("9", "0") if step == 1 else ("0", "9"))
            for a, b in zip(v, v[1:], strict=False)
        ):
            return True
    return False
