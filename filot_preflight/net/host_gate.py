"""The pre-connect host gate: every probe asks it before opening a connection that carries a credential or a
request, and sends nothing to a host it refuses.

The policy is `rules.hosts.decide`: a host is refused when its literal form (`127.1`, `2130706433`,
`localhost.`, `[::1]`, `169.254.169.254`, a single-label or `.internal` name, ...) or ANY address its name
resolves to is loopback, private, link-local, unspecified, reserved or a cloud metadata address, unless
`--allow-loopback` (a sandbox run) allows it; metadata addresses are refused even then. Resolving here as
well catches a public-looking name whose DNS answer points at 127.0.0.1 or 169.254.169.254 (DNS rebinding).

The lookup is bounded (getaddrinfo has no timeout of its own: it runs in a daemon thread that is abandoned
when its time is up) and never runs on the event loop (`check_host` hands the whole gate to a thread).
"""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING

from filot_preflight.rules.hosts import HostCheck, classify_host, decide

if TYPE_CHECKING:
    from filot_preflight.checkers.base import CheckContext

__all__ = ["HostCheck", "HostRefused", "check_host", "check_host_sync", "check_hosts_sync", "lookup"]

# The share of a checker's budget the lookup may take: the connection itself needs the rest.
LOOKUP_SHARE = 0.5


class HostRefused(Exception):
    """Raised where a refusal cannot be returned as a fact (a client factory): carries the gate's finding."""

    def __init__(self, check: HostCheck) -> None:
        super().__init__(check.reason)
        self.check = check


def lookup(host: str, timeout: float) -> tuple[tuple[str, ...] | None, str]:
    """The addresses `host` resolves to, bounded by `timeout`: (addresses, ''), (None, 'failed'), (None, 'timeout')."""
    found: dict[str, tuple[str, ...] | None] = {}
    done = threading.Event()

    def run() -> None:
        try:
            infos = socket.getaddrinfo(host, None, 0, socket.SOCK_STREAM)
            found["addrs"] = tuple(sorted({str(i[4][0]).split("%", 1)[0] for i in infos}))
        except (OSError, UnicodeError, ValueError):
            found["addrs"] = None
        finally:
            done.set()

    threading.Thread(target=run, daemon=True, name="host-gate-lookup").start()
    if not done.wait(max(timeout, 0.05)):
        return None, "timeout"
    addrs = found.get("addrs")
    return (addrs, "") if addrs else (None, "failed")


def check_host_sync(host: str, *, allow_loopback: bool, timeout: float) -> HostCheck:
    """The gate for one host (blocking, at most `timeout` for the lookup). A refused literal is not resolved."""
    h = host.strip().strip("[]")
    first = decide(h, (), allow_loopback=allow_loopback)
    if first.refused or h.startswith(("/", "@")):
        return first  # refused by its literal form (or a Unix socket): nothing to resolve
    if classify_host(h) is not None and _is_address(h):
        return first  # an address allowed by --allow-loopback: it names itself
    addrs, why = lookup(h, timeout)
    return decide(h, addrs, allow_loopback=allow_loopback, lookup=why)


def check_hosts_sync(hosts: list[str], *, allow_loopback: bool, timeout: float) -> HostCheck:
    """The gate for several hosts a client may try in turn (libpq's host=a,b): the first refusal, else the first."""
    checks = [check_host_sync(h, allow_loopback=allow_loopback, timeout=timeout) for h in hosts if h]
    return next((c for c in checks if c.refused), checks[0] if checks else HostCheck(""))


async def check_host(ctx: CheckContext, host: str, *more: str) -> HostCheck:
    """The gate for `host` (and any further hosts) under the run's --allow-loopback, within the checker's budget.

    Runs in a daemon thread (never on the event loop); the lookup takes at most LOOKUP_SHARE of what is left.
    """
    budget = ctx.budget()
    timeout = budget.step(budget.left() * LOOKUP_SHARE)
    return await ctx.blocking(check_hosts_sync, [host, *more], allow_loopback=ctx.options.allow_loopback,
                              timeout=timeout)


def _is_address(h: str) -> bool:
    """Whether `h` is an IP address in any form inet_aton / ip_address accept (127.1 and 2130706433 too)."""
    try:
        socket.inet_aton(h)
        return True
    except OSError:
        pass
    try:
        socket.inet_pton(socket.AF_INET6, h.split("%", 1)[0])
        return True
    except OSError:
        return False
