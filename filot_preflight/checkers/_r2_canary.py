"""The canary round trip of the r2 probe: a presigned PUT and GET of a random object that is always
deleted (and confirmed gone), and the clean-up of canaries a killed run left behind.

Only keys under the manifest's canary prefix are ever written or deleted.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from datetime import datetime
from typing import Any

from filot_preflight.checkers._r2_bucket import _describe
from filot_preflight.manifest import R2Settings
from filot_preflight.redact import Redactor

R2_MAX_PRESIGN_S = 604800  # 7 days, R2's (and SigV4's) limit
STALE_CANARY_S = 3600  # a canary older than this was left by a killed run
MAX_STALE_DELETES = 50
_SAFE_PREFIX = re.compile(r"^[A-Za-z0-9._-]+/$")
_CODE = re.compile(r"<Code>([^<]{1,64})</Code>")


def _stale(client: Any, bucket: str, prefix: str, rec: dict[str, Any]) -> None:
    """Delete canaries older than an hour left by a killed run (only under the canary prefix)."""
    from botocore.exceptions import BotoCoreError, ClientError

    if not _SAFE_PREFIX.match(prefix):  # an empty or odd prefix could match real documents
        rec["stale_error"] = f"canary prefix {prefix!r} is not a plain folder such as '_preflight/'"
        return
    try:
        resp = client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1000)
        now = time.time()
        stale = [
            o["Key"] for o in resp.get("Contents", []) if o["Key"].startswith(prefix) and _is_stale(o, prefix, now)
        ]
        rec["stale_found"] = len(stale)
        for key in stale[:MAX_STALE_DELETES]:
            client.delete_object(Bucket=bucket, Key=key)
            rec["stale_deleted"] = rec.get("stale_deleted", 0) + 1
    except (ClientError, BotoCoreError) as e:
        rec["stale_error"] = _describe(e)


def _is_stale(obj: dict[str, Any], prefix: str, now: float) -> bool:
    """Older than an hour by the timestamp in its key (`<prefix><unix>-<uuid>`) or by LastModified."""
    head = obj["Key"][len(prefix) :].split("-", 1)[0]
    if head.isdigit() and now - int(head) > STALE_CANARY_S:
        return True
    modified = obj.get("LastModified")
    return isinstance(modified, datetime) and now - modified.timestamp() > STALE_CANARY_S


def _canary(client: Any, http: Any, bucket: str, settings: R2Settings, redactor: Redactor, rec: dict[str, Any]) -> None:
    """Presigned PUT of a random canary, presigned GET of it, then DELETE it whatever happened."""
    key = f"{settings.canary_prefix}{int(time.time())}-{uuid.uuid4().hex}"
    body = b"filot-preflight canary " + secrets.token_hex(16).encode()
    expiry = max(1, min(settings.presign_expiry_s, R2_MAX_PRESIGN_S))
    rec["canary_key"] = key
    stage = "put_error"
    try:
        url = client.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expiry)
        redactor.add([url])  # a presigned URL is a bearer token: mask it wherever it might surface
        r = http.put(url, content=body)
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
        _delete(client, bucket, key, rec)


def _delete(client: Any, bucket: str, key: str, rec: dict[str, Any]) -> None:
    """Delete the canary and confirm it is gone (a DELETE of a missing key also answers 204)."""
    from botocore.exceptions import BotoCoreError, ClientError

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
