"""The per-variable evaluation: every finding for one value, and reuse of a value across secrets."""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Sequence

from filot_preflight.manifest import HostPortFormat, SecretFormat, UrlFormat, Variable
from filot_preflight.models import EvidenceValue, Status
from filot_preflight.redact import MIN_SECRET_LEN, plausible_secret
from filot_preflight.rules.entropy import entropy_class
from filot_preflight.rules.findings import Finding, Issue, Rule
from filot_preflight.rules.formats import _check_format
from filot_preflight.rules.hosts import HOST_CLASSES
from filot_preflight.rules.placeholders import placeholder_kind
from filot_preflight.rules.remediation import _remediation, how_to_set

DEFAULT_TEST_PREFIXES = ("sk_test_", "pk_test_", "rk_test_", "whsec_test_")

_SUMMARY_STATUS = {
    Rule.MALFORMED: Status.FAIL, Rule.TLS: Status.FAIL, Rule.LOOPBACK: Status.FAIL,
    Rule.TEST_KEY: Status.FAIL, Rule.REUSED: Status.FAIL,
}


def evaluate(
    var: Variable,
    value: str | None,
    *,
    present: Collection[str] = (),
    allow_loopback: bool = False,
    offline: bool = False,
    reused_with: Sequence[str] = (),
    checkers: Collection[str] | None = None,
) -> list[Finding]:
    """Every finding for one variable's value (None = not set).

    `present` names the variables that are set (for required_if); `reused_with` names other secrets
    holding the same value (see `find_reuse`); `checkers` names the installed checkers (None: unknown),
    so a value whose `verified_by` checker is missing is still flagged as unverified.
    Returns exactly one finding when the value is absent, a placeholder, or passes everything
    (ok / needs_verification); otherwise one finding per failed rule.
    """
    if value is None or not value.strip():
        return [_absent(var, value is not None, present)]
    v = value.strip()
    ev: dict[str, EvidenceValue] = {"length": len(value)}
    if var.secret and not isinstance(var.format, UrlFormat | HostPortFormat):
        ev["entropy"] = entropy_class(v)
    kind = placeholder_kind(var, v)
    if kind is not None:
        return [Finding(var.name, Rule.PLACEHOLDER, Status.FAIL, f"{var.name} holds a placeholder: {kind}",
                        f"Replace the placeholder with the real value. {how_to_set(var)}", var.description, ev)]
    issues, host_class, extra = _check_format(var, v)
    ev.update(extra)
    if v != value:
        issues.insert(0, (Rule.MALFORMED, "has leading or trailing whitespace"))
    if host_class is not None:
        ev["host_class"] = host_class
        if allow_loopback and host_class != "metadata":  # a metadata address is never a sandbox's
            ev["loopback_allowed"] = True
        else:
            issues.append((Rule.LOOPBACK, f"points to {HOST_CLASSES[host_class]}, not a production endpoint"))
    if var.secret and not isinstance(var.format, UrlFormat | HostPortFormat) and not plausible_secret(v) \
            and not any(rule is Rule.WEAK for rule, _ in issues):
        # too short or a plain word: besides being guessable, it cannot be masked in output without masking prose
        issues.append((Rule.WEAK, f"is too short or an ordinary word ({len(v)} characters; at least "
                                  f"{MIN_SECRET_LEN} non-word characters are needed to mask it in output)"))
    if var.secret:
        prefixes = [*DEFAULT_TEST_PREFIXES, *(var.format.test_prefixes if isinstance(var.format, SecretFormat) else [])]
        hit = next((p for p in prefixes if v.startswith(p)), None)
        if hit is not None:
            issues.append((Rule.TEST_KEY, f"is a test-mode key (prefix {hit})"))
    if reused_with:
        ev["reused_with"] = list(reused_with)
        issues.append((Rule.REUSED, f"has the same value as {', '.join(reused_with)}"))
    if issues:
        return _merge(var, issues, ev, reused_with)
    if var.verified_by:
        ev["verified_by"] = var.verified_by
        finding = _needs_verification(var, ev, offline, checkers)
        if finding is not None:
            return [finding]
    allowed = " (loopback host allowed)" if ev.get("loopback_allowed") else ""
    return [Finding(var.name, Rule.OK, Status.PASS, f"{var.name} is set and valid{allowed}", "", var.description, ev)]


def _needs_verification(
    var: Variable, ev: dict[str, EvidenceValue], offline: bool, checkers: Collection[str] | None
) -> Finding | None:
    checker = var.verified_by or ""
    installed = checkers is None or checker in checkers
    if installed and not offline:
        return None  # the live checker runs in this very report
    if installed:
        why = f"the {checker} checker confirms it live but was not run (--offline)"
        fix = f"Run `preflight check --only {checker}` with network access to verify it."
    else:
        why = f"no installed checker is named {checker} (its verified_by), so nothing confirms it live"
        source = f" against its source ({var.obtain.rstrip('. ')})" if var.obtain else ""
        fix = (f"Confirm {var.name} by hand{source}, or set its verified_by in the manifest to an installed "
               "checker (`preflight checkers` lists them).")
    return Finding(var.name, Rule.NEEDS_VERIFICATION, Status.WARN, f"{var.name} passes the offline rules; {why}",
                   fix, var.description, ev)


def _absent(var: Variable, blank: bool, present: Collection[str]) -> Finding:
    how = "set but empty" if blank else "not set"
    ev: dict[str, EvidenceValue] = {"length": 0} if blank else {}
    if var.required_if:
        ev["required_if"] = var.required_if
    if var.is_required(set(present)):
        why = f" (required because {var.required_if} is set)" if var.required_if else ""
        return Finding(var.name, Rule.MISSING, Status.FAIL, f"{var.name} is {how}{why}", how_to_set(var),
                       var.description, ev)
    detail = f"Required only when {var.required_if} is set." if var.required_if else "Optional."
    if var.default is not None:
        detail += f" The default {var.default} applies."
    return Finding(var.name, Rule.OPTIONAL, Status.SKIP, f"{var.name}: optional, not set", "",
                   f"{detail} {var.description}", ev)


def _merge(
    var: Variable, issues: list[Issue], ev: dict[str, EvidenceValue], reused_with: Sequence[str]
) -> list[Finding]:
    """One finding per rule, its reasons joined; a weak-but-medium secret is a WARN, the rest FAIL."""
    by_rule: dict[Rule, list[str]] = {}
    for rule, reason in issues:
        by_rule.setdefault(rule, []).append(reason)
    out = []
    for rule, reasons in by_rule.items():
        status = _SUMMARY_STATUS.get(rule, Status.FAIL)
        if rule is Rule.WEAK and all("estimate: medium" in r for r in reasons):
            status = Status.WARN
        out.append(Finding(var.name, rule, status, f"{var.name} " + "; ".join(reasons),
                           _remediation(var, rule, reasons, reused_with), var.description, dict(ev)))
    return out


def find_reuse(items: Iterable[tuple[Hashable, str, str]]) -> dict[Hashable, list[str]]:
    """For (key, variable name, value) triples: key -> the other variable names sharing its value.

    The same name seen twice (one secret read by two services) is not reuse; blank values are ignored.
    """
    names_by_value: dict[str, set[str]] = {}
    entries = [(k, n, v.strip()) for k, n, v in items if v.strip()]
    for _, name, v in entries:
        names_by_value.setdefault(v, set()).add(name)
    return {
        k: sorted(names_by_value[v] - {name}) for k, name, v in entries if len(names_by_value[v]) > 1
    }
