"""The fix table: one remediation per connection failure kind, shared by every network checker.

A refused connection, an unknown CA or an expired certificate needs the same action whether the endpoint
is Redis, Postgres, Temporal, R2, AWS or an HTTP API; only the variable, the service and where the right
value comes from differ. A checker describes its endpoint once (`Endpoint`) and asks `fix(kind, endpoint)`;
its result ids and summaries stay its own. Fixes name variables and hosts, never values: nothing here ever
sees a password, key or token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from filot_preflight.rules.hosts import HOST_CLASSES, HostCheck

CA_FLAGS = "--ca-file / PREFLIGHT_CA_FILE"

# Every spelling the probes use -> the kind of the table (ErrorKind names, the coarse postgres/r2 kinds,
# the redis/temporal names, http's read_timeout, net.aws's problem kinds).
ALIASES: dict[str, str] = {
    "connect_timeout": "unreachable",
    "read_timeout": "no_answer",
    "tls_on_plain": "not_tls",
    "closed": "reset",
    "tls": "unknown_ca",
    "tls_ca": "unknown_ca",
    "tls_hostname": "hostname_mismatch",
    "tls_expired": "cert_expired",
}


@dataclass(frozen=True)
class Endpoint:
    """What a fix names: the variable that holds the endpoint, what should answer there, and where from.

    `notes` adds a provider's own sentence to a kind's fix (e.g. Neon's IP Allow list for a timeout).
    """

    var: str  # the variable (or flag) that sets the endpoint, e.g. "REDIS_URL"
    service: str  # what should answer there, e.g. "Redis", "the Temporal frontend"
    host: str = ""
    port: int | str | None = None
    source: str = ""  # where the right endpoint is copied from, e.g. "the Upstash console (Connect)"
    default_port: str = ""  # e.g. "Neon: 5432"
    tls_switch: str = ""  # how the client side turns TLS on (for a plain connection to a TLS port)
    ca_vars: tuple[str, ...] = ()  # service-specific trusted-CA settings besides --ca-file / PREFLIGHT_CA_FILE
    managed_by: str = ""  # a provider whose certificates are public and renewed by itself, e.g. "Upstash"
    notes: Mapping[str, str] = field(default_factory=dict)

    @property
    def addr(self) -> str:
        """host:port, the host alone, or 'the host in VAR' when the judge does not know it."""
        if self.host and self.port:
            return f"{self.host}:{self.port}"
        return self.host or f"the host in {self.var}"


def _tpl(ep: Endpoint) -> dict[str, str]:
    """The pieces every template may use."""
    m = ep.managed_by
    return {
        "var": ep.var,
        "service": ep.service,
        "addr": ep.addr,
        "host": ep.host or "that host name",
        "host_name": ep.host or f"in {ep.var}",
        "hp": f"{ep.host}:{ep.port}" if ep.host and ep.port else "<host>:<port>",
        "sni": ep.host or "<host>",
        "from": f", copying it again from {ep.source}," if ep.source else "",
        "given": f", as {ep.source} gives it" if ep.source else "",
        "port_hint": f" ({ep.default_port})" if ep.default_port else "",
        "ca": CA_FLAGS + (f" (or {' / '.join(ep.ca_vars)})" if ep.ca_vars else ""),
        "tls_switch": ep.tls_switch or f"use the TLS form of {ep.var} (same host and port)",
        "intercept": f" {m}'s certificates are publicly trusted: seeing this against {m} means a TLS-intercepting "
        "proxy is in the path (bypass it, or trust its CA with --ca-file)." if m else "",
        "self_renew": f" {m} renews its own certificates: against {m} this means {ep.var} does not reach the real "
        "endpoint, so check its host." if m else "",
    }


_TABLE: dict[str, str] = {
    "dns": "The host name {host_name} does not resolve: correct the host in {var}{from} and check that this "
    "network resolves public DNS names (VPC DNS resolution, /etc/resolv.conf).",
    "refused": "Nothing accepts connections on {addr} (connection refused): check the port in {var}{port_hint}, "
    "that {service} is running and listening there, and that no firewall or security group rejects connections "
    "from here.",
    "unreachable": "No TCP connection to {addr} (packets dropped, or no route): allow egress from here to {addr} "
    "in the firewall, security group and VPC routes (NAT, proxy), and check host and port in {var}.",
    "no_answer": "{addr} accepts connections but never answers: check that the port in {var}{port_hint} is "
    "{service}'s and not another service or a stuck proxy, and that the server is not hung (read its logs); "
    "raise --timeout only if it is merely slow.",
    "handshake_timeout": "{addr} accepted the TCP connection but never answered the TLS handshake: the port in "
    "{var} probably speaks plain text (a service waiting for its own protocol) or a proxy is stuck; point {var} at "
    "{service}'s TLS port{port_hint}.",
    "timeout": "No answer from {addr} within --timeout: allow egress from here to {addr} (firewall, security "
    "group, VPC routes), check that the port in {var}{port_hint} is {service}'s, and that the server is not hung "
    "or overloaded; raise --timeout only if it is merely slow.",
    "reset": "{addr} closed the connection without an answer: {service} crashed or restarted mid-request, or a "
    "proxy or load balancer in front of it dropped the connection. Check that {service} is running and healthy "
    "(its logs, the provider's status page) and that the port in {var} is its port, then run again.",
    "not_tls": "{addr} does not speak TLS on that port: point {var} at {service}'s TLS port{port_hint}, or enable "
    "TLS on the server; do not turn TLS off in production.",
    "plain_on_tls": "{addr} requires TLS but the connection was plain text: {tls_switch}.",
    "unknown_ca": "The certificate of {addr} does not chain to a CA this machine trusts: for a private CA, pass "
    "its CA bundle with {ca}; for a public certificate, make the server send its full chain (with the "
    "intermediates).{intercept}",
    "hostname_mismatch": "The certificate of {addr} is not valid for {host}: put the host name the certificate "
    "was issued for in {var}{given} (not an IP address or an alias), or reissue the certificate with {host} in "
    "its subjectAltName.",
    "cert_expired": "The certificate of {addr} has expired: renew it on the server and automate renewal "
    "(certbot, ACM, the provider's managed certificates).{self_renew} If its expiry date is still ahead, this "
    "machine's clock is wrong: sync it (NTP / chrony).",
    "cert_not_yet_valid": "The certificate of {addr} is not valid yet: sync this machine's clock (NTP / chrony); "
    "if the clock is right, reissue the certificate with a correct start date.",
    "cert_invalid": "The certificate of {addr} failed verification (revoked, wrong key usage or malformed): serve "
    "a valid certificate for its host name with its full chain; `openssl s_client -connect {hp} -servername {sni}` "
    "shows what the server sends.",
    "tls_error": "The TLS handshake with {addr} failed: check that the port in {var} is {service}'s TLS port and "
    "that the server offers TLS 1.2 or newer; `openssl s_client -connect {hp} -servername {sni}` shows the "
    "server's side of the handshake.",
    "ca_file": "The extra CA file ({ca}) cannot be read: point it at an existing, readable PEM CA bundle, or "
    "unset it when the server's certificate is publicly trusted.",
    "host_refused": "{var} points at {host}, a loopback, private, link-local or cloud metadata address (by its "
    "own form or by what it resolves to), so nothing was sent there: set {var} to {service}'s production "
    "endpoint{from}. For a sandbox on this machine pass --allow-loopback (reported as a relaxation); cloud "
    "metadata addresses are refused even then.",
    "other": "Connecting to {service} at {addr} failed in a way preflight does not recognise (the redacted error "
    "is in the detail): check host, port and scheme in {var}{from} and that {service} runs there, then run "
    "again with -v.",
}
KINDS = tuple(_TABLE)


def canonical(kind: str | None) -> str:
    """The table's kind for any spelling a probe uses; unknown kinds are 'other'."""
    k = ALIASES.get(kind or "", kind or "other")
    return k if k in _TABLE else "other"


def fix(kind: str | None, ep: Endpoint) -> str:
    """The remediation for a connection failure of `kind` at `ep`, with the provider's note if any."""
    k = canonical(kind)
    text = _TABLE[k].format(**_tpl(ep))
    note = ep.notes.get(k)
    if text.startswith("the "):  # "the host in VAR ..."; a host name itself keeps its case
        text = "T" + text[1:]
    return f"{text} {note}" if note else text


def insecure_fix(ca_vars: tuple[str, ...] = ()) -> str:
    """The fix for a run that did not verify certificates (the same in every checker)."""
    extra = f" (or {' / '.join(ca_vars)})" if ca_vars else ""
    return (f"Drop --insecure / PREFLIGHT_INSECURE: with verification off nothing proves the server's identity. "
            f"Trust a private CA with {CA_FLAGS}{extra} instead.")


def credentials_fix(var: str, what: str, source: str, extra: str = "") -> str:
    """The fix for credentials a service rejected: where the current ones come from, and where they go."""
    more = f" {extra}" if extra else ""
    return (f"Copy the current {what} from {source} into {var} (it changes whenever it is reset or rotated), and "
            f"update the same secret in Secrets Manager so the ECS services get it too.{more}")


def refused_summary(var: str, check: HostCheck) -> str:
    """The one-line summary of a host the pre-connect gate refused (net.host_gate): what it is, nothing sent."""
    what = HOST_CLASSES.get(check.host_class or "", "an address that could not be checked")
    return f"{var} points at {what} ({check.reason}); nothing was sent to it"
