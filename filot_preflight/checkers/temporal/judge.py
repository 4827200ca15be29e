"""Judging Temporal facts: pure functions from `TemporalFacts` to results (table-tested, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from filot_preflight.checkers.base import result
from filot_preflight.models import CheckResult, EvidenceValue, Status
from filot_preflight.net import fixes
from filot_preflight.net.fixes import Endpoint, refused_summary
from filot_preflight.net.kinds import ErrorKind
from filot_preflight.net.x509 import CertInfo
from filot_preflight.rules.hosts import HostCheck

SUB = "temporal"
AUTH_FIX = (
    "Set TEMPORAL_API_KEY (Temporal Cloud API key of a service account; implies TLS) or TEMPORAL_TLS_CERT and "
    "TEMPORAL_TLS_KEY (mTLS client certificate issued by the namespace's CA)."
)


@dataclass(frozen=True)
class Poller:
    """One poller of the task queue: who, and how long since the server last saw it poll."""

    identity: str
    age_s: float


@dataclass(frozen=True)
class TemporalFacts:
    """What the Temporal probe found. `error` is redacted text; no field holds a key or certificate."""

    configured: bool
    address_var: str = "TEMPORAL_ADDRESS"
    fallback_missing: tuple[str, ...] = ()  # Redis fallback variables that are not set
    partial_vars: tuple[str, ...] = ()  # TEMPORAL_* set although the address is not
    address_error: str | None = None
    host: str | None = None
    port: int | None = None
    host_kind: str = "public"
    namespace: str | None = None
    task_queue: str | None = None
    tls: bool = False
    auth: str = "none"  # none | api_key | mtls | api_key+mtls
    insecure: bool = False
    ca_sources: tuple[str, ...] = ()
    client_cert: CertInfo | None = None
    client_cert_error: str | None = None
    stage: str | None = None  # where the connection failed: tcp | tls | connect
    error_kind: str | None = None
    error: str = ""
    timeout_s: float = 10.0
    server_cert: CertInfo | None = None
    tls_version: str | None = None
    server_version: str | None = None
    namespace_error: str | None = None  # not_found | permission | timeout | other
    namespace_state: str | None = None
    pollers: tuple[Poller, ...] | None = None
    pollers_error: str | None = None
    gate: HostCheck | None = None  # the pre-connect host gate's finding (refused: nothing was sent)


@dataclass(frozen=True)
class TemporalJudgeSettings:
    """Thresholds from `checks.temporal` and run-wide relaxations."""

    poller_max_age_s: int = 120
    cert_expiry_warn_days: int = 30
    allow_loopback: bool = False
    now: datetime | None = field(default=None)  # fixed in tests


# error_kind -> (result id, summary); the fix comes from the shared table (net.fixes) or from _own_fix.
_FAILURES: dict[str, tuple[str, str]] = {
    ErrorKind.DNS: ("temporal.unresolvable", "host {host} does not resolve"),
    ErrorKind.REFUSED: ("temporal.refused", "connection to {addr} refused"),
    ErrorKind.CONNECT_TIMEOUT: ("temporal.unreachable", "no TCP connection to {addr} within {timeout:g}s"),
    ErrorKind.UNREACHABLE: ("temporal.unreachable", "no route to {addr}"),
    "no_answer": ("temporal.no_answer", "{addr} accepted the connection but did not answer within {timeout:g}s"),
    "tls_on_plain": ("temporal.tls_on_plain", "{addr} does not speak TLS, but TLS is required"),
    "plain_on_tls": ("temporal.plain_on_tls", "{addr} requires TLS but the connection was plaintext"),
    ErrorKind.UNKNOWN_CA: ("temporal.cert_unknown_ca", "the certificate of {addr} is not signed by a trusted CA"),
    ErrorKind.HOSTNAME_MISMATCH: ("temporal.cert_hostname", "the certificate of {addr} is not valid for {host}"),
    ErrorKind.CERT_EXPIRED: ("temporal.cert_expired", "the server certificate of {addr} has expired"),
    ErrorKind.CERT_NOT_YET_VALID: ("temporal.cert_expired", "the server certificate of {addr} is not valid yet"),
    "auth": ("temporal.auth", "Temporal at {addr} rejected the credentials ({auth})"),
    "permission": ("temporal.permission", "the credentials may not use namespace {namespace}"),
}
_FAILURES[ErrorKind.TIMEOUT] = _FAILURES["no_answer"]
_FAILURES[ErrorKind.HANDSHAKE_TIMEOUT] = _FAILURES["no_answer"]
_FAILURES[ErrorKind.NOT_TLS] = _FAILURES["tls_on_plain"]
_TLS_FALLBACK = ("temporal.tls_handshake", "TLS handshake with {addr} failed")
_OTHER = ("temporal.connection", "connecting to Temporal at {addr} failed")
# A reset keeps the id of its stage (tls_handshake / connection) but says what happened.
_RESET_SUMMARY = "{addr} closed the connection without an answer"


def endpoint(f: TemporalFacts) -> Endpoint:
    """TEMPORAL_ADDRESS's endpoint for the shared fix table."""
    return Endpoint(
        f.address_var, "the Temporal frontend", host=f.host or "", port=f.port,
        source="Temporal Cloud (Namespaces, the namespace's gRPC endpoint)", default_port="Temporal Cloud: 7233",
        tls_switch=f"{AUTH_FIX[0].lower()}{AUTH_FIX[1:-1]}, which switch TLS on", managed_by="Temporal Cloud",
    )


def _own_fix(kind: str, f: TemporalFacts) -> str | None:
    """Fixes that are Temporal's own: rejected credentials and a namespace the credentials may not use."""
    ns = f.namespace or "TEMPORAL_NAMESPACE"
    if kind == "auth":
        key = ("Create a new API key for the service account in Temporal Cloud (the old one was revoked, expired or "
               "belongs to another account) and put it in TEMPORAL_API_KEY")
        cert = ("issue a new client certificate from the CA registered on the namespace and put it and its key in "
                "TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY")
        how = {"api_key": key, "mtls": cert[0].upper() + cert[1:],
               "api_key+mtls": f"{key}; or, if the certificate is the one rejected, {cert}"}
        return (f"{how.get(f.auth, key)}; update the same secrets in Secrets Manager so the ECS services get them. "
                f"The credentials must be granted access to namespace {ns}.")
    if kind == "permission":
        return (f"Grant the service account of TEMPORAL_API_KEY (or the client certificate) access to namespace {ns} "
                "in Temporal Cloud (the namespace's permissions): the backend needs Write, preflight only reads.")
    return None


def rpc_fix(kind: str, f: TemporalFacts, rpc: str) -> str:
    """The fix for a read RPC (DescribeNamespace / DescribeTaskQueue) that failed after connecting."""
    own = _own_fix(kind, f)
    if own:
        return own
    if fixes.canonical(kind) in ("timeout", "no_answer"):
        return (f"The Temporal frontend at {f.host}:{f.port} did not answer {rpc} in time: check its health (Temporal "
                "Cloud status page, or the self-hosted frontend's logs) and run again; raise --timeout only if it is "
                "merely slow.")
    if fixes.canonical(kind) != "other":
        return fixes.fix(kind, endpoint(f))
    return (f"Check that TEMPORAL_NAMESPACE names a namespace these credentials may read: `temporal operator "
            f"namespace describe --namespace {f.namespace or '<namespace>'} --address {f.host}:{f.port}` (with the "
            "same API key or certificate) shows the server's own answer.")


def judge(f: TemporalFacts, s: TemporalJudgeSettings) -> list[CheckResult]:
    """Turn Temporal facts into results (pure)."""
    if not f.configured:
        return _fallback(f)
    if f.address_error:
        return [result("temporal.address", SUB, Status.FAIL, f"{f.address_var} is not host:port ({f.address_error})",
                       target=f.address_var, remediation="Use the form <namespace>.<account>.tmprl.cloud:7233.")]
    addr = f"{f.host}:{f.port}"
    target = f"{f.address_var} ({addr})"
    out = []
    if f.gate is not None and f.gate.refused:
        out.append(result("temporal.host", SUB, Status.FAIL, refused_summary(f.address_var, f.gate), target=target,
                          evidence={"host_kind": f.host_kind, **f.gate.evidence()},
                          remediation=fixes.fix(ErrorKind.HOST_REFUSED, endpoint(f))))
    elif f.host_kind != "public":
        out.append(_host(f, s, target))
    out.append(_tls(f, s, target))
    if f.client_cert is not None or f.client_cert_error:
        out.append(_client_cert(f, s))
    if (not f.tls and f.host_kind != "loopback") or (f.gate is not None and f.gate.refused):
        return out  # plaintext to a remote host, or a host the gate refused: no connection was attempted
    if f.error_kind:
        out.append(_failure(f, addr, target))
        return out
    if f.auth != "none":
        out.append(result("temporal.auth", SUB, Status.PASS, f"credentials accepted ({f.auth})", target=target,
                          evidence={"auth": f.auth}))
    if f.server_cert is not None:
        out.append(_expiry("temporal.server_cert", "server certificate", f.server_cert, s, target,
                           "Renew the server certificate (Temporal Cloud renews its own; check this machine's clock)."))
    out.append(result("temporal.version", SUB, Status.PASS, f"Temporal server {f.server_version or 'unknown'}",
                      target=target, evidence={"server_version": f.server_version}))
    out.append(_namespace(f, target))
    out.append(_pollers(f, s))
    return out


def _fallback(f: TemporalFacts) -> list[CheckResult]:
    out = [result("temporal.configured", SUB, Status.SKIP, "not configured: Redis fallback in effect",
                  target=f.address_var, detail=f"{f.address_var} is unset, so the backend queues OCR jobs in Redis."
                  ).with_updates(not_applicable=True)]
    if f.fallback_missing:
        out.append(result(
            "temporal.fallback", SUB, Status.FAIL,
            f"Temporal is off but the Redis fallback is not configured: {', '.join(f.fallback_missing)} missing",
            target=", ".join(f.fallback_missing), evidence={"missing": list(f.fallback_missing)},
            remediation="Set the missing variables (REDIS_URL and the queue keys), or configure Temporal.",
        ))
    else:
        out.append(result("temporal.fallback", SUB, Status.PASS,
                          "Redis fallback configured (REDIS_URL and queue keys set)", target="REDIS_URL"))
    if f.partial_vars:
        out.append(result(
            "temporal.partial", SUB, Status.WARN,
            f"{', '.join(f.partial_vars)} set but {f.address_var} is not: Temporal stays off",
            target=f.address_var, evidence={"set": list(f.partial_vars)},
            remediation=f"Set {f.address_var} to enable Temporal, or remove the unused TEMPORAL_* variables.",
        ))
    return out


def _host(f: TemporalFacts, s: TemporalJudgeSettings, target: str) -> CheckResult:
    if s.allow_loopback:
        return result("temporal.host", SUB, Status.PASS, f"{f.host_kind} Temporal host allowed (--allow-loopback)",
                      target=target, evidence={"host_kind": f.host_kind, "loopback_allowed": True})
    return result("temporal.host", SUB, Status.FAIL, f"{f.address_var} points at a {f.host_kind} host in production",
                  target=target, evidence={"host_kind": f.host_kind},
                  remediation="Set TEMPORAL_ADDRESS to the Temporal Cloud endpoint, or unset it to use Redis.")


def _tls(f: TemporalFacts, s: TemporalJudgeSettings, target: str) -> CheckResult:
    ev: dict[str, EvidenceValue] = {"tls": f.tls, "auth": f.auth, "trusted_extra_ca": list(f.ca_sources)}
    if not f.tls:
        if f.host_kind == "loopback" and s.allow_loopback:
            return result("temporal.tls", SUB, Status.PASS, "plaintext gRPC to a loopback dev server (allowed)",
                          target=target, evidence=ev | {"loopback_allowed": True})
        return result("temporal.tls", SUB, Status.FAIL,
                      "no TLS: neither TEMPORAL_API_KEY nor a client certificate is set (Temporal Cloud requires TLS)",
                      target=target, evidence=ev, remediation=AUTH_FIX)
    if f.insecure:
        return result("temporal.tls", SUB, Status.WARN, "TLS certificate NOT verified (--insecure)", target=target,
                      evidence=ev | {"verified": False},
                      remediation=fixes.insecure_fix())
    return result("temporal.tls", SUB, Status.PASS, f"TLS ({f.auth}), certificate and host name verified",
                  target=target, evidence=ev | {"verified": True, "tls_version": f.tls_version})


def _client_cert(f: TemporalFacts, s: TemporalJudgeSettings) -> CheckResult:
    if f.client_cert_error or f.client_cert is None:
        return result("temporal.client_cert", SUB, Status.FAIL, f"client certificate unusable: {f.client_cert_error}",
                      target="TEMPORAL_TLS_CERT",
                      remediation="Set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY to the PEM text (or file paths) "
                      "of the client certificate and its key.")
    return _expiry("temporal.client_cert", "client certificate", f.client_cert, s, "TEMPORAL_TLS_CERT",
                   "Issue a new client certificate from the namespace's CA (tcld / your PKI), update "
                   "TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY, and roll the services.")


def _expiry(rid: str, what: str, cert: CertInfo, s: TemporalJudgeSettings, target: str, fix: str) -> CheckResult:
    days = cert.days_left(s.now or datetime.now(UTC))
    ev: dict[str, EvidenceValue] = {
        "not_after": cert.not_after.isoformat() if cert.not_after else None, "days_left": days,
        "subject": cert.subject_cn or None,
    }
    if days is None:
        return result(rid, SUB, Status.WARN, f"could not read the {what}'s expiry", target=target, evidence=ev,
                      remediation=fix)
    if days < 0:
        return result(rid, SUB, Status.FAIL, f"{what} expired {-days:g} days ago", target=target, evidence=ev,
                      remediation=fix)
    if days < s.cert_expiry_warn_days:
        return result(rid, SUB, Status.WARN, f"{what} expires in {days:g} days", target=target, evidence=ev,
                      remediation=fix)
    return result(rid, SUB, Status.PASS, f"{what} valid for {days:g} more days", target=target, evidence=ev)


def _failure(f: TemporalFacts, addr: str, target: str) -> CheckResult:
    kind = f.error_kind or ErrorKind.OTHER
    rid, summary = _FAILURES.get(kind, _TLS_FALLBACK if f.stage == "tls" else _OTHER)
    if kind == ErrorKind.RESET:
        summary = _RESET_SUMMARY
    # The fix follows the kind when the shared table knows it (a reset, a certificate problem), else the stage.
    fix_kind = "no_answer" if kind == ErrorKind.TIMEOUT else kind
    if fixes.canonical(fix_kind) == "other":
        fix_kind = "tls_error" if f.stage == "tls" else "other"
    fix = _own_fix(kind, f) or fixes.fix(fix_kind, endpoint(f))
    fmt = {"addr": addr, "host": f.host, "timeout": f.timeout_s, "auth": f.auth, "namespace": f.namespace}
    return result(rid, SUB, Status.FAIL, summary.format(**fmt), target=target, detail=f.error[:500],
                  remediation=fix,
                  evidence={"error_kind": kind, "stage": f.stage, "timeout_s": f.timeout_s, "auth": f.auth})


def _namespace(f: TemporalFacts, target: str) -> CheckResult:
    t = f"TEMPORAL_NAMESPACE ({f.namespace})" if f.namespace else "TEMPORAL_NAMESPACE"
    if not f.namespace:
        return result("temporal.namespace", SUB, Status.FAIL, "TEMPORAL_NAMESPACE is not set", target=t,
                      remediation="Set TEMPORAL_NAMESPACE to the namespace name (Temporal Cloud: <name>.<account>).")
    if f.namespace_error == "not_found":
        return result("temporal.namespace", SUB, Status.FAIL, f"namespace {f.namespace} does not exist", target=t,
                      remediation="Fix TEMPORAL_NAMESPACE (Temporal Cloud: the full <name>.<account> id), or create "
                      "the namespace.")
    if f.namespace_error:
        return result("temporal.namespace", SUB, Status.FAIL, f"could not describe namespace {f.namespace} "
                      f"({f.namespace_error})", target=t, detail=f.error[:500],
                      remediation=rpc_fix(f.namespace_error, f, "DescribeNamespace"))
    if f.namespace_state and f.namespace_state != "REGISTERED":
        return result("temporal.namespace", SUB, Status.FAIL, f"namespace {f.namespace} is {f.namespace_state}",
                      target=t, evidence={"state": f.namespace_state},
                      remediation=f"Set TEMPORAL_NAMESPACE to an active (REGISTERED) namespace: {f.namespace} is "
                      f"{f.namespace_state} and takes no new workflows.")
    return result("temporal.namespace", SUB, Status.PASS, f"namespace {f.namespace} exists", target=t,
                  evidence={"state": f.namespace_state})


def _pollers(f: TemporalFacts, s: TemporalJudgeSettings) -> CheckResult:
    t = f"TEMPORAL_TASK_QUEUE ({f.task_queue})" if f.task_queue else "TEMPORAL_TASK_QUEUE"
    if not f.task_queue:
        return result("temporal.pollers", SUB, Status.FAIL, "TEMPORAL_TASK_QUEUE is not set", target=t,
                      remediation="Set TEMPORAL_TASK_QUEUE to the task queue the FiLot workers poll.")
    if f.namespace_error or not f.namespace:
        return result("temporal.pollers", SUB, Status.SKIP, "not checked: the namespace could not be read", target=t)
    if f.pollers_error or f.pollers is None:
        return result("temporal.pollers", SUB, Status.FAIL, f"could not describe the task queue ({f.pollers_error})",
                      target=t, remediation=rpc_fix(f.pollers_error or "other", f, "DescribeTaskQueue"))
    fresh = [p for p in f.pollers if p.age_s <= s.poller_max_age_s]
    ev: dict[str, EvidenceValue] = {
        "pollers": len(f.pollers), "live_pollers": len(fresh), "max_age_s": s.poller_max_age_s,
        "youngest_poll_age_s": min((p.age_s for p in f.pollers), default=None),
    }
    start = ("Start the Temporal worker service for this task queue and check its logs "
             "(it must poll TEMPORAL_TASK_QUEUE).")
    if not f.pollers:
        return result("temporal.pollers", SUB, Status.FAIL, f"no worker polls task queue {f.task_queue}", target=t,
                      evidence=ev, remediation=start)
    if not fresh:
        return result("temporal.pollers", SUB, Status.FAIL,
                      f"no poll on {f.task_queue} within {s.poller_max_age_s}s "
                      f"(last {ev['youngest_poll_age_s']}s ago): the workers stopped",
                      target=t, evidence=ev, remediation=start)
    return result("temporal.pollers", SUB, Status.PASS, f"{len(fresh)} live poller(s) on {f.task_queue}", target=t,
                  evidence=ev)
