"""Connection strings of the postgres checker: their non-secret parts (`DsnInfo`), parsed by libpq's rules.

A DSN that libpq cannot parse is described in our own words, because psycopg's message repeats the
whole DSN, password included. psycopg is imported inside `parse_dsn`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]{0,30}$")


@dataclass(frozen=True)
class DsnInfo:
    """The non-secret parts of a connection string (never the password)."""

    host: str
    port: str = "5432"
    dbname: str = ""
    user: str = ""
    sslmode: str | None = None
    sslrootcert: str | None = None
    hostaddr: str | None = None
    # Every host and hostaddr of the DSN: libpq tries them in turn, so the host gate checks them all.
    all_hosts: tuple[str, ...] = ()

    @property
    def neon(self) -> bool:
        """Whether the host is a Neon endpoint."""
        return self.host.lower().endswith(".neon.tech")

    @property
    def pooled(self) -> bool:
        """Neon's pooled (PgBouncer) endpoints carry `-pooler` at the end of the first label."""
        return self.host.split(".", 1)[0].lower().endswith("-pooler")


def parse_dsn(raw: str) -> tuple[DsnInfo | None, str | None]:
    """(info, None) or (None, a message of ours). Never lets libpq's text (which echoes the DSN) through."""
    from psycopg.conninfo import conninfo_to_dict

    text = raw.strip()
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in ("postgresql", "postgres"):
            shown = f"'{scheme}'" if _SCHEME.match(scheme) else "unknown"
            return None, f"scheme {shown} is not a libpq URL scheme (use postgresql://)"
    try:
        params = conninfo_to_dict(text)
    except Exception:  # noqa: BLE001 - its message contains the password; describe it ourselves
        return None, "libpq cannot parse it (check quoting, the port and percent-encoding of the password)"
    host = str(params.get("host") or "").split(",")[0]
    if not host:
        return None, "it names no host"
    port = str(params.get("port") or "5432").split(",")[0]
    if not port.isdigit():
        return None, "the port is not a number"
    return (
        DsnInfo(
            host=host,
            port=port,
            dbname=str(params.get("dbname") or ""),
            user=str(params.get("user") or ""),
            sslmode=_opt(params.get("sslmode")),
            sslrootcert=_opt(params.get("sslrootcert")),
            hostaddr=_opt(params.get("hostaddr")),
            all_hosts=tuple(h.strip() for k in ("host", "hostaddr") for h in str(params.get(k) or "").split(",")
                            if h.strip()),
        ),
        None,
    )


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
