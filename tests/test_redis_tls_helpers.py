"""The shared TLS helpers (`checkers/_tls.py`): error kinds, certificate parsing, host kinds, handshake probe."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from filot_preflight.net import tls as _tls
from filot_preflight.net.tls import ErrorKind

if TYPE_CHECKING:
    from fixtures_redis_faults import RedisFaults


def _verify_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    e = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message}")
    e.verify_code = code
    e.verify_message = message
    return e


def _wrapped(inner: BaseException) -> Exception:
    try:
        try:
            raise inner
        except BaseException:
            raise RuntimeError("driver: connection failed") from None  # only __context__ links them
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (_verify_error(20, "unable to get local issuer certificate"), ErrorKind.UNKNOWN_CA),
        (_verify_error(19, "self-signed certificate in certificate chain"), ErrorKind.UNKNOWN_CA),
        (_verify_error(62, "Hostname mismatch, certificate is not valid for 'x'."), ErrorKind.HOSTNAME_MISMATCH),
        (_verify_error(64, "IP address mismatch"), ErrorKind.HOSTNAME_MISMATCH),
        (_verify_error(10, "certificate has expired"), ErrorKind.CERT_EXPIRED),
        (_verify_error(9, "certificate is not yet valid"), ErrorKind.CERT_NOT_YET_VALID),
        (_verify_error(23, "certificate revoked"), ErrorKind.CERT_INVALID),
        (ConnectionRefusedError(111, "Connection refused"), ErrorKind.REFUSED),
        (socket.gaierror(-2, "Name or service not known"), ErrorKind.DNS),
        (ConnectionResetError(104, "Connection reset by peer"), ErrorKind.RESET),
        (TimeoutError("timed out"), ErrorKind.TIMEOUT),
        (OSError(113, "No route to host"), ErrorKind.UNREACHABLE),
        (_wrapped(_verify_error(20, "unable to get local issuer certificate")), ErrorKind.UNKNOWN_CA),
        (_wrapped(ConnectionRefusedError(111, "Connection refused")), ErrorKind.REFUSED),
        (RuntimeError("InvalidCertificate(NotValidForNameContext { expected: DnsName(\"x\") })"),
         ErrorKind.HOSTNAME_MISMATCH),
        (RuntimeError("InvalidCertificate(UnknownIssuer)"), ErrorKind.UNKNOWN_CA),
        (RuntimeError("InvalidMessage(InvalidContentType)"), ErrorKind.NOT_TLS),
        (RuntimeError("could not translate host name \"db\" to address"), ErrorKind.DNS),
        (RuntimeError("something else entirely"), ErrorKind.OTHER),
    ],
)
def test_classify(exc: BaseException, kind: str) -> None:
    assert _tls.classify(exc) == kind


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("localhost", "loopback"), ("127.0.0.1", "loopback"), ("::1", "loopback"), ("[::1]", "loopback"),
        ("10.1.2.3", "private"), ("192.168.0.1", "private"), ("169.254.1.1", "private"), ("db.internal", "private"),
        ("eu1-x.upstash.io", "public"), ("8.8.8.8", "public"),
    ],
)
def test_host_kind(host: str, kind: str) -> None:
    assert _tls.host_kind(host) == kind


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl binary")
@pytest.mark.parametrize("days", [30, 20000])  # 20000 days: notAfter after 2049 is a GeneralizedTime
def test_der_parsing_matches_openssl(tmp_path: Path, days: int) -> None:
    crt, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
         "-days", str(days), "-subj", "/C=DE/O=FiLot/CN=api.filot.example.com"],
        check=True, capture_output=True,
    )
    info = _tls.cert_from_pem(crt.read_text())
    reference = ssl._ssl._test_decode_cert(str(crt))  # type: ignore[attr-defined]
    assert info.not_after is not None
    assert int(info.not_after.timestamp()) == ssl.cert_time_to_seconds(reference["notAfter"])
    assert info.subject_cn == info.issuer_cn == "api.filot.example.com"


def test_cert_from_pem_without_certificate() -> None:
    with pytest.raises(ValueError):
        _tls.cert_from_pem("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n")


def test_probe_tls_against_real_endpoints(redis_faults: RedisFaults) -> None:
    f = redis_faults
    good = _tls.probe_tls("127.0.0.1", f.tls_port, _tls.client_context([f.ca_pem]), 1.0)
    assert good.tls_ok and good.verified and good.cert is not None and good.cert.sans == ("localhost", "127.0.0.1")
    cases = {
        f.wrong_host_port: ErrorKind.HOSTNAME_MISMATCH,
        f.expired_port: ErrorKind.CERT_EXPIRED,
        f.plain_port: (ErrorKind.HANDSHAKE_TIMEOUT, ErrorKind.NOT_TLS),  # depends on the ClientHello bytes
        f.silent_port: ErrorKind.HANDSHAKE_TIMEOUT,
        f.closed_port: ErrorKind.REFUSED,
    }
    for port, expected in cases.items():
        res = _tls.probe_tls("127.0.0.1", port, _tls.client_context([f.ca_pem]), 0.5)
        assert not res.tls_ok
        assert res.error_kind in (expected if isinstance(expected, tuple) else (expected,)), (port, res)
    unknown = _tls.probe_tls("127.0.0.1", f.tls_port, _tls.client_context(), 1.0)
    assert unknown.error_kind == ErrorKind.UNKNOWN_CA
    insecure = _tls.probe_tls("127.0.0.1", f.expired_port, _tls.client_context(insecure=True), 1.0)
    assert insecure.tls_ok and not insecure.verified
    assert insecure.cert is not None and insecure.cert.subject_cn == "localhost"
    assert (insecure.cert.days_left() or 0) < 0
    assert _tls.speaks_tls("127.0.0.1", f.tls_port, 1.0)
    assert not _tls.speaks_tls("127.0.0.1", f.silent_port, 0.3)
