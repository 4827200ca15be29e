"""A failure that is the consequence of another checker's finding says so, with the cause's diagnosis.

The GPU worker reads its queue through the same Redis as the backend. When the redis checker has
diagnosed the connection (redis.plain_on_tls, redis.auth, ...), the GPU worker's own view of the
failure ("closed the connection: crashed or restarted") is a symptom and its fix can point the wrong
way; the consequence then carries the cause's summary and fix, and names it.
"""

from __future__ import annotations

from filot_preflight.models import CheckResult, Status

# consequence id -> (cause checker prefix, the cause's target must start with this)
CAUSES = {"gpu_worker.redis": ("redis.", "REDIS_URL")}
_BAD = (Status.FAIL, Status.ERROR)
# rules about the URL's form: true, but a live diagnosis of the same failure (plain_on_tls, auth) says more
_FORM_RULES = {"redis.tls", "redis.url", "redis.host"}


def link(results: list[CheckResult]) -> list[CheckResult]:
    """`results` with each failing consequence rewritten to name its diagnosed cause (order kept)."""
    out = []
    for r in results:
        cause = _cause(r, results)
        if cause is not None:
            r = r.with_updates(
                summary=f"could not read the queue in Redis: {cause.summary} (the cause: {cause.id})",
                remediation=f"Fix {cause.id} first (the same Redis serves the queue): {cause.remediation}",
                evidence={**r.evidence, "cause": cause.id},
            )
        out.append(r)
    return out


def _cause(r: CheckResult, results: list[CheckResult]) -> CheckResult | None:
    if r.id not in CAUSES or r.status not in _BAD:
        return None
    prefix, target = CAUSES[r.id]
    causes = [c for c in results if c.id.startswith(prefix) and c.status in _BAD and c.target.startswith(target)]
    return max(causes, key=lambda c: (c.status.severity, c.id not in _FORM_RULES)) if causes else None
