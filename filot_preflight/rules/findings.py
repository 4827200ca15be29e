"""The vocabulary of the value rules: `Rule` (the result id is `secrets.<rule>`), `Finding`, `Issue`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from filot_preflight.models import EvidenceValue, Status


class Rule(StrEnum):
    """The rule behind a finding; the result id is `secrets.<rule>`."""

    MISSING = "missing"
    OPTIONAL = "optional"
    MALFORMED = "malformed"
    TLS = "tls"
    WEAK = "weak"
    PLACEHOLDER = "placeholder"
    LOOPBACK = "loopback"
    TEST_KEY = "test_key"
    REUSED = "reused"
    NEEDS_VERIFICATION = "needs_verification"
    OK = "ok"


@dataclass(frozen=True)
class Finding:
    """One judgement about one variable: the rule, its status, and the concrete fix."""

    variable: str
    rule: Rule
    status: Status
    summary: str
    remediation: str = ""
    detail: str = ""
    evidence: dict[str, EvidenceValue] = field(default_factory=dict)


Issue = tuple[Rule, str]
