"""The canary round trip of the r2 probe: a presigned PUT and GET of a random object that is always
deleted (and confirmed gone), and the clean-up of canaries a killed run left behind.

Only objects this tool created are ever deleted. A canary's key is `<prefix>preflight-canary-<unix>-<uuid4
hex>` (a fixed marker and a random id: no real document is named so), and it is uploaded with the object
metadata `x-amz-meta-preflight: canary`. A stale canary is deleted only when its key matches that pattern
exactly *and* a HEAD shows that metadata. (Before, with `canary_prefix: docs/`, any key under the prefix
that started with digits, or was merely old, was deleted as a "stale canary": real documents included.)
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from filot_preflight.checkers.r2.bucket import _describe
from filot_preflight.manifest import R2Settings
from filot_preflight.redact import Redactor

R2_MAX_PRESIGN_S = 604800  # 7 days, R2's (and SigV4's) limit
STALE_CANARY_S = 3600  # a canary older than this was left by a killed run
MAX_STALE_DELETES = 50
_SAFE_PREFIX = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/$")  # as the manifest validates it
META_KEY = "preflight"  # sent as x-amz-meta-preflight: <kind>
_CODE = re.compile(r"<Code>([^<]{1,64})</Code>")


@dataclass(frozen=True)
class OwnedKeys:
    """Names of the objects this tool creates under `prefix`: `<prefix><marker><unix>-<uuid4 hex>`, uploaded
    with the metadata `x-amz-meta-preflight: <meta>`. Only a key of exactly this shape that also carries the
    metadata is ever deleted. The unix time is the canary's creation, or a smoke object's expiry."""

    prefix: str
    marker: str = "preflight-canary-"
    meta: str = "canary"

    def new(self, t: float | None = None) -> str:
        """A new key carrying time `t` (now by default) and a random id."""
        return f"{self.prefix}{self.marker}{int(time.time() if t is None else t)}-{uuid.uuid4().hex}"

    def time_of(self, key: str) -> int | None:
        """The time written in `key` when it has exactly our shape, else None (not ours)."""
        m = re.fullmatch(re.escape(self.prefix) + re.escape(self.marker) + r"([0-9]{1,12})-[0-9a-f]{32}", key)
        return int(m.group(1)) if m else None

    def made_by_us(self, client: Any, bucket: str, key: str) -> bool:
        """Whether the object carries our metadata (checked by HEAD before any delete)."""
        head = client.head_object(Bucket=bucket, Key=key)
        return bool(head.get("Metadata", {}).get(META_KEY) == self.meta)

    def sweep(self, client: Any, bucket: str, stale: Callable[[int], bool], rec: dict[str, Any]) -> None:
        """Delete our objects whose time says `stale` (left by a killed run); counts in rec["stale_*"]."""
        from botocore.exceptions import BotoCoreError, ClientError

        if not _SAFE_PREFIX.match(self.prefix):  # an empty or odd prefix could match real documents
            rec["stale_error"] = f"canary prefix {self.prefix!r} is not a plain folder such as '_preflight/'"
            return
        try:
            resp = client.list_objects_v2(Bucket=bucket, Prefix=self.prefix + self.marker, MaxKeys=1000)
            found = [o["Key"] for o in resp.get("Contents", []) if self._stale(o.get("Key", ""), stale)]
            rec["stale_found"] = len(found)
            for key in found[:MAX_STALE_DELETES]:
                if not self.made_by_us(client, bucket, key):
                    continue  # named like ours but without our metadata: someone else's object, keep it
                client.delete_object(Bucket=bucket, Key=key)
                rec["stale_deleted"] = rec.get("stale_deleted", 0) + 1
        except (ClientError, BotoCoreError) as e:
            rec["stale_error"] = _describe(e)

    def _stale(self, key: str, stale: Callable[[int], bool]) -> bool:
        t = self.time_of(key)
        return t is not None and stale(t)


def canary_key(prefix: str, now: float | None = None) -> str:
    """A new canary key: the prefix, the fixed marker, the creation time and a random id."""
    return OwnedKeys(prefix).new(now)


def _stale(client: Any, bucket: str, prefix: str, rec: dict[str, Any]) -> None:
    """Delete canaries older than an hour left by a killed run (only under the canary prefix)."""
    now = time.time()
    OwnedKeys(prefix).sweep(client, bucket, lambda t: now - t > STALE_CANARY_S, rec)


def _canary(client: Any, http: Any, bucket: str, settings: R2Settings, redactor: Redactor, rec: dict[str, Any]) -> None:
    """Presigned PUT of a random canary, presigned GET of it, then DELETE it whatever happened."""
    key = canary_key(settings.canary_prefix)
    body = b"filot-preflight canary " + secrets.token_hex(16).encode()
    expiry = max(1, min(settings.presign_expiry_s, R2_MAX_PRESIGN_S))
    rec["canary_key"] = key
    stage = "put_error"
    try:
        params = {"Bucket": bucket, "Key": key, "Metadata": {META_KEY: "canary"}}
        url = client.generate_presigned_url("put_object", Params=params, ExpiresIn=expiry)
        redactor.add([url])  # a presigned URL is a bearer token: mask it wherever it might surface
        # The metadata header is signed (X-Amz-SignedHeaders): the PUT must send it as given.
        r = http.put(url, content=body, headers={f"x-amz-meta-{META_KEY}": "canary"})
        rec["put_status"] = r.status_code
        if r.status_code != 200:
            rec["put_error"] = _xml_code(r.text) or f"HTTP {r.status_code}"
            return
        stage = "get_error"
        url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expiry)
        redactor.add([url])
        g = http.get(url)
        rec["get_status"], rec["get_match"] = g.status_code, g.status_code == 200 and g.content == body
        if g.status_code != 200:
            rec["get_error"] = _xml_code(g.text) or f"HTTP {g.status_code}"
    except Exception as e:  # noqa: BLE001 - any failure is a fact; the cleanup follows
        rec[stage] = _describe(e)
    finally:
        delete_owned(client, bucket, key, rec, OwnedKeys(settings.canary_prefix))


def delete_owned(client: Any, bucket: str, key: str, rec: dict[str, Any], keys: OwnedKeys) -> None:
    """Delete an object this tool created and confirm it is gone (a DELETE of a missing key also answers 204)."""
    from botocore.exceptions import BotoCoreError, ClientError

    if keys.time_of(key) is None:  # only ever a key OwnedKeys.new made
        rec["deleted"], rec["delete_error"] = False, f"not a {keys.meta} key; not deleted"
        return
    try:
        client.delete_object(Bucket=bucket, Key=key)
        client.head_object(Bucket=bucket, Key=key)
        rec["deleted"], rec["delete_error"] = False, "still present after DELETE"
    except ClientError as e:
        gone = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404
        rec["deleted"], rec["delete_error"] = gone, None if gone else _describe(e)
    except BotoCoreError as e:
        rec["deleted"], rec["delete_error"] = False, _describe(e)


def _xml_code(text: str) -> str | None:
    m = _CODE.search(text or "")
    return m.group(1) if m else None
