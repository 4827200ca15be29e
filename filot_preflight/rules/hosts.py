"""Host classification and the host policy: is a host a production (public) endpoint, and may a probe reach it?

`classify_host` reads a host literally (names are not resolved here). `decide` is the policy every probe
applies before it connects (`net.host_gate` resolves the name and calls it): a host refused by its literal
form or by any address it resolves to gets nothing, neither a credential nor a request.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

from filot_preflight.models import EvidenceValue

HOST_CLASSES = {
    "metadata": "a cloud instance-metadata address",
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
# Cloud instance-metadata and credential endpoints (AWS IMDS and ECS task credentials, EKS pod identity,
# Alibaba, Azure's wire server): a request there can hand out the machine's own credentials.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.170.23", "fd00:ec2::254", "fd00:ec2::23", "100.100.100.200",
    "168.63.129.16",
))
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
        if ip in METADATA_ADDRESSES:
            return "metadata"
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


# --- the policy ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HostCheck:
    """What the pre-connect gate found about one host: its class, the addresses it resolved to, and whether
    the probe may connect. Plain data (facts carry it to the judges)."""

    host: str
    host_class: str | None = None  # a HOST_CLASSES key (the strictest seen), None: public
    addresses: tuple[str, ...] = ()
    refused: bool = False
    reason: str = ""  # why nothing was sent (refused), or what let it through ("--allow-loopback")

    @property
    def kind(self) -> str:
        """'public', 'loopback', 'metadata' or 'private' (every other class), for one-line summaries."""
        if self.host_class is None:
            return "public"
        return self.host_class if self.host_class in ("loopback", "metadata") else "private"

    def evidence(self) -> dict[str, EvidenceValue]:
        """Evidence for a result: the class, the resolved addresses and, when refused, that nothing was sent."""
        ev: dict[str, EvidenceValue] = {"host_class": self.host_class, "resolved_to": list(self.addresses)}
        if self.refused:
            ev |= {"contacted": False, "credentials_sent": False, "why_not_contacted": self.reason}
        return ev


def _strictest(classes: list[str | None]) -> str | None:
    order = list(HOST_CLASSES)  # metadata first, then loopback, ...
    found = [c for c in classes if c is not None]
    return min(found, key=order.index) if found else None


def decide(host: str, addresses: tuple[str, ...] | None, *, allow_loopback: bool, lookup: str = "") -> HostCheck:
    """The host policy for one host, from its literal form and the addresses it resolved to (pure).

    `addresses` None: not resolved, `lookup` says why ("timeout" refuses: its addresses are unknown; "failed":
    the name does not resolve, so nothing can be sent and the probe reports its own DNS failure).
    Refused: a metadata address (always), any other non-public class without `allow_loopback`.
    """
    literal = classify_host(host)
    if host.startswith("/") or host.startswith("@"):  # a Unix-domain socket (libpq): this machine
        literal = "loopback"
    by_address = {a: classify_host(a) for a in addresses or ()}
    cls = _strictest([literal, *by_address.values()])
    addrs = tuple(addresses or ())
    if cls == "metadata":
        hit = host if literal == "metadata" else next(a for a, c in by_address.items() if c == "metadata")
        why = f"{host} is" if literal == "metadata" else f"{host} resolves to {hit},"
        return HostCheck(host, cls, addrs, True, f"{why} {HOST_CLASSES['metadata']}: never contacted, not even "
                         "with --allow-loopback")
    if cls is not None and not allow_loopback:
        if literal == cls:
            why = f"{host} is {HOST_CLASSES[cls]}"
        else:
            hit = next(a for a, c in by_address.items() if c == cls)
            why = f"{host} resolves to {hit}, {HOST_CLASSES[cls]}"
        return HostCheck(host, cls, addrs, True, f"{why}: not contacted without --allow-loopback")
    if addresses is None and lookup == "timeout":
        return HostCheck(host, cls, (), True, f"{host} did not resolve in time, so the addresses it names could "
                         "not be checked: not contacted")
    return HostCheck(host, cls, addrs, False, "--allow-loopback" if cls is not None else "")
