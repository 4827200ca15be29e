"""The secrets checker: every manifest variable judged offline, per service, by the pure rules in the rules package.

Probe: resolve what each service sees, as its manifest `reader` reads and ranks the sources (see
sources.py). Judge: `rules.evaluate` per variable plus reuse across secrets, turned into
`secrets.<rule>` results, and the findings about the reading itself (`_reading_judge`: cut values,
divergent readers, duplicates, near misses, skipped lines). No network: this is the offline core that
answers "what is missing, malformed or weak, and how to fix it".
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points

from filot_preflight.checkers.base import CheckContext, Checker, result
from filot_preflight.checkers.secrets import reading as _reading
from filot_preflight.manifest import Manifest, Variable
from filot_preflight.models import CheckResult, EvidenceValue
from filot_preflight.registry import GROUP
from filot_preflight.rules import Finding, Rule, evaluate, find_reuse
from filot_preflight.sources import Value, ValueStore

SUBSYSTEM = "secrets"
MAIN_SERVICE = "backend"

# Every id this checker can emit (one per Rule); documented in docs/checks/secrets.md.
RESULT_IDS = (
    "secrets.missing",
    "secrets.optional",
    "secrets.malformed",
    "secrets.tls",
    "secrets.weak",
    "secrets.placeholder",
    "secrets.loopback",
    "secrets.test_key",
    "secrets.reused",
    "secrets.needs_verification",
    "secrets.ok",
)


@dataclass(frozen=True)
class Observed:
    """One variable as one service sees it. `value` keeps its SecretStr; the judge alone unwraps it."""

    target: str
    service: str
    variable: Variable
    value: Value | None


@dataclass(frozen=True)
class SecretsFacts:
    """What the probe found: each (service, variable) to judge, and which names each service has set."""

    observed: tuple[Observed, ...]
    present: Mapping[str, frozenset[str]]


def main_service(manifest: Manifest) -> str:
    """The service whose targets carry no prefix: backend, or the first one the manifest lists."""
    names = [s.name for s in manifest.services]
    return MAIN_SERVICE if MAIN_SERVICE in names or not names else names[0]


def probe(manifest: Manifest, store: ValueStore) -> SecretsFacts:
    """Resolve every consumed variable for every service; no I/O beyond what the store already read.

    The main service judges its own variables. Another service is judged on the variables only it
    reads, and on shared ones where it sees a different value (its own labelled env file, or its
    reader reads the shared line differently), so a value both services read alike is reported once,
    under the main service's plain target.
    """
    main = main_service(manifest)
    order = [main] + [s.name for s in manifest.services if s.name != main]
    observed: list[Observed] = []
    present: dict[str, frozenset[str]] = {}
    for service in order:
        view = store.view(service)
        present[service] = frozenset(n for n, v in view.items() if v.value.get_secret_value().strip())
        for var in manifest.consumed_by(service):
            value = view.get(var.name)
            if service != main and main in var.consumers and _same(value, store.get(var.name, main)):
                continue
            target = var.name if service == main else f"{service}:{var.name}"
            observed.append(Observed(target, service, var, value))
    return SecretsFacts(tuple(observed), present)


def _same(a: Value | None, b: Value | None) -> bool:
    """The same line read the same way (two readers of one shared file), or the very same value."""
    if a is None or b is None:
        return a is b
    return a.origin == b.origin and a.value.get_secret_value() == b.value.get_secret_value()


def judge(
    facts: SecretsFacts,
    *,
    allow_loopback: bool = False,
    offline: bool = False,
    checkers: Collection[str] | None = None,
) -> list[CheckResult]:
    """Pure: the findings of every observed variable as results, ids `secrets.<rule>`, target = variable.

    `checkers` names the installed checkers, so `needs_verification` never points at one that does not exist.
    """
    reuse = find_reuse(
        (o.target, o.variable.name, o.value.value.get_secret_value())
        for o in facts.observed
        if o.variable.secret and o.value is not None
    )
    out: list[CheckResult] = []
    for o in facts.observed:
        findings = evaluate(
            o.variable,
            o.value.value.get_secret_value() if o.value is not None else None,
            present=facts.present.get(o.service, frozenset()),
            allow_loopback=allow_loopback,
            offline=offline,
            reused_with=reuse.get(o.target, ()),
            checkers=checkers,
        )
        out.extend(_to_result(o, f) for f in findings)
    return out


def _to_result(o: Observed, f: Finding) -> CheckResult:
    evidence: dict[str, EvidenceValue] = dict(f.evidence)
    if o.value is not None:
        evidence["origin"] = o.value.origin
        evidence["source"] = o.value.source
    prefix = "" if o.target == o.variable.name else f"{o.service}: "
    return result(
        f"{SUBSYSTEM}.{f.rule.value}",
        SUBSYSTEM,
        f.status,
        prefix + f.summary,
        target=o.target,
        detail=f.detail,
        remediation=f.remediation,
        evidence=evidence,
    ).with_updates(not_applicable=f.rule is Rule.OPTIONAL)  # an optional variable left unset is no gap


class SecretsChecker(Checker):
    """Missing, malformed, weak, placeholder, test-mode, loopback and reused values; no network."""

    name = "secrets"
    subsystem = SUBSYSTEM
    description = "Every manifest variable: missing, malformed, weak, placeholder, test keys, loopback hosts, reuse"
    needs = ()  # it reads every manifest variable rather than a fixed few
    network = False

    async def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Probe the value store, then judge; the Rule set and RESULT_IDS stay in step (see tests)."""
        facts = probe(ctx.manifest, ctx.values)
        return judge(
            facts,
            allow_loopback=ctx.options.allow_loopback,
            offline=ctx.options.offline,
            checkers=installed_checkers(),
        ) + _reading.judge(_reading.reading_facts(ctx.manifest, ctx.values))


def installed_checkers() -> frozenset[str]:
    """Names in the checker entry-point group, read without importing (or re-registering) any checker."""
    return frozenset(ep.name for ep in entry_points(group=GROUP))
