"""Queue-key consistency in code: does the worker pop from the queue the backend pushes to?

Pure. Each push/pop is resolved to a literal name ('lit', 'filot:ocr:jobs') or to the env var it
comes from ('env', 'OCR_QUEUE_KEY'); an env var is compared through its configured value when the
run has one (queue keys are not secrets). Also reported: one queue env var with different fallback
literals in code (`|| 'a'` here, `getenv(..., 'b')` there), and same-named queue constants whose
values differ between the services.
"""

from __future__ import annotations

from collections.abc import Mapping

from filot_preflight.audit.model import CONSTANT, CONSUME, DECLARE, DEFAULT, PRODUCE, TreeScan
from filot_preflight.audit.queues import resolve
from filot_preflight.checkers.base import result
from filot_preflight.models import CheckResult, EvidenceValue, Status

PRODUCER, CONSUMER = "backend", "gpu-worker"
RID = "env_drift.queue_keys"
SUB = "code"
Token = tuple[str, str]
FIX = (
    "Name the queue in one place: both services read the same manifest variable (e.g. OCR_QUEUE_KEY, "
    "listed with consumers [backend, gpu-worker]) with no differing hard-coded fallback."
)


def _side(scan: TreeScan, kinds: set[str]) -> tuple[dict[Token, list[str]], list[str]]:
    constants: dict[str, set[str]] = {}
    for r in scan.queue_refs:
        if r.kind == CONSTANT and r.value is not None:
            constants.setdefault(r.label, set()).add(r.value)
    reads = {r.name for r in scan.env_reads if r.name}
    tokens: dict[Token, list[str]] = {}
    unresolved: list[str] = []
    for r in scan.queue_refs:
        if r.kind not in kinds:
            continue
        tok = resolve(r, constants, scan.const_env, reads)
        if tok is None:
            unresolved.append(f"{r.where} ({r.ident})")
        else:
            tokens.setdefault(tok, []).append(r.where)
    return tokens, unresolved


def _show(tok: Token, service: str, configured: Mapping[tuple[str, str], str]) -> str:
    if tok[0] == "lit":
        return repr(tok[1])
    val = configured.get((service, tok[1]))
    return f"${tok[1]}" + (f" (= {val!r})" if val is not None else " (not set in this run)")


def _agree(o: Token, i: Token, configured: Mapping[tuple[str, str], str]) -> bool | None:
    a = o[1] if o[0] == "lit" else configured.get((PRODUCER, o[1]))
    b = i[1] if i[0] == "lit" else configured.get((CONSUMER, i[1]))
    if a is not None and b is not None:
        return a == b
    return True if o == i else None


def judge_queues(scans: Mapping[str, TreeScan], configured: Mapping[tuple[str, str], str]) -> list[CheckResult]:
    """Results of id env_drift.queue_keys for the backend and gpu-worker trees."""
    if PRODUCER not in scans or CONSUMER not in scans:
        missing = " and ".join(s for s in (PRODUCER, CONSUMER) if s not in scans)
        return [
            result(
                RID, SUB, Status.SKIP, f"queue names not compared: no source tree for {missing}",
                remediation=f"Pass --source-dir {PRODUCER}=PATH --source-dir {CONSUMER}=PATH to compare them.",
            )
        ]
    out = _defaults(scans, configured) + _constants(scans)
    produced, p_unres = _side(scans[PRODUCER], {PRODUCE, DECLARE})
    consumed, c_unres = _side(scans[CONSUMER], {CONSUME, DECLARE})
    evidence: dict[str, EvidenceValue] = {"unresolved": (p_unres + c_unres)[:20]}
    if not produced or not consumed:
        lacking = PRODUCER + " pushes to" if not produced else CONSUMER + " pops from"
        out.append(
            result(
                RID, SUB, Status.SKIP, f"queue names not compared: found no queue the {lacking} in code",
                detail="Recognised: lpush/rpush/xadd, brpop/blpop/lmove, BullMQ Queue/Worker, rq Queue.",
                evidence=evidence,
            )
        )
        return out
    verdict = {(o, i): _agree(o, i, configured) for o in produced for i in consumed}
    if not any(v is None or v for v in verdict.values()):
        out.append(
            result(
                RID, SUB, Status.FAIL,
                f"{PRODUCER} pushes to {', '.join(_show(o, PRODUCER, configured) for o in produced)} but "
                f"{CONSUMER} pops from {', '.join(_show(i, CONSUMER, configured) for i in consumed)}",
                target=_show(next(iter(produced)), PRODUCER, configured),
                detail=f"{PRODUCER}: {_locs(produced)}; {CONSUMER}: {_locs(consumed)}",
                remediation=FIX, evidence=evidence,
            )
        )
        return out
    for o, where in produced.items():
        ok = [i for i in consumed if verdict[(o, i)]]
        unknown = [i for i in consumed if verdict[(o, i)] is None]
        shown = _show(o, PRODUCER, configured)
        if ok:
            status, summary, fix = Status.PASS, f"{PRODUCER} pushes to {shown}; {CONSUMER} pops from it", ""
        elif unknown:
            other = ", ".join(_show(i, CONSUMER, configured) for i in unknown)
            status = Status.WARN
            summary = f"{PRODUCER} pushes to {shown}, {CONSUMER} pops from {other}: equal only if configured so"
            fix = FIX + " Then run with the env files of both services so the values can be compared."
        else:
            status, summary, fix = Status.WARN, f"{PRODUCER} pushes to {shown}, which {CONSUMER} never pops", FIX
        out.append(result(RID, SUB, status, summary, target=shown, detail=", ".join(where[:10]),
                          remediation=fix, evidence=evidence))
    for i, where in consumed.items():
        if not any(verdict[(o, i)] is not False for o in produced):
            shown = _show(i, CONSUMER, configured)
            out.append(result(RID, SUB, Status.WARN, f"{CONSUMER} pops from {shown}, which {PRODUCER} never pushes to",
                              target=shown, detail=", ".join(where[:10]), remediation=FIX, evidence=evidence))
    return out


def _locs(tokens: dict[Token, list[str]]) -> str:
    return "; ".join(f"{t[1]} at {', '.join(w[:3])}" for t, w in tokens.items())


def _defaults(scans: Mapping[str, TreeScan], configured: Mapping[tuple[str, str], str]) -> list[CheckResult]:
    per_var: dict[str, dict[str, list[str]]] = {}
    for svc in (PRODUCER, CONSUMER):
        for r in scans[svc].queue_refs:
            if r.kind == DEFAULT and r.value is not None:
                per_var.setdefault(r.label, {}).setdefault(r.value, []).append(f"{svc}:{r.where}")
    out: list[CheckResult] = []
    for var, values in sorted(per_var.items()):
        if len(values) < 2:
            continue
        set_everywhere = all((svc, var) in configured for svc in (PRODUCER, CONSUMER))
        out.append(
            result(
                RID, SUB, Status.WARN if set_everywhere else Status.FAIL,
                f"{var} falls back to different queue names in code: {', '.join(map(repr, values))}",
                target=var,
                detail="; ".join(f"{v!r} at {', '.join(w[:3])}" for v, w in values.items())
                + (" (harmless while it is set, but a missing value splits the queue)" if set_everywhere else ""),
                remediation=f"Use one fallback for {var} in both services, or none (fail at start-up when unset).",
                evidence={"values": sorted(values)},
            )
        )
    return out


def _constants(scans: Mapping[str, TreeScan]) -> list[CheckResult]:
    def table(svc: str) -> dict[str, set[str]]:
        t: dict[str, set[str]] = {}
        for r in scans[svc].queue_refs:
            if r.kind == CONSTANT and r.value is not None:
                t.setdefault(r.label, set()).add(r.value)
        return t

    a, b = table(PRODUCER), table(CONSUMER)
    return [
        result(
            RID, SUB, Status.WARN,
            f"constant {name} differs: {PRODUCER} {sorted(a[name])} vs {CONSUMER} {sorted(b[name])}",
            target=name, remediation=FIX,
        )
        for name in sorted(a.keys() & b.keys())
        if a[name] != b[name]
    ]
