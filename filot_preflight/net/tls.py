"""TLS helpers any checker may reuse: contexts, a bounded handshake probe, error kinds, certificate expiry.

Everything here is blocking and bounded by an explicit timeout; call it through `ctx.blocking` inside
`asyncio.wait_for`. Nothing here knows about a particular service, and nothing imports a driver.
Error kinds are short stable strings (`ErrorKind`) that judges map to result ids and fixes.
"""

from __future__ import annotations

import errno
import functools
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from filot_preflight.fileio import read_pem

# Re-exported: checkers reach every TLS/certificate helper through this module.
from filot_preflight.net.kinds import COARSE_KINDS as COARSE_KINDS
from filot_preflight.net.kinds import ErrorKind as ErrorKind
from filot_preflight.net.x509 import CertInfo as CertInfo
from filot_preflight.net.x509 import cert_from_der as cert_from_der
from filot_preflight.net.x509 import cert_from_pem as cert_from_pem
from filot_preflight.net.x509 import der_common_names as der_common_names
from filot_preflight.net.x509 import der_validity as der_validity
from filot_preflight.rules.hosts import classify_host

# OpenSSL X509_V_ERR_* codes (stable across OpenSSL 1.1 and 3.x).
_VERIFY_CODES = {
    2: ErrorKind.UNKNOWN_CA,  # unable to get issuer certificate
    9: ErrorKind.CERT_NOT_YET_VALID,
    10: ErrorKind.CERT_EXPIRED,
    18: ErrorKind.UNKNOWN_CA,  # self-signed certificate
    19: ErrorKind.UNKNOWN_CA,  # self-signed certificate in chain
    20: ErrorKind.UNKNOWN_CA,  # unable to get local issuer certificate
    21: ErrorKind.UNKNOWN_CA,  # unable to verify the first certificate
    62: ErrorKind.HOSTNAME_MISMATCH,
    64: ErrorKind.HOSTNAME_MISMATCH,  # IP address mismatch
}

# Text fallbacks for drivers that only hand back a message (psycopg, grpc, wrapped redis errors).
# Order matters: the more specific phrase first.
_TEXT_RULES: tuple[tuple[str, str], ...] = (
    # rustls (temporalio, other Rust-backed clients) spells its verification errors in CamelCase
    ("notvalidforname", ErrorKind.HOSTNAME_MISMATCH),
    ("invalidcertificate(expired", ErrorKind.CERT_EXPIRED),
    ("invalidcertificate(notvalidyet", ErrorKind.CERT_NOT_YET_VALID),
    ("invalidcontenttype", ErrorKind.NOT_TLS),
    ("hostname mismatch", ErrorKind.HOSTNAME_MISMATCH),
    ("ip address mismatch", ErrorKind.HOSTNAME_MISMATCH),
    ("doesn't match", ErrorKind.HOSTNAME_MISMATCH),
    ("not valid for", ErrorKind.HOSTNAME_MISMATCH),
    ("certificate has expired", ErrorKind.CERT_EXPIRED),
    ("certificate is not yet valid", ErrorKind.CERT_NOT_YET_VALID),
    ("unable to get local issuer", ErrorKind.UNKNOWN_CA),
    ("self-signed certificate", ErrorKind.UNKNOWN_CA),
    ("self signed certificate", ErrorKind.UNKNOWN_CA),
    ("unknown ca", ErrorKind.UNKNOWN_CA),
    ("unknownissuer", ErrorKind.UNKNOWN_CA),
    ("certificate verify failed", ErrorKind.CERT_INVALID),
    ("wrong version number", ErrorKind.NOT_TLS),
    ("packet length too long", ErrorKind.NOT_TLS),
    ("record layer failure", ErrorKind.NOT_TLS),
    ("http request", ErrorKind.NOT_TLS),
    ("connection refused", ErrorKind.REFUSED),
    ("connectionrefused", ErrorKind.REFUSED),
    ("name or service not known", ErrorKind.DNS),
    ("temporary failure in name resolution", ErrorKind.DNS),
    ("nodename nor servname", ErrorKind.DNS),
    ("no address associated", ErrorKind.DNS),
    ("could not translate host name", ErrorKind.DNS),
    ("failed to lookup address", ErrorKind.DNS),
    ("dns error", ErrorKind.DNS),
    ("network is unreachable", ErrorKind.UNREACHABLE),
    ("no route to host", ErrorKind.UNREACHABLE),
    ("connection reset", ErrorKind.RESET),
    ("connectionreset", ErrorKind.RESET),  # hyper/tonic (temporalio): Kind(ConnectionReset)
    ("connection closed", ErrorKind.RESET),
    ("unexpected eof", ErrorKind.RESET),
    ("timed out", ErrorKind.TIMEOUT),
    ("timeout", ErrorKind.TIMEOUT),
)


def classify(exc: BaseException) -> str:
    """The ErrorKind of an exception, looking through its cause chain, then its text."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        kind = _classify_one(e)
        if kind is not None:
            return kind
        e = e.__cause__ or e.__context__
    return classify_text(" ".join(str(x) for x in _chain(exc)))


def classify_text(text: str) -> str:
    """The ErrorKind named by an error message (for drivers that only return text)."""
    low = text.lower()
    for needle, kind in _TEXT_RULES:
        if needle in low:
            return kind
    return ErrorKind.OTHER


def _chain(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def _classify_one(e: BaseException) -> str | None:
    if isinstance(e, ssl.SSLCertVerificationError):
        by_text = classify_text(str(e.verify_message))
        return _VERIFY_CODES.get(e.verify_code) or (by_text if by_text != ErrorKind.OTHER else ErrorKind.CERT_INVALID)
    if isinstance(e, ssl.SSLError):
        kind = classify_text(f"{e.reason or ''} {e}")
        return kind if kind != ErrorKind.OTHER else ErrorKind.TLS_ERROR
    if isinstance(e, socket.gaierror):
        return ErrorKind.DNS
    if isinstance(e, ConnectionRefusedError):
        return ErrorKind.REFUSED
    if isinstance(e, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return ErrorKind.RESET
    if isinstance(e, TimeoutError):
        return ErrorKind.TIMEOUT
    if isinstance(e, OSError) and e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return ErrorKind.UNREACHABLE
    return None


# --- contexts ------------------------------------------------------------------------------------


def client_context(
    ca_files: Sequence[Path | str] = (),
    *,
    insecure: bool = False,
    client_cert: Path | str | None = None,
    client_key: Path | str | None = None,
) -> ssl.SSLContext:
    """A client context: system trust store plus `ca_files` as extra trusted CAs; hostname checked.

    `insecure` turns off certificate and hostname verification (the caller must report a WARN).

    One context per set of arguments (and files' size and mtime) is built and shared: loading the system
    trust store parses ~150 certificates (~30 ms of CPU), and a run asked for it about ten times. An
    SSLContext is safe to share between threads; callers only ever set the same ALPN on it (httpx).
    """
    files = (*ca_files, *(p for p in (client_cert, client_key) if p is not None))
    try:
        stamp = tuple((str(f), st.st_size, st.st_mtime_ns) for f in files for st in (os.stat(f),))
    except OSError:  # missing or unreadable: the uncached build raises the error the caller reports
        return _build_context(tuple(ca_files), insecure, client_cert, client_key)
    # Under a lock: the checkers ask at the same moment, and each would build its own copy otherwise.
    with _CONTEXTS_LOCK:
        return _cached_context(tuple(dict.fromkeys(stamp)), tuple(dict.fromkeys(str(f) for f in ca_files)), insecure,
                               None if client_cert is None else str(client_cert),
                               None if client_key is None else str(client_key))


_CONTEXTS_LOCK = threading.Lock()


@functools.lru_cache(maxsize=32)
def _cached_context(_stamp: tuple[tuple[str, int, int], ...], ca_files: tuple[Path | str, ...], insecure: bool,
                    client_cert: Path | str | None, client_key: Path | str | None) -> ssl.SSLContext:
    return _build_context(ca_files, insecure, client_cert, client_key)


def _build_context(ca_files: tuple[Path | str, ...], insecure: bool, client_cert: Path | str | None,
                   client_key: Path | str | None) -> ssl.SSLContext:
    if insecure:
        # Nothing is verified, so the trust store is not loaded (the same protocol defaults otherwise).
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context()
    for f in ca_files:
        # Read here, bounded and regular files only: OpenSSL reading a FIFO or /dev/zero would block
        # the event loop or grow without end.
        ctx.load_verify_locations(cadata=read_pem(f, "CA file"))
    if client_cert is not None:
        for part in (client_cert, client_key):
            if part is not None:
                read_pem(part, "client certificate/key file")  # the same check before OpenSSL opens it
        ctx.load_cert_chain(str(client_cert), str(client_key) if client_key else None)
    return ctx


def read_ca_data(ca_files: Sequence[Path | str]) -> str | None:
    """The PEM text of several CA files concatenated (for clients that take one `cadata`)."""
    parts = [read_pem(f, "CA file") for f in ca_files]
    return "\n".join(parts) if parts else None


# --- the handshake probe -------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsProbe:
    """What one bounded TCP connect + TLS handshake found."""

    tcp_ok: bool
    tls_ok: bool
    error_kind: str | None = None
    error: str = ""
    cert: CertInfo | None = None
    verified: bool = False
    tls_version: str | None = None
    elapsed_ms: float = 0.0


def probe_tls(
    host: str,
    port: int,
    context: ssl.SSLContext,
    timeout: float,
    server_hostname: str | None = None,
) -> TlsProbe:
    """TCP connect then TLS handshake, each bounded by `timeout`; failures come back as facts.

    A TCP-level timeout is `connect_timeout`; a handshake with no answer is `handshake_timeout`
    (a plain-text server that waits for a newline, or a host that accepts and never answers).
    The error text is the exception's own message: pass it through the redactor before storing it.
    """
    t0 = time.perf_counter()

    def ms() -> float:
        return round((time.perf_counter() - t0) * 1000, 1)

    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError as e:
        return TlsProbe(False, False, ErrorKind.CONNECT_TIMEOUT, str(e) or "timed out", elapsed_ms=ms())
    except OSError as e:
        return TlsProbe(False, False, classify(e), str(e), elapsed_ms=ms())
    try:
        sock.settimeout(timeout)
        with context.wrap_socket(sock, server_hostname=server_hostname or host) as tls:
            der = tls.getpeercert(binary_form=True) or b""
            decoded = tls.getpeercert() if context.verify_mode != ssl.CERT_NONE else None
            return TlsProbe(
                True,
                True,
                cert=cert_from_der(der, decoded) if der else None,
                verified=context.verify_mode != ssl.CERT_NONE,
                tls_version=tls.version(),
                elapsed_ms=ms(),
            )
    except TimeoutError as e:
        return TlsProbe(True, False, ErrorKind.HANDSHAKE_TIMEOUT, str(e) or "timed out", elapsed_ms=ms())
    except (ssl.SSLError, OSError) as e:
        return TlsProbe(True, False, classify(e), str(e), elapsed_ms=ms())
    finally:
        sock.close()


def speaks_tls(host: str, port: int, timeout: float) -> bool:
    """Whether the peer completes a TLS handshake at all (no verification): tells TLS from plain ports."""
    ctx = client_context(insecure=True)
    return probe_tls(host, port, ctx, timeout).tls_ok


# --- hosts ---------------------------------------------------------------------------------------


def host_kind(host: str) -> str:
    """'loopback', 'private' or 'public' for a host name or literal address (names are not resolved).

    The one classification of rules.hosts (the offline checks use it too): every numeric IPv4 form
    (`127.1`, `2130706433`, `0x7f.1`), a trailing dot (`localhost.`), IPv4-mapped IPv6, link-local and
    metadata addresses (169.254.169.254), reserved ranges, `.local`/`.internal` and single-label names.
    Before, this function had its own narrower rules and called `localhost.`, `127.1` and `2130706433`
    public, so the live checkers sent credentials there without --allow-loopback.
    """
    cls = classify_host(host)
    if cls is None:
        return "public"
    return "loopback" if cls == "loopback" else "private"
