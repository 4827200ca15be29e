"""Each manifest variable with its status in this run: existing / missing / invalid / needs verification (pure).

The status comes from the results about the variable: the secrets checker's per-variable results
(target `NAME`, or `service:NAME` for a service's own view), and any other result whose target is
the variable or its Secrets Manager path (e.g. Secrets Manager says the secret does not exist, or a
live probe rejected the value). A value that only a live probe can confirm stays "needs
verification" until that probe ran without a failure. Values themselves never reach this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from filot_preflight.documents.catalog import SECRET_ICONS
from filot_preflight.documents.results import ResultView, sort_key, view_result
from filot_preflight.manifest import Manifest, Variable
from filot_preflight.models import CheckResult, Report, Status

_MISSING_WORDS = ("missing", "not_found", "absent")
# Rules that report absence: secrets.optional (not set, optional), aws_secrets.exists / json_key /
# current_version (nothing stored at the Secrets Manager path).
_ABSENCE_RULES = {"optional", "exists", "json_key", "current_version"}
_BAD = {Status.FAIL, Status.ERROR}
_OK = (Status.PASS, Status.WAIVED)  # a waived result counts as passed


@dataclass(frozen=True)
class VariableView:
    """A variable as the documents show it: names, paths, rules, status and findings — never its value."""

    name: str
    section: str
    section_title: str
    description: str
    secret: bool
    required: bool
    requirement: str
    consumers: tuple[str, ...]
    aws_id: str | None
    aws_key: str | None
    aws_path: str | None
    obtain: str
    generate: str | None
    format: str
    example: str | None
    default: str | None
    verified_by: str | None
    status: str
    icon: str
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]
    fixes: tuple[str, ...]
    checks: tuple[ResultView, ...]

    @property
    def how_to_get(self) -> str:
        """The recipe, plus the command that runs it when the manifest has a generation recipe."""
        cmd = f"preflight secrets generate {self.name} --put" if self.generate else ""
        parts = [p for p in (self.obtain, f"or run: {cmd}" if cmd and self.obtain else cmd) if p]
        return "; ".join(parts) or "(the manifest does not say how to obtain it)"


def describe_format(v: Variable) -> str:
    """The variable's format rule in words (for comments and tables)."""
    f = v.format
    if f is None:
        return "free text"
    if f.kind == "url":
        s = f"URL ({'/'.join(f.schemes)}://)"
        if f.tls_param:
            s += f", {f.tls_param} must require TLS"
        return s + (", public host" if f.public else "")
    if f.kind == "int":
        lo = "" if f.min is None else str(f.min)
        hi = "" if f.max is None else str(f.max)
        return f"integer {lo}..{hi}" if lo or hi else "integer"
    if f.kind == "enum":
        return "one of: " + ", ".join(f.values)
    if f.kind == "regex":
        return f.hint or f"matches {f.pattern}"
    if f.kind == "secret":
        enc = "" if f.encoding == "any" else f", {f.encoding}"
        return f"random secret, at least {f.min_bytes} bytes{enc}"
    return "host:port" + (", public host" if f.public else "")


def describe_generate(v: Variable) -> str | None:
    """The CSPRNG recipe in words, e.g. '48 random bytes, base64'."""
    g = v.generate
    return None if g is None else f"{g.bytes} random bytes, {g.encoding}"


def requirement(v: Variable) -> str:
    """'required', 'optional' or 'required if X is set'."""
    if v.required_if:
        return f"required if {v.required_if} is set"
    return "required" if v.required else "optional"


# Subsystems whose results judge a variable's value or its presence in Secrets Manager. A live
# checker's results about the same variable (e.g. Redis eviction policy, target REDIS_URL) are
# about the service, not the value; they only settle "needs verification" (see `_verify`).
_JUDGES = {"secrets", "aws"}


def _about(v: Variable, r: CheckResult) -> bool:
    names = {v.name} | {f"{svc}:{v.name}" for svc in v.consumers}
    if v.aws_secret is not None:
        names |= {v.aws_secret.id}
        if v.aws_secret.key:
            names.add(f"{v.aws_secret.id}#{v.aws_secret.key}")
    # `secrets.reused` may name several variables in one target ("A,B"): split on commas.
    targets = {t.strip() for t in r.target.split(",")} if "," in r.target else {r.target}
    return bool(targets & names)


def _rule(r: CheckResult) -> str:
    return r.id.partition(".")[2]


def _absence(r: CheckResult) -> bool:
    """A result saying the variable (or its Secrets Manager entry) is not there (a PASS of `exists` is not)."""
    rule = _rule(r)
    hit = rule in _ABSENCE_RULES or any(w in rule for w in _MISSING_WORDS)
    return hit and (r.status not in _OK or r.waiver is not None)


def _status(v: Variable, mine: list[CheckResult], report: Report) -> tuple[str, list[str]]:
    """The status and the reasons behind it."""
    if not mine:
        return "not checked", ["no result about this variable in this run"]
    bad = [r for r in mine if r.status in _BAD]
    if bad:
        missing = [r for r in bad if _absence(r)]
        return ("missing" if missing else "invalid"), [r.summary for r in (missing or bad)]
    waived = [f"waived: {r.waiver}" for r in mine if r.waiver]
    absent = [r for r in mine if _absence(r)]
    present = [r for r in mine if not _absence(r) and r.status in (*_OK, Status.WARN)]
    if absent and not present:  # absent without a failure: optional and not set (or a waived requirement)
        return "not set", [r.summary for r in absent] + waived
    if v.verified_by or any(_rule(r) == "needs_verification" for r in mine):
        return _verify(v, report, waived)
    return "existing", waived


def _verify(v: Variable, report: Report, reasons: list[str]) -> tuple[str, list[str]]:
    """'needs verification' until the live checker named by `verified_by` confirmed the value.

    Confirmed: that checker ran in this report, at least one of its results passed and none failed
    or errored. Its failures count even when their target is a host rather than the variable: a
    document must never call a value confirmed when the probe that confirms it did not succeed.
    """
    checker = v.verified_by
    if not checker:
        return "needs verification", reasons or ["only a live probe can confirm this value"]
    live = [r for r in report.results if r.id.partition(".")[0] == checker and r.status is not Status.SKIP]
    if not live:
        return "needs verification", [*reasons, f"the live `{checker}` check did not run in this run"]
    failing = [r for r in live if r.status in _BAD]
    if failing:
        ids = ", ".join(dict.fromkeys(f"`{r.id}`" for r in failing))
        return "needs verification", [*reasons, f"the live `{checker}` check failed ({ids})"]
    if not any(r.status in _OK for r in live):
        return "needs verification", [*reasons, f"the live `{checker}` check passed nothing"]
    return "existing", [*reasons, f"confirmed by the live `{checker}` check"]


def variable_views(manifest: Manifest, report: Report | None) -> list[VariableView]:
    """Every manifest variable in manifest order, with its status (or 'not checked' without a report)."""
    titles = {s.id: s.title for s in manifest.sections}
    out = []
    for v in manifest.variables:
        mine = sorted((r for r in report.results if r.subsystem in _JUDGES and _about(v, r)),
                      key=sort_key) if report else []
        status, reasons = _status(v, mine, report) if report else ("not checked", ["no run"])
        fixes = tuple(dict.fromkeys(r.remediation for r in mine if r.remediation and r.status not in _OK))
        warnings = tuple(r.summary for r in mine if r.status is Status.WARN and "needs_verification" not in _rule(r))
        ref = v.aws_secret
        out.append(VariableView(
            name=v.name, section=v.section, section_title=titles.get(v.section, v.section),
            description=v.description, secret=v.secret, required=v.required and not v.required_if,
            requirement=requirement(v), consumers=tuple(v.consumers),
            aws_id=ref.id if ref else None, aws_key=ref.key if ref else None,
            aws_path=(f"{ref.id}#{ref.key}" if ref.key else ref.id) if ref else None,
            obtain=v.obtain, generate=describe_generate(v), format=describe_format(v),
            example=v.example, default=v.default, verified_by=v.verified_by,
            status=status, icon=SECRET_ICONS[status], reasons=tuple(dict.fromkeys(reasons)),
            warnings=warnings, fixes=fixes, checks=tuple(view_result(r) for r in mine),
        ))
    return out


def counts(views: Sequence[VariableView]) -> dict[str, int]:
    """How many variables are in each status (every status present, zero included)."""
    from filot_preflight.documents.catalog import SECRET_STATES

    return {s: sum(1 for v in views if v.status == s) for s in SECRET_STATES}
