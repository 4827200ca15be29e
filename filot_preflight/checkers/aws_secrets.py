"""AWS Secrets Manager: every manifest secret exists at its path, has a current value, holds its JSON key.

Probe: one batched read through `net.secrets_manager.read_secrets` (about N/20 calls for N secret ids).
Judge: pure; missing AWS configuration or an unreachable endpoint is ONE failure with the fix,
never one per secret. Secrets unchanged for longer than `checks.aws.rotation_max_age_days` warn.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from filot_preflight.checkers.base import CheckContext, Checker, results_for
from filot_preflight.manifest import AwsSettings, Manifest
from filot_preflight.models import CheckResult, EvidenceValue, Status
from filot_preflight.net import libraries as libs
from filot_preflight.net.aws import AwsProblem
from filot_preflight.net.fixes import insecure_fix
from filot_preflight.net.secrets_manager import AwsRead, SecretFact, read_secrets

NAME = "aws_secrets"
SUBSYSTEM = "aws"
_r = results_for(NAME, SUBSYSTEM)


@dataclass(frozen=True)
class SecretRef:
    """One manifest variable stored in Secrets Manager (the judge needs no manifest)."""

    variable: str
    secret_id: str
    key: str | None
    required: bool
    secret: bool  # only real secrets are expected to rotate (not e.g. AWS_ACCOUNT_ID)
    generate: bool
    obtain: str


@dataclass(frozen=True)
class Facts:
    """The batched read and what the manifest expects of it."""

    read: AwsRead
    refs: tuple[SecretRef, ...]
    insecure: bool = False


def refs_of(manifest: Manifest, present: set[str]) -> tuple[SecretRef, ...]:
    """Manifest variables with an aws_secret; `present` decides required_if."""
    return tuple(
        SecretRef(
            v.name, v.aws_secret.id, v.aws_secret.key, v.is_required(present), v.secret,
            v.generate is not None, v.obtain,
        )
        for v in manifest.variables
        if v.aws_secret is not None
    )


def probe(ctx: CheckContext) -> Facts:
    """Read every secret in batches (blocking; run it in ctx.blocking)."""
    read = read_secrets(ctx.manifest, ctx.options, ctx.values)
    present = set(ctx.values.names()) | {v.name for v in read.values}
    return Facts(read, refs_of(ctx.manifest, present), ctx.options.insecure)


def judge(facts: Facts, settings: AwsSettings, now: datetime | None = None) -> list[CheckResult]:
    """One config result, then a result per problem secret/key, then one PASS summary per clean rule."""
    now = now or datetime.now(UTC)
    read = facts.read
    out: list[CheckResult] = []
    if facts.insecure:
        out.append(_r("insecure", Status.WARN, "TLS verification of the Secrets Manager endpoint is off",
                      remediation=insecure_fix()))
    host = urlsplit(read.endpoint).hostname if read.endpoint else None
    n_ids = len({r.secret_id for r in facts.refs})
    if read.problem is not None:
        p = read.problem
        out.append(_r("config", Status.FAIL, f"cannot read Secrets Manager: {p.kind.replace('_', ' ')}",
                      detail=p.message, remediation=p.remedy,
                      evidence={"kind": p.kind, "code": p.code, "region": read.region,
                                "endpoint_host": host, "secrets": n_ids}))
        return out
    calls = f"{read.calls} API call{'s' if read.calls != 1 else ''}"
    out.append(_r("config", Status.PASS, f"read {n_ids} secrets in {calls}",
                  evidence={"region": read.region, "endpoint_host": host, "calls": read.calls,
                            "secrets": n_ids}))
    by_id: dict[str, list[SecretRef]] = {}
    for ref in facts.refs:
        by_id.setdefault(ref.secret_id, []).append(ref)
    passed = {"exists": 0, "json_key": 0, "rotation": 0}
    bad: list[CheckResult] = []
    oldest = 0
    for sid, refs in by_id.items():
        fact = read.facts.get(sid) or SecretFact(sid, found=False, error_code="ResourceNotFoundException")
        if not fact.has_current:
            bad.extend(_existence(fact, refs))
            continue
        passed["exists"] += 1
        if fact.binary:
            bad.append(_r("binary", Status.WARN, f"{sid} holds a binary value (SecretBinary)", target=sid,
                          remediation=f"Store {sid} as SecretString: ECS injects only string values."))
        key_results, n_keys = _keys(fact, refs)
        bad.extend(key_results)
        passed["json_key"] += n_keys
        if any(r.secret for r in refs) and fact.created is not None:
            age = (now - fact.created).days
            if age <= settings.rotation_max_age_days:
                passed["rotation"] += 1
                oldest = max(oldest, age)
                continue
            bad.append(_r("rotation", Status.WARN,
                          f"{sid} unchanged for {age} days (limit {settings.rotation_max_age_days})",
                          target=sid,
                          remediation=f"Rotate {sid}: put a new value ({_fix_hint(refs)}), deploy, "
                          "then revoke the old one.",
                          evidence={"age_days": age, "last_changed": fact.created.date().isoformat(),
                                    "max_age_days": settings.rotation_max_age_days}))
    out.extend(bad)
    failed = {r.id.split(".", 1)[1] for r in bad if r.status in (Status.FAIL, Status.WARN)}
    summaries = {
        "exists": f"{passed['exists']} secrets exist with a current (AWSCURRENT) value",
        "json_key": f"{passed['json_key']} declared JSON keys present",
        "rotation": f"{passed['rotation']} secrets changed within {settings.rotation_max_age_days} days",
    }
    for rule, n in passed.items():
        if n and rule not in failed:
            ev: dict[str, EvidenceValue] = {"count": n}
            if rule == "rotation":
                ev["oldest_age_days"] = oldest
            out.append(_r(rule, Status.PASS, summaries[rule], evidence=ev))
    return out


def _existence(fact: SecretFact, refs: list[SecretRef]) -> list[CheckResult]:
    """Failures (or the optional SKIP) of a secret that could not be read; [] when it was."""
    sid = fact.secret_id
    needed = [r.variable for r in refs if r.required]
    names = ", ".join(r.variable for r in refs)
    ev: dict[str, EvidenceValue] = {
        "variables": [r.variable for r in refs], "error_code": fact.error_code or None}
    if fact.error_code == "NoCurrentVersion":
        status = Status.FAIL if needed else Status.WARN
        return [_r("current_version", status, f"{sid} exists but has no current (AWSCURRENT) value",
                   target=sid, evidence=ev,
                   remediation=f"Put a value into {sid} ({_fix_hint(refs)}) or move the AWSCURRENT "
                   "label back to a good version (aws secretsmanager update-secret-version-stage).")]
    if not fact.found:
        if not needed:
            return [_r("exists", Status.SKIP, f"{sid} not stored; its variables are optional ({names})",
                       target=sid, evidence=ev).with_updates(not_applicable=True)]
        return [_r("exists", Status.FAIL, f"{sid} does not exist (needed by {', '.join(needed)})",
                   target=sid, evidence=ev, remediation=f"Create {sid}: {_fix_hint(refs)}.")]
    why = _READ_ERRORS.get(fact.error_code, "check the IAM policy and the secret's state")
    return [_r("read", Status.FAIL, f"{sid} cannot be read: {fact.error_code}", target=sid,
               detail=fact.error_message, evidence=ev, remediation=f"{sid}: {why}.")]


_READ_ERRORS = {
    "AccessDeniedException": "grant secretsmanager:GetSecretValue (and BatchGetSecretValue) on it",
    "DecryptionFailure": "grant kms:Decrypt on the secret's KMS key to this principal",
    "InvalidRequestException": "it is scheduled for deletion: aws secretsmanager restore-secret --secret-id it",
    "NotChecked": "not read before the time budget ran out; run again with a longer --timeout",
}


def _keys(fact: SecretFact, refs: list[SecretRef]) -> tuple[list[CheckResult], int]:
    """Results for declared JSON keys that are missing, and how many are present."""
    out, present = [], 0
    for r in refs:
        if r.key is None:
            continue
        if fact.has_key(r.key):
            present += 1
        elif not r.required:
            out.append(_r("json_key", Status.SKIP,
                          f"{fact.secret_id} has no key {r.key!r}; {r.variable} is optional",
                          target=f"{fact.secret_id}#{r.key}"))
        else:
            what = f"has no key {r.key!r}" if fact.is_json else "is not a JSON object"
            out.append(_r("json_key", Status.FAIL, f"{fact.secret_id} {what} (needed by {r.variable})",
                          target=f"{fact.secret_id}#{r.key}",
                          evidence={"variable": r.variable, "keys": list(fact.keys), "is_json": fact.is_json},
                          remediation=f"Add key {r.key!r} to {fact.secret_id}: {_fix_hint([r])} "
                          "(the other keys are kept)."))
    return out, present


def _fix_hint(refs: list[SecretRef]) -> str:
    gen = next((r for r in refs if r.generate), None)
    if gen is not None:
        return f"preflight secrets generate {gen.variable} --put"
    r = refs[0]
    got = f"{r.obtain.rstrip('.')}; then " if r.obtain else ""
    return f"{got}aws secretsmanager put-secret-value --secret-id {r.secret_id} --secret-string file://value.json"


class AwsSecretsChecker(Checker):
    """Every manifest secret exists in Secrets Manager with a current value and its JSON key."""

    name = NAME
    subsystem = SUBSYSTEM
    description = "Secrets Manager: each manifest secret exists, has a current value and its JSON key"
    needs = ("AWS_REGION",)
    libraries = libs.AWS
    network = True

    async def run(self, ctx: CheckContext) -> list[CheckResult]:
        """Probe in a daemon thread (boto3 blocks), bounded by the checker's budget, then judge."""
        try:
            facts = await asyncio.wait_for(ctx.blocking(probe, ctx), ctx.budget().bound())
        except TimeoutError:  # boto3's own timeouts did not fire first (a slow setup, a stuck DNS lookup)
            problem = AwsProblem("timeout", f"no answer within --timeout {ctx.options.timeout:g}s")
            facts = Facts(AwsRead(problem=problem), refs_of(ctx.manifest, set(ctx.values.names())),
                          ctx.options.insecure)
        return judge(facts, ctx.manifest.checks.aws)
