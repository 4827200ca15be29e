"""Bucket-level calls of the r2 probe: HeadBucket (and the S3 error behind a refusal), the bucket's CORS
rules, an unsigned listing, and the clock skew read from an answer's Date header.

Each writes what it found into the probe's record (`rec`); botocore and httpx are imported inside.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from filot_preflight.net import tls as _tls

_UNSUPPORTED = {"NotImplemented", "MethodNotAllowed", "501", "405"}
_KINDS = {
    **_tls.COARSE_KINDS,
    _tls.ErrorKind.UNREACHABLE: "timeout",
    # An https:// endpoint on a plain-HTTP port, and a server dying mid-request, have their own fixes
    # (before, both fell through to a bare "unreachable").
    _tls.ErrorKind.NOT_TLS: "not_tls",
    _tls.ErrorKind.RESET: "reset",
}


@dataclass(frozen=True)
class CorsRule:
    """One CORS rule, as GetBucketCors returns it."""

    origins: tuple[str, ...]
    methods: tuple[str, ...]
    headers: tuple[str, ...] = ()

    def allows_origin(self, origin: str) -> bool:
        """S3 origin matching: exact, '*', or one '*' wildcard (https://*.example.com)."""
        for o in self.origins:
            if o == "*" or o.lower() == origin.lower():
                return True
            if o.count("*") == 1:
                pre, post = o.lower().split("*")
                low = origin.lower()
                if low.startswith(pre) and low.endswith(post) and len(low) >= len(pre) + len(post):
                    return True
        return False


def _bucket(client: Any, bucket: str, prefix: str, rec: dict[str, Any]) -> bool:
    """HeadBucket; on failure a ListObjectsV2 names the error (HEAD answers carry no error code)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        resp = client.head_bucket(Bucket=bucket)
    except ClientError as e:
        rec["reachable"], rec["bucket_ok"] = True, False
        _skew(e.response, rec)
        code, message = _error(e)
        if code.isdigit():
            try:
                client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
                code, message = "AccessDenied", "HeadBucket denied while listing is allowed"
            except ClientError as e2:
                code, message = _error(e2)
            except BotoCoreError:
                pass
        rec["s3_error"], rec["error"] = code, f"{code}: {message}"
        return False
    except BotoCoreError as e:
        rec["reachable"], rec["error_kind"], rec["error"] = False, _KINDS.get(_tls.classify(e), "other"), str(e)
        return False
    rec["reachable"], rec["bucket_ok"] = True, True
    _skew(resp, rec)
    return True


def _cors(client: Any, bucket: str, rec: dict[str, Any]) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        resp = client.get_bucket_cors(Bucket=bucket)
    except ClientError as e:
        code, _ = _error(e)
        status = str(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        if code == "NoSuchCORSConfiguration":
            rec["cors"] = "missing"
        elif code in _UNSUPPORTED or status in _UNSUPPORTED:
            rec["cors"], rec["cors_error"] = "unsupported", _describe(e)
        else:
            rec["cors"], rec["cors_error"] = "error", _describe(e)
        return
    except BotoCoreError as e:
        rec["cors"], rec["cors_error"] = "error", _describe(e)
        return
    rules = tuple(
        CorsRule(
            tuple(r.get("AllowedOrigins", [])), tuple(r.get("AllowedMethods", [])), tuple(r.get("AllowedHeaders", []))
        )
        for r in resp.get("CORSRules", [])
    )
    rec["cors"], rec["cors_rules"] = ("ok", rules) if rules else ("missing", ())


def _anonymous(http: Any, endpoint: str, bucket: str, rec: dict[str, Any]) -> None:
    """An unsigned ListObjectsV2: anything but a refusal means the bucket is listable by anyone."""
    import httpx

    try:
        r = http.get(f"{endpoint}/{bucket}", params={"list-type": "2", "max-keys": "1"})
        rec["anon_status"] = r.status_code
    except httpx.HTTPError as e:
        rec["anon_error"] = _describe(e)


def _skew(response: Any, rec: dict[str, Any]) -> None:
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if not date:
        return
    with contextlib.suppress(TypeError, ValueError):
        rec["skew_s"] = round((parsedate_to_datetime(date) - datetime.now(UTC)).total_seconds(), 1)


def _error(e: Any) -> tuple[str, str]:
    err = e.response.get("Error", {})
    return str(err.get("Code") or "unknown"), str(err.get("Message") or "")


def _describe(e: BaseException) -> str:
    # Only the class and first line: botocore and httpx messages can carry a URL (redacted later too).
    first = str(e).splitlines()[0] if str(e) else ""
    return f"{e.__class__.__name__}: {first}"[:300]
