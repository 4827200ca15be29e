"""Judging Redis facts: pure functions from `RedisFacts` to results (no I/O; unit-tested with tables).

Each connection failure mode has its own result id and fix (see docs/checks/redis.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from filot_preflight.checkers.base import result
from filot_preflight.models import CheckResult, EvidenceValue, Status
from filot_preflight.net import fixes
from filot_preflight.net.fixes import refused_summary
from filot_preflight.net.kinds import ErrorKind
from filot_preflight.net.redis_fixes import CA_VAR as CA_VAR
from filot_preflight.net.redis_fixes import MINIMAL_GRANTS as MINIMAL_GRANTS
from filot_preflight.net.redis_fixes import VAR as VAR
from filot_preflight.net.redis_fixes import connection_fix, endpoint, permission_fix
from filot_preflight.net.x509 import CertInfo
from filot_preflight.rules.hosts import HostCheck

SUB = "redis"
SAFE_POLICY = "noeviction"
EVICTION_FIX = (
    "Set maxmemory-policy to noeviction (Upstash: database Configuration, turn Eviction off; "
    "self-hosted: CONFIG SET maxmemory-policy noeviction and persist it in redis.conf), so that a "
    "full Redis rejects writes instead of silently dropping queued OCR jobs."
)


@dataclass(frozen=True)
class RedisFacts:
    """What the Redis probe found. `error` is redacted text; no field ever holds a password."""

    configured: bool = True
    url_error: str | None = None
    scheme: str | None = None
    host: str | None = None
    port: int | None = None
    db: int | None = None
    has_password: bool = False
    host_kind: str = "public"
    ca_sources: tuple[str, ...] = ()
    ca_error: str | None = None
    insecure: bool = False
    timeout_s: float = 10.0
    stage: str | None = None  # 'tls' or 'redis' when the connection failed
    error_kind: str | None = None
    error: str = ""
    cert: CertInfo | None = None
    tls_version: str | None = None
    auth_ok: bool = False
    ping_ms: float | None = None
    version: str | None = None
    mode: str | None = None
    info_policy: str | None = None
    maxmemory: int | None = None
    config_policy: str | None = None
    config_error: str | None = None
    handshake: tuple[str, ...] = ()  # what the client sent on connect (AUTH, SELECT)
    commands: tuple[str, ...] = ()  # every command sent once logged in, handshake included
    refused: tuple[str, ...] = ()  # commands the ACL refused (NOPERM), lower-case (`ping`, `info`)
    login_skipped: bool = False  # redis:// with credentials: not sent (no --allow-plaintext-auth)
    port_speaks: str | None = None  # 'tls' or 'resp' when probed without credentials
    gate: HostCheck | None = None  # what the pre-connect host gate found (refused: nothing was sent)

    def redacted(self, redact: Callable[[str], str]) -> RedisFacts:
        """A copy whose free-text fields went through the redactor."""
        return dataclasses.replace(
            self,
            error=redact(self.error),
            config_error=redact(self.config_error) if self.config_error else None,
        )


@dataclass(frozen=True)
class RedisSettings:
    """Judging thresholds and run-wide relaxations."""

    allow_loopback: bool = False
    cert_warn_days: int = 30
    slow_ping_ms: float = 250.0
    min_major_version: int = 6
    now: datetime | None = None  # fixed in tests


# error_kind -> (result id, summary template); the fix comes from net.redis_fixes.
_FAILURES: dict[str, tuple[str, str]] = {
    ErrorKind.DNS: ("redis.unresolvable", "host {host} does not resolve"),
    ErrorKind.REFUSED: ("redis.refused", "connection to {addr} refused"),
    ErrorKind.CONNECT_TIMEOUT: ("redis.unreachable", "no TCP connection to {addr} within {timeout:g}s"),
    ErrorKind.UNREACHABLE: ("redis.unreachable", "no route to {addr}"),
    "no_answer": ("redis.no_answer", "{addr} accepted the connection but did not answer within {timeout:g}s"),
    "tls_on_plain": ("redis.tls_on_plain", "REDIS_URL asks for TLS (rediss://) but {addr} speaks plain-text Redis"),
    "plain_on_tls": ("redis.plain_on_tls", "REDIS_URL uses plain redis:// but {addr} requires TLS"),
    ErrorKind.UNKNOWN_CA: ("redis.cert_unknown_ca", "the certificate of {addr} is not signed by a trusted CA"),
    ErrorKind.HOSTNAME_MISMATCH: ("redis.cert_hostname", "the certificate of {addr} is not valid for host {host}"),
    ErrorKind.CERT_EXPIRED: ("redis.cert_expired", "the certificate of {addr} has expired"),
    ErrorKind.CERT_NOT_YET_VALID: ("redis.cert_expired", "the certificate of {addr} is not valid yet"),
    "auth": ("redis.auth", "Redis at {addr} rejected the credentials in REDIS_URL"),
    "permission": ("redis.permission", "the Redis user of REDIS_URL may not run {refused} (refused on connect)"),
}
_FAILURES[ErrorKind.TIMEOUT] = _FAILURES["no_answer"]
_FAILURES[ErrorKind.HANDSHAKE_TIMEOUT] = _FAILURES["no_answer"]
_TLS_FALLBACK = ("redis.tls_handshake", "TLS handshake with {addr} failed")
_OTHER = ("redis.connection", "connection to Redis at {addr} failed")
# A reset keeps the id of its stage (tls_handshake / connection) but says what happened.
_RESET_SUMMARY = "{addr} closed the connection without an answer"
def judge(f: RedisFacts, s: RedisSettings) -> list[CheckResult]:
    """Turn Redis facts into results (pure)."""
    if not f.configured:
        return [result("redis.configured", SUB, Status.FAIL, "REDIS_URL is not set", target=VAR,
                       remediation="Set REDIS_URL to the rediss:// URL from the Upstash console (Connect, TLS).")]
    if f.url_error:
        return [result("redis.url", SUB, Status.FAIL, f"REDIS_URL is not a usable Redis URL: {f.url_error}",
                       target=VAR, remediation="Use the form rediss://default:<password>@<host>:6379/0.")]
    addr = f"{f.host}:{f.port}"
    target = f"{VAR} ({addr})"
    out = [_scheme(f, target)]
    if f.gate is not None and f.gate.refused:
        return out + [result("redis.host", SUB, Status.FAIL, refused_summary(VAR, f.gate), target=target,
                             evidence={"host_kind": f.host_kind, **f.gate.evidence()},
                             remediation=connection_fix(ErrorKind.HOST_REFUSED, f.host, f.port))]
    if f.host_kind != "public":
        out.append(_host(f, s, target))
    if f.ca_error:
        out.append(result("redis.ca_file", SUB, Status.FAIL, f"extra CA file unusable: {f.ca_error}",
                          target=target, remediation=fixes.fix("ca_file", endpoint(f.host, f.port))))
        return out
    if f.error_kind:
        out.append(_failure(f, addr, target))
        return out + ([_login_skipped(f, target)] if f.login_skipped else [])
    if f.login_skipped:
        return out + [_login_skipped(f, target)]
    if f.scheme == "rediss":
        out.append(_verify(f, target))
        out.append(_expiry(f, s, target))
    out.append(_auth(f, addr, target))
    if f.refused:
        out.append(result(
            "redis.permission", SUB, Status.WARN,
            f"the Redis user of REDIS_URL may not run {', '.join(c.upper() for c in f.refused)} "
            "(those facts are missing)",
            target=target, evidence={"refused": list(f.refused), "handshake": list(f.handshake)},
            remediation=permission_fix(f.refused),
        ))
    if "ping" not in f.refused:
        out.append(_ping(f, s, target))
    out.append(_version(f, s, target))
    out.append(_eviction(f, target))
    return out


def _login_skipped(f: RedisFacts, target: str) -> CheckResult:
    speaks = {"tls": "TLS", "resp": "plain-text Redis"}.get(f.port_speaks or "", "nothing recognised")
    return result(
        "redis.auth", SUB, Status.SKIP,
        "login not tried: REDIS_URL is plain redis://, so its password would cross the network unencrypted",
        target=target,
        evidence={"login_tried": False, "credentials_sent": False, "port_speaks": speaks,
                  "sent_without_credentials": ["TLS ClientHello", "PING"]},
        remediation="Use the rediss:// URL (Upstash console: Connect, TLS enabled). To log in to a plain-text "
        "Redis on a trusted network anyway, pass --allow-plaintext-auth (reported as a relaxation).",
    )


def _scheme(f: RedisFacts, target: str) -> CheckResult:
    if f.scheme == "rediss":
        return result("redis.tls", SUB, Status.PASS, "REDIS_URL uses TLS (rediss://)", target=target)
    return result(
        "redis.tls", SUB, Status.FAIL, "REDIS_URL uses plain redis:// (no TLS) in production", target=target,
        remediation="Use the rediss:// URL (Upstash console: Connect, TLS enabled); keep host, port and password.",
    )


def _host(f: RedisFacts, s: RedisSettings, target: str) -> CheckResult:
    ev: dict[str, EvidenceValue] = {"host_kind": f.host_kind}
    if s.allow_loopback:
        return result("redis.host", SUB, Status.PASS, f"{f.host_kind} Redis host allowed (--allow-loopback)",
                      target=target, evidence=ev | {"loopback_allowed": True})
    return result(
        "redis.host", SUB, Status.FAIL, f"REDIS_URL points at a {f.host_kind} host ({f.host}) in production",
        target=target, evidence=ev,
        remediation="Set REDIS_URL to the production Redis endpoint (Upstash), not a local or private address.",
    )


def _failure(f: RedisFacts, addr: str, target: str) -> CheckResult:
    kind = f.error_kind or ErrorKind.OTHER
    fmt = {"addr": addr, "host": f.host, "port": f.port, "db": f.db, "timeout": f.timeout_s,
           "refused": ", ".join(c.upper() for c in f.refused) or "a command"}
    rid, summary = _FAILURES.get(kind, _TLS_FALLBACK if f.stage == "tls" else _OTHER)
    if kind == ErrorKind.RESET:
        summary = _RESET_SUMMARY
    fix = connection_fix(kind, f.host, f.port, f.stage)
    if kind == "permission":
        fix = permission_fix(f.refused)
    if kind == "auth" and not f.has_password:
        summary = "Redis at {addr} requires a password but REDIS_URL has none"
        fix = ("Put the password in REDIS_URL: rediss://default:<password>@{host}:{port}/{db} (Upstash console: "
               "database, Connect).").format(**fmt)
    return result(
        rid, SUB, Status.FAIL, summary.format(**fmt), target=target, detail=f.error[:500], remediation=fix,
        evidence={"error_kind": kind, "stage": f.stage, "timeout_s": f.timeout_s,
                  "trusted_extra_ca": list(f.ca_sources), "handshake": list(f.handshake),
                  "credentials_sent": not f.login_skipped and f.has_password},
    )


def _verify(f: RedisFacts, target: str) -> CheckResult:
    ev: dict[str, EvidenceValue] = {"tls_version": f.tls_version, "trusted_extra_ca": list(f.ca_sources)}
    if f.insecure:
        return result(
            "redis.tls_verify", SUB, Status.WARN, "TLS certificate NOT verified (--insecure)", target=target,
            evidence=ev | {"verified": False},
            remediation=fixes.insecure_fix((CA_VAR,)),
        )
    return result("redis.tls_verify", SUB, Status.PASS, "certificate and host name verified",
                  target=target, evidence=ev | {"verified": True})


def _expiry(f: RedisFacts, s: RedisSettings, target: str) -> CheckResult:
    days = f.cert.days_left(s.now or datetime.now(UTC)) if f.cert else None
    if f.cert is None or f.cert.not_after is None or days is None:
        return result("redis.cert_expiry", SUB, Status.WARN, "could not read the server certificate's expiry",
                      target=target, remediation=f"Read it with: openssl s_client -connect {f.host}:{f.port} "
                      f"-servername {f.host} </dev/null | openssl x509 -noout -enddate")
    ev: dict[str, EvidenceValue] = {
        "not_after": f.cert.not_after.isoformat(), "days_left": days,
        "subject": f.cert.subject_cn or None, "issuer": f.cert.issuer_cn or None,
    }
    if days < 0:
        return result("redis.cert_expiry", SUB, Status.FAIL, f"server certificate expired {-days:g} days ago",
                      target=target, evidence=ev,
                      remediation=fixes.fix(ErrorKind.CERT_EXPIRED, endpoint(f.host, f.port)))
    if days < s.cert_warn_days:
        return result("redis.cert_expiry", SUB, Status.WARN, f"server certificate expires in {days:g} days",
                      target=target, evidence=ev,
                      remediation="Renew the server certificate (managed providers renew automatically; "
                      "confirm with them) before it expires.")
    return result("redis.cert_expiry", SUB, Status.PASS, f"server certificate valid for {days:g} more days",
                  target=target, evidence=ev)


def _auth(f: RedisFacts, addr: str, target: str) -> CheckResult:
    if not f.has_password:
        return result(
            "redis.auth", SUB, Status.FAIL, f"Redis at {addr} accepts connections without a password",
            target=target, evidence={"read_only_commands": list(f.commands), "handshake": list(f.handshake)},
            remediation="Require a password (requirepass or an ACL user) and put it in REDIS_URL.",
        )
    return result("redis.auth", SUB, Status.PASS, "AUTH accepted", target=target,
                  evidence={"read_only_commands": list(f.commands), "handshake": list(f.handshake)})


def _ping(f: RedisFacts, s: RedisSettings, target: str) -> CheckResult:
    ev: dict[str, EvidenceValue] = {"ping_ms_median": f.ping_ms}
    if f.ping_ms is not None and f.ping_ms > s.slow_ping_ms:
        return result(
            "redis.ping", SUB, Status.WARN, f"PING median {f.ping_ms:g} ms (over {s.slow_ping_ms:g} ms)",
            target=target, evidence=ev,
            remediation="Put Redis in the same region as the ECS services (Upstash: choose the AWS region).",
        )
    return result("redis.ping", SUB, Status.PASS, f"PING median {f.ping_ms:g} ms", target=target, evidence=ev)


def _version(f: RedisFacts, s: RedisSettings, target: str) -> CheckResult:
    ev: dict[str, EvidenceValue] = {"redis_version": f.version, "redis_mode": f.mode}
    try:
        major = int((f.version or "").split(".")[0])
    except ValueError:
        return result("redis.version", SUB, Status.WARN, "server did not report its version",
                      target=target, evidence=ev, remediation="Check the Redis version in the provider console.")
    if major < s.min_major_version:
        return result("redis.version", SUB, Status.WARN, f"Redis {f.version} is older than {s.min_major_version}.0",
                      target=target, evidence=ev, remediation="Upgrade Redis to 6.2 or newer.")
    return result("redis.version", SUB, Status.PASS, f"Redis {f.version}", target=target, evidence=ev)


def _eviction(f: RedisFacts, target: str) -> CheckResult:
    policy = f.config_policy or f.info_policy
    source = "CONFIG GET" if f.config_policy else ("INFO memory" if f.info_policy else None)
    ev: dict[str, EvidenceValue] = {
        "maxmemory_policy": policy, "source": source, "config_allowed": f.config_error is None,
        "maxmemory": f.maxmemory,
    }
    if policy is None:
        return result(
            "redis.eviction", SUB, Status.WARN,
            "eviction policy unknown: CONFIG is refused and INFO memory does not report it",
            target=target, evidence=ev, remediation=f"Check it in the provider console. {EVICTION_FIX}",
        )
    if policy == SAFE_POLICY:
        return result("redis.eviction", SUB, Status.PASS, f"maxmemory-policy is noeviction (from {source})",
                      target=target, evidence=ev)
    if policy.startswith("volatile-"):
        return result(
            "redis.eviction", SUB, Status.WARN,
            f"maxmemory-policy is {policy}: keys with a TTL may be evicted under memory pressure",
            target=target, evidence=ev, remediation=EVICTION_FIX,
        )
    return result(
        "redis.eviction", SUB, Status.FAIL, f"maxmemory-policy is {policy}: queued jobs can be evicted",
        target=target, evidence=ev, remediation=EVICTION_FIX,
    )
