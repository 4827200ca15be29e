"""Names of connection failure modes, shared by probes (which classify) and judges (which explain). No I/O."""

from __future__ import annotations


class ErrorKind:
    """Stable names of connection failure modes (strings, so facts stay plain data)."""

    DNS = "dns"  # the host name does not resolve
    REFUSED = "refused"  # nothing listens on the port
    CONNECT_TIMEOUT = "connect_timeout"  # no TCP answer at all (firewall, wrong host)
    UNREACHABLE = "unreachable"  # no route to the network / host
    RESET = "reset"  # the peer closed or reset the connection
    HANDSHAKE_TIMEOUT = "handshake_timeout"  # TCP accepted, TLS handshake got no answer in time
    NOT_TLS = "not_tls"  # the peer answered the handshake with something that is not TLS
    UNKNOWN_CA = "unknown_ca"  # certificate chain does not lead to a trusted CA
    HOSTNAME_MISMATCH = "hostname_mismatch"  # certificate is not valid for the name we connected to
    CERT_EXPIRED = "cert_expired"
    CERT_NOT_YET_VALID = "cert_not_yet_valid"
    CERT_INVALID = "cert_invalid"  # another verification failure (revoked, bad usage, ...)
    TLS_ERROR = "tls_error"  # any other handshake failure
    HOST_REFUSED = "host_refused"  # the host policy refused the host (net.host_gate): nothing was sent
    TIMEOUT = "timeout"  # a timeout at an unknown stage
    OTHER = "other"


# ErrorKind -> the coarser kinds of checkers with one result per failure class (postgres, r2): every
# timeout stage is "timeout", every certificate problem one of tls_ca / tls_hostname / tls_expired.
COARSE_KINDS: dict[str, str] = {
    ErrorKind.DNS: "dns",
    ErrorKind.REFUSED: "refused",
    ErrorKind.CONNECT_TIMEOUT: "timeout",
    ErrorKind.HANDSHAKE_TIMEOUT: "timeout",
    ErrorKind.TIMEOUT: "timeout",
    ErrorKind.UNKNOWN_CA: "tls_ca",
    ErrorKind.CERT_INVALID: "tls_ca",
    ErrorKind.HOSTNAME_MISMATCH: "tls_hostname",
    ErrorKind.CERT_EXPIRED: "tls_expired",
    ErrorKind.CERT_NOT_YET_VALID: "tls_expired",
}
