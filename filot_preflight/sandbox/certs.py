"""A private CA and the certificates the sandbox's TLS servers present (plus broken ones for fault tests).

Uses the `cryptography` package when installed (fast, no subprocess); otherwise the `openssl` binary.
Keys are ECDSA P-256: quick to generate and accepted by redis, postgres, nginx, rustls and Python's ssl.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import subprocess
import tempfile
from pathlib import Path

from filot_preflight.sandbox.base import Certs, find_binary

DEFAULT_HOSTS = ("localhost", "127.0.0.1")
_DAY = dt.timedelta(days=1)


def make_certs(folder: Path) -> Certs:
    """Create `folder` with a fresh CA and a server certificate for localhost and 127.0.0.1 (1 year)."""
    folder.mkdir(parents=True, exist_ok=True)
    # Other users (postgres, nginx workers) must be able to reach the public files.
    folder.chmod(0o755)
    ca_pem, ca_key = folder / "ca.pem", folder / "ca.key"
    _make_ca(ca_pem, ca_key)
    certs = Certs(ca_pem=ca_pem, server_crt=folder / "server.crt", server_key=folder / "server.key", ca_key=ca_key)
    issue(certs, certs.server_crt, certs.server_key, DEFAULT_HOSTS)
    return certs


def issue(
    certs: Certs,
    crt: Path,
    key: Path,
    hosts: tuple[str, ...] = DEFAULT_HOSTS,
    *,
    days: int = 365,
    not_before_days_ago: int = 1,
    client: bool = False,
) -> tuple[Path, Path]:
    """Sign a leaf certificate for `hosts` with the sandbox CA; returns (cert path, key path)."""
    if certs.ca_key is None:
        raise ValueError("these Certs carry no CA key; cannot sign new certificates")
    if _have_cryptography():
        _issue_crypto(certs, crt, key, hosts, days, not_before_days_ago, client)
    else:
        if days - not_before_days_ago <= 0:
            raise ValueError("an already expired certificate needs the 'cryptography' package")
        _issue_openssl(certs, crt, key, hosts, days, client)
    crt.chmod(0o644)
    key.chmod(0o600)
    return crt, key


def make_expired_cert(certs: Certs, folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost/127.0.0.1 signed by the sandbox CA that expired yesterday."""
    return issue(certs, folder / "expired.crt", folder / "expired.key", days=1, not_before_days_ago=30)


def make_wrong_host_cert(certs: Certs, folder: Path) -> tuple[Path, Path]:
    """A valid certificate signed by the sandbox CA, but for a host name that is not ours."""
    return issue(certs, folder / "wrong-host.crt", folder / "wrong-host.key", ("wrong.example.invalid",))


def make_client_cert(certs: Certs, folder: Path) -> tuple[Path, Path]:
    """A client certificate (mTLS) signed by the sandbox CA."""
    return issue(certs, folder / "client.crt", folder / "client.key", ("filot-sandbox-client",), client=True)


def make_foreign_ca(folder: Path) -> Certs:
    """A second, unrelated CA with its own server cert: a client trusting only ours must refuse it."""
    return make_certs(folder)


# --- cryptography backend -------------------------------------------------------------------------


def _have_cryptography() -> bool:
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return False
    return True


def _make_ca(pem: Path, key_path: Path) -> None:
    if not _have_cryptography():
        _run_openssl(
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
            + [
                "-keyout",
                str(key_path),
                "-out",
                str(pem),
                "-days",
                "3650",
                "-subj",
                "/CN=filot-preflight sandbox CA",
            ]
            + [
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]
        )
    else:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "filot-preflight sandbox CA")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _DAY)
            .not_valid_after(now + 3650 * _DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_key(key_path, key)
        pem.write_bytes(cert.public_bytes(_pem()))
    pem.chmod(0o644)
    key_path.chmod(0o600)


def _issue_crypto(
    certs: Certs, crt: Path, key_path: Path, hosts: tuple[str, ...], days: int, ago: int, client: bool
) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    assert certs.ca_key is not None
    ca_cert = x509.load_pem_x509_certificate(certs.ca_pem.read_bytes())
    ca_key = serialization.load_pem_private_key(certs.ca_key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    usage = x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH if client else x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - ago * _DAY)
        .not_valid_after(now - ago * _DAY + days * _DAY)
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(key_path, key)
    crt.write_bytes(cert.public_bytes(_pem()))


def _san(host: str):  # type: ignore[no-untyped-def]
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _key_usage(ca: bool):  # type: ignore[no-untyped-def]
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not ca,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _pem():  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.PEM


def _write_key(path: Path, key: object) -> None:
    from cryptography.hazmat.primitives import serialization

    data = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Create with 0600 from the start: the key must never be world-readable, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


# --- openssl backend ------------------------------------------------------------------------------


def _run_openssl(args: list[str]) -> None:
    openssl = find_binary("openssl", "apt-get install -y openssl (or pip install cryptography)")
    subprocess.run([openssl, *args], check=True, capture_output=True)


def _issue_openssl(certs: Certs, crt: Path, key: Path, hosts: tuple[str, ...], days: int, client: bool) -> None:
    assert certs.ca_key is not None
    san = ",".join(f"IP:{h}" if _is_ip(h) else f"DNS:{h}" for h in hosts)
    usage = "clientAuth" if client else "serverAuth"
    with tempfile.TemporaryDirectory() as tmp:
        csr, ext = Path(tmp) / "req.csr", Path(tmp) / "ext.cnf"
        ext.write_text(
            f"subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\n"
            f"keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage={usage}\n"
        )
        _run_openssl(
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
            + ["-keyout", str(key), "-out", str(csr), "-subj", f"/CN={hosts[0]}"]
        )
        _run_openssl(
            ["x509", "-req", "-in", str(csr), "-CA", str(certs.ca_pem), "-CAkey", str(certs.ca_key)]
            + ["-CAcreateserial", "-out", str(crt), "-days", str(days), "-extfile", str(ext)]
        )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
