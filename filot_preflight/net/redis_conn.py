"""Redis connection helpers shared by the redis and gpu_worker checkers.

`parse_url` turns REDIS_URL into an `Endpoint` (no secret in its repr); `connect` builds a redis-py
client whose every step is bounded, which never retries (a retry would multiply the timeout) and
whose only handshake is `AUTH` (+ `SELECT` for a database other than 0): RESP2, no `HELLO`, no
`CLIENT SETNAME` / `SETINFO`, so a least-privilege ACL user is not refused before its first command;
`resp_answers` tells whether a port speaks plain RESP; `plaintext_login` says when credentials must not
be sent. redis-py is imported lazily, inside functions.
"""

from __future__ import annotations

import inspect
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from filot_preflight.checkers.base import Budget
from filot_preflight.net import tls as _tls
from filot_preflight.net.redis_fixes import CA_VAR as CA_VAR

if TYPE_CHECKING:
    import redis

    from filot_preflight.checkers.base import CheckContext

DEFAULT_PORT = 6379
SCHEMES = ("redis", "rediss")


@dataclass(frozen=True)
class Endpoint:
    """A parsed REDIS_URL. The password is kept out of repr; never put it in a fact or result."""

    scheme: str
    host: str
    port: int
    db: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def tls(self) -> bool:
        """Whether the URL asks for TLS (`rediss://`)."""
        return self.scheme == "rediss"

    @property
    def address(self) -> str:
        """host:port, for targets and evidence."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


class UrlError(ValueError):
    """REDIS_URL is not a usable Redis URL. The message never contains the URL itself."""


def parse_url(url: str) -> Endpoint:
    """Parse `redis[s]://[user[:password]@]host[:port][/db][?db=N]`; raise UrlError without echoing it."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise UrlError("not a valid URL (bad port or brackets)") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        shown = scheme if scheme.isalnum() and len(scheme) < 20 else "?"
        raise UrlError(f"scheme {shown!r} is not redis:// or rediss://")
    if not parts.hostname:
        raise UrlError("no host in URL")
    db_text = parts.path.lstrip("/") or parse_qs(parts.query).get("db", ["0"])[0]
    if not db_text.isdigit():
        raise UrlError("database number in the URL path is not an integer")
    return Endpoint(
        scheme=scheme,
        host=parts.hostname,
        port=port or DEFAULT_PORT,
        db=int(db_text),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


@dataclass(frozen=True)
class TrustedCas:
    """Extra CA files to trust for Redis TLS and where each came from; `error` if one is unusable."""

    files: list[Path]
    sources: list[str]
    error: str | None = None


def trusted_cas(ctx: CheckContext, service: str = "backend") -> TrustedCas:
    """`--ca-file` / PREFLIGHT_CA_FILE plus REDIS_TLS_CA_FILE (as `service` sees it), both added to the
    system trust store, never replacing it."""
    files: list[Path] = []
    sources: list[str] = []
    if ctx.options.ca_file is not None:
        files.append(Path(ctx.options.ca_file))
        sources.append("--ca-file")
    extra = ctx.value(CA_VAR, service)
    if extra:
        files.append(Path(extra))
        sources.append(CA_VAR)
    for f, src in zip(files, sources, strict=True):
        if not f.is_file():
            return TrustedCas([], sources, f"{src} {f} is not a readable file")
    return TrustedCas(files, sources)


def plaintext_login(ep: Endpoint, allow_plaintext_auth: bool) -> bool:
    """Whether connecting to `ep` would send a password (or user name) without TLS, and that is refused.

    Only `--allow-plaintext-auth` lets a `redis://` URL with credentials log in: otherwise the probe
    stops at reachability and "does the port speak TLS?", both without credentials.
    """
    return not ep.tls and (ep.password is not None or ep.username is not None) and not allow_plaintext_auth


def handshake_commands(ep: Endpoint) -> list[str]:
    """What `connect`'s client sends before the first command (for evidence and docs)."""
    out = ["AUTH"] if ep.password is not None else []
    return out + (["SELECT"] if ep.db else [])


def _no_client_info() -> dict[str, Any]:
    """redis-py arguments that disable `CLIENT SETINFO` (its spelling changed in redis-py 7)."""
    import redis

    if "driver_info" in inspect.signature(redis.Redis.__init__).parameters:
        return {"driver_info": None}
    return {"lib_name": None, "lib_version": None}


def connect(
    ep: Endpoint, *, ca_files: list[Path], insecure: bool, timeout: float
) -> redis.Redis:
    """A redis-py client for `ep`: TLS verified (system CAs + `ca_files`, hostname checked) unless
    `insecure`; connect and socket timeouts set (a TLS handshake with a plain server otherwise hangs);
    no retries; replies as bytes so queue payloads are read exactly; RESP2 with no client name, so the
    only handshake is AUTH (+ SELECT): a provider ACL need not grant HELLO or CLIENT. Lazy: nothing
    connects until the first command, so connection errors surface there.
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    kwargs: dict[str, Any] = {}
    if ep.tls:
        kwargs = {
            "ssl": True,
            "ssl_check_hostname": not insecure,
            "ssl_cert_reqs": "none" if insecure else "required",
            "ssl_ca_data": _tls.read_ca_data(ca_files),
        }
    return redis.Redis(
        host=ep.host,
        port=ep.port,
        db=ep.db,
        username=ep.username,
        password=ep.password,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        protocol=2,
        **_no_client_info(),
        **kwargs,
    )


def resp_answers(host: str, port: int, timeout: float) -> bool:
    """Whether a plain-text PING gets any RESP reply (+PONG, -NOAUTH, -ERR ...): a plain Redis port."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"PING\r\n")
            first = s.recv(1)
    except OSError:
        return False
    return first in (b"+", b"-", b"%", b"$", b"*")


# The probe's whole time budget: the checker's own (`CheckContext.budget()`), kept under its old name.
Deadline = Budget


_REFUSED_COMMAND = re.compile(r"permissions? to (?:run|access) the '([^']{1,60})' command", re.I)


def refused_command(exc: BaseException) -> str | None:
    """The command an ACL refused (`config|get`, `ping` ...), from Redis's NOPERM message."""
    m = _REFUSED_COMMAND.search(str(exc))
    return m.group(1).lower() if m else None


def acl_grant(commands: list[str]) -> str:
    """The ACL rules that allow `commands` (`+ping +client|list`)."""
    return " ".join(f"+{c.lower().replace(' ', '|')}" for c in commands)


def error_kind(exc: BaseException) -> str:
    """An ErrorKind for a redis-py exception, plus the Redis-specific `auth` and `permission` kinds."""
    import redis.exceptions as rex

    if isinstance(exc, rex.AuthenticationError):
        return "auth"
    if isinstance(exc, rex.NoPermissionError):
        return "permission"
    if isinstance(exc, rex.TimeoutError):
        kind = _tls.classify(exc)
        return kind if kind != _tls.ErrorKind.OTHER else _tls.ErrorKind.TIMEOUT
    return _tls.classify(exc)
