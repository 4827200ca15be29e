"""X.509 facts without a dependency: validity window and common names from DER, PEM text to CertInfo.

`ssl` only decodes certificates it has verified; an insecure connection or an mTLS client certificate
still needs its expiry checked, hence this minimal ASN.1 walk (enough for tbsCertificate's fields).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class CertInfo:
    """Facts about one certificate: validity window and names (never key material)."""

    not_before: datetime | None
    not_after: datetime | None
    subject_cn: str = ""
    issuer_cn: str = ""
    sans: tuple[str, ...] = ()

    def days_left(self, now: datetime | None = None) -> float | None:
        """Days until `not_after` (negative once expired)."""
        if self.not_after is None:
            return None
        now = now or datetime.now(UTC)
        return round((self.not_after - now).total_seconds() / 86400, 1)


def cert_from_der(der: bytes, decoded: Mapping[str, Any] | None = None) -> CertInfo:
    """CertInfo from a DER certificate; names from `decoded` (ssl's getpeercert() dict) when given."""
    nb: datetime | None
    na: datetime | None
    try:
        nb, na = der_validity(der)
    except ValueError:
        nb = na = None
    if not decoded:
        try:
            subject, issuer = der_common_names(der)
        except ValueError:
            subject = issuer = ""
        return CertInfo(nb, na, subject_cn=subject, issuer_cn=issuer)
    return CertInfo(
        nb,
        na,
        subject_cn=_rdn(decoded.get("subject"), "commonName"),
        issuer_cn=_rdn(decoded.get("issuer"), "commonName"),
        sans=tuple(str(v) for _, v in decoded.get("subjectAltName", ()) or ()),
    )


def cert_from_pem(pem: str) -> CertInfo:
    """CertInfo of the first certificate in PEM text (e.g. an mTLS client certificate)."""
    begin = "-----BEGIN CERTIFICATE-----"
    start = pem.find(begin)
    end = pem.find("-----END CERTIFICATE-----", start)
    if start < 0 or end < 0:
        raise ValueError("no PEM certificate found")
    return cert_from_der(ssl.PEM_cert_to_DER_cert(pem[start : end + 25]))


def _rdn(rdns: object, key: str) -> str:
    for rdn in rdns or ():  # type: ignore[attr-defined]
        for k, v in rdn:
            if k == key:
                return str(v)
    return ""


def der_validity(der: bytes) -> tuple[datetime, datetime]:
    """(notBefore, notAfter) of a DER X.509 certificate, read with a minimal ASN.1 walk.

    Dependency-free on purpose: `ssl` only decodes certificates it has verified, and an insecure
    connection or a client certificate still needs its expiry checked.
    """
    validity = _tbs_fields(der)["validity"]
    t1, s1, e1 = _tlv(der, validity[0])
    t2, s2, e2 = _tlv(der, e1)
    return _asn1_time(t1, der[s1:e1]), _asn1_time(t2, der[s2:e2])


def der_common_names(der: bytes) -> tuple[str, str]:
    """(subject CN, issuer CN) of a DER certificate; '' where absent."""
    fields = _tbs_fields(der)
    return _find_cn(der, *fields["subject"]), _find_cn(der, *fields["issuer"])


def _tbs_fields(der: bytes) -> dict[str, tuple[int, int]]:
    """Content spans of issuer, validity and subject inside tbsCertificate."""
    _, cert_body, _ = _tlv(der, 0)  # Certificate ::= SEQUENCE
    _, tbs, _ = _tlv(der, cert_body)  # tbsCertificate ::= SEQUENCE
    pos = tbs
    tag, _, nxt = _tlv(der, pos)
    if tag == 0xA0:  # [0] version, optional
        pos = nxt
    spans = {}
    for name in ("serial", "signature", "issuer", "validity", "subject"):
        _, start, end = _tlv(der, pos)
        spans[name] = (start, end)
        pos = end
    return spans


_CN_OID = b"\x06\x03\x55\x04\x03"  # OID 2.5.4.3 (commonName), DER-encoded


def _find_cn(der: bytes, start: int, end: int) -> str:
    at = der.find(_CN_OID, start, end)
    if at < 0:
        return ""
    _, s, e = _tlv(der, at + len(_CN_OID))
    return der[s:e].decode("utf-8", errors="replace")


def _tlv(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of element) of the DER element at `pos`."""
    if pos + 2 > len(buf):
        raise ValueError("truncated DER")
    tag, length = buf[pos], buf[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(buf):
            raise ValueError("bad DER length")
        length = int.from_bytes(buf[pos : pos + n], "big")
        pos += n
    if pos + length > len(buf):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def _asn1_time(tag: int, raw: bytes) -> datetime:
    text = raw.decode("ascii")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ; years 50-99 are 19xx (RFC 5280)
        yy = int(text[:2])
        text = f"{1900 + yy if yy >= 50 else 2000 + yy}{text[2:]}"
    elif tag != 0x18:  # GeneralizedTime
        raise ValueError("not an ASN.1 time")
    return datetime.strptime(text.rstrip("Z")[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
