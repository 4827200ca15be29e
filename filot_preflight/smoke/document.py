"""The smoke run's document in R2: uploaded with a presigned PUT (as FiLot's web client uploads), removed at
the end, and smoke documents left by a killed run swept at the start.

The key is `<canary_prefix>preflight-smoke-<expiry unix>-<uuid4 hex>` with the metadata
`x-amz-meta-preflight: smoke` (`checkers.r2.canary.OwnedKeys`): only an object of exactly that shape and
metadata is ever deleted, and a leftover only once its expiry has passed (so two runs side by side never
remove each other's document).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from typing import Any

from filot_preflight.checkers.base import Options
from filot_preflight.checkers.r2.bucket import _describe
from filot_preflight.checkers.r2.canary import META_KEY, OwnedKeys, _xml_code, delete_owned
from filot_preflight.checkers.r2.probe import ca_bundle, s3_client
from filot_preflight.net import tls as _tls

MARKER, META = "preflight-smoke-", "smoke"
# A one-page PDF with one line of text: what the OCR worker is given (small, and a real document type).
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 80]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>"
       b"endobj\n4 0 obj<</Length 49>>stream\nBT /F1 12 Tf 20 40 Td (filot preflight smoke) Tj ET\nendstream\n"
       b"endobj\n5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


@dataclass
class Bucket:
    """An open R2 bucket: boto3 client (signing, HEAD/DELETE), httpx client (presigned requests)."""

    client: Any
    http: Any
    name: str
    keys: OwnedKeys
    bundle: str | None = None
    closed: bool = field(default=False, repr=False)

    def close(self) -> None:
        """Close the HTTP client and remove the temp CA bundle."""
        if self.closed:
            return
        self.closed = True
        self.http.close()
        if self.bundle:
            with contextlib.suppress(OSError):
                os.unlink(self.bundle)


def open_bucket(endpoint: str, creds: tuple[str, str], bucket: str, prefix: str, options: Options) -> Bucket:
    """Clients for the bucket, TLS verified as the r2 checker does (system CAs + --ca-file unless --insecure)."""
    import httpx

    bundle = ca_bundle(options.ca_file) if options.ca_file and not options.insecure else None
    client = s3_client(endpoint, creds, options, bundle)
    verify = _tls.client_context([options.ca_file] if options.ca_file else [], insecure=options.insecure)
    http = httpx.Client(verify=verify, timeout=httpx.Timeout(options.timeout), follow_redirects=False)
    return Bucket(client, http, bucket, OwnedKeys(prefix, MARKER, META), bundle)


def sweep(b: Bucket) -> dict[str, Any]:
    """Delete smoke documents whose expiry has passed (a killed run's); returns stale_found/deleted/error."""
    rec: dict[str, Any] = {}
    now = time.time()
    b.keys.sweep(b.client, b.name, lambda expiry: expiry < now, rec)
    return rec


def upload(b: Bucket, key: str, expiry_s: int, redact: Any) -> tuple[bool, str]:
    """Presigned PUT of the smoke PDF; (ok, what happened)."""
    try:
        params = {"Bucket": b.name, "Key": key, "Metadata": {META_KEY: META}, "ContentType": "application/pdf"}
        url = b.client.generate_presigned_url("put_object", Params=params, ExpiresIn=expiry_s)
        redact.add([url])  # a presigned URL is a bearer token
        # The metadata and content type are signed headers: the PUT sends them exactly as presigned.
        r = b.http.put(url, content=PDF, headers={f"x-amz-meta-{META_KEY}": META, "Content-Type": "application/pdf"})
    except Exception as e:  # noqa: BLE001 - any failure is the step's result
        return False, _describe(e)
    if r.status_code != 200:
        return False, f"HTTP {r.status_code} {_xml_code(r.text) or ''}".strip()
    return True, f"{len(PDF)} bytes, HTTP 200"


def remove(b: Bucket, key: str) -> tuple[bool, str]:
    """Delete the smoke document (ours by shape and metadata) and confirm it is gone."""
    rec: dict[str, Any] = {}
    try:
        if not b.keys.made_by_us(b.client, b.name, key):
            return False, "the object does not carry the smoke metadata; not deleted"
    except Exception as e:  # noqa: BLE001 - HEAD 404: never uploaded or already gone
        if getattr(e, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return True, "not in the bucket (never uploaded)"
        return False, _describe(e)
    delete_owned(b.client, b.name, key, rec, b.keys)
    return bool(rec.get("deleted")), rec.get("delete_error") or "deleted, HEAD answers 404"

