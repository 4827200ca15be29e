"""The fixes for a failed Redis connection, shared by the redis and gpu_worker checkers (same REDIS_URL).

Plain text, no I/O: judges import it.
"""

from __future__ import annotations

from filot_preflight.net import fixes
from filot_preflight.net.fixes import Endpoint, credentials_fix
from filot_preflight.net.kinds import ErrorKind

VAR = "REDIS_URL"
CA_VAR = "REDIS_TLS_CA_FILE"
_OWN_FIXES = {
    "auth": credentials_fix(VAR, "password (and user, if any)", "the Upstash console (database page, Connect)"),
}
# What the probe sends: AUTH needs no grant; SELECT only for a database other than 0; CONFIG GET is optional.
MINIMAL_GRANTS = "+ping +info"


def permission_fix(refused: tuple[str, ...] | list[str], user: str = "<user>") -> str:
    """The exact ACL grant for the refused commands (and the documented minimal set)."""
    grant = " ".join(f"+{c}" for c in refused) or MINIMAL_GRANTS
    return (f"Grant the ACL user of REDIS_URL the refused command(s): ACL SETUSER {user} {grant} (or the "
            f"provider's ACL settings). The redis checker needs only {MINIMAL_GRANTS} (+select for a database "
            "other than 0); it sends no HELLO and no CLIENT SETNAME. See docs/checks/redis.md.")


def endpoint(host: str | None, port: int | None) -> Endpoint:
    """REDIS_URL's endpoint for the shared fix table."""
    return Endpoint(
        VAR, "Redis", host=host or "", port=port, source="the Upstash console (database page, Connect)",
        default_port="Upstash: 6379",
        tls_switch="change the scheme of REDIS_URL to rediss:// (same host, port and password)",
        ca_vars=(CA_VAR,), managed_by="Upstash",
        notes={"not_tls": "Self-hosted: add tls-port (with tls-cert-file and tls-key-file) to redis.conf."},
    )


def connection_fix(kind: str, host: str | None, port: int | None, stage: str | None = None) -> str:
    """The fix for a failed Redis connection of `kind` (also the gpu_worker checker's, on the same Redis)."""
    if kind in _OWN_FIXES:
        return _OWN_FIXES[kind]
    if kind == "permission":
        return permission_fix(())
    # The fix follows the kind when the shared table knows it (a reset, a certificate problem), else the stage.
    fix_kind = "no_answer" if kind == ErrorKind.TIMEOUT else kind
    if fixes.canonical(fix_kind) == "other":
        fix_kind = "tls_error" if stage == "tls" else "other"
    return fixes.fix(fix_kind, endpoint(host, port))
