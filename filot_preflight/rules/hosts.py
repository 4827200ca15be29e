"""Host classification: is a host (name or address, never resolved) a production (public) endpoint?"""

from __future__ import annotations

import ipaddress
import re
import socket

HOST_CLASSES = {
    "loopback": "a loopback address",
    "unspecified": "an unspecified address (0.0.0.0 / ::)",
    "link-local": "a link-local address",
    "private": "a private-network address",
    "reserved": "a reserved, non-public address",
    "local-name": "a local-network name",
    "single-label": "a single-label name that only resolves inside a private network",
}
_LOOPBACK_NAMES = {"localhost", "ip6-localhost", "ip6-loopback", "localhost.localdomain"}
_LOCAL_SUFFIXES = (".local", ".internal", ".localdomain", ".lan", ".home.arpa", ".intranet")
_LEGACY_V4 = re.compile(r"(?:0x[0-9a-f]+|[0-9]+)(?:\.(?:0x[0-9a-f]+|[0-9]+)){0,3}")


def classify_host(host: str) -> str | None:
    """A key of HOST_CLASSES when `host` is not a public address, else None. Names are not resolved."""
    h = host.strip().lower().rstrip(".")
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    h = h.split("%", 1)[0]  # IPv6 zone id (fe80::1%eth0)
    if not h:
        return None
    if h in _LOOPBACK_NAMES or h.endswith(".localhost"):
        return "loopback"
    ip = _parse_ip(h)
    if ip is not None:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        for cls, hit in (
            ("loopback", ip.is_loopback),
            ("unspecified", ip.is_unspecified),
            ("link-local", ip.is_link_local),
            ("private", ip.is_private),
            ("reserved", not ip.is_global or ip.is_multicast or ip.is_reserved),
        ):
            if hit:
                return cls
        return None
    if h.endswith(_LOCAL_SUFFIXES):
        return "local-name"
    return "single-label" if "." not in h else None


def _parse_ip(h: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(h)
    except ValueError:
        pass
    # inet_aton's legacy forms (127.1, 0x7f.1, 2130706433) still reach loopback in most clients.
    if _LEGACY_V4.fullmatch(h):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(h))
        except (OSError, ValueError):
            return None
    return None
