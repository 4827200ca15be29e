"""The I/O half of the r2 checker: its facts, and how they are gathered (boto3 signed calls, httpx for
presigned and unsigned requests).

Everything runs in one daemon thread with its own deadline. The canary is deleted in a `finally`
(so also when a step failed, and even when the runner stopped waiting: the thread carries on).
boto3 and httpx are imported lazily inside the functions that use them; importing this module stays cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from filot_preflight.checkers import _tls
from filot_preflight.checkers.base import CheckContext, Options
from filot_preflight.manifest import R2Settings
from filot_preflight.redact import Redactor

BUCKET = "CF_R2_BUCKET"
R2_MAX_PRESIGN_S = 604800  # 7 days, R2's (and SigV4's) limit
STALE_CANARY_S = 3600  # a canary older than this was left by a killed run
WAIT_FACTOR = 1.35  # the runner gives 1.5 x timeout; keep a margin to hand back partial facts
RETRY_MIN_TIMEOUT = 5.0  # below this, a retry (with its backoff) does not fit in the budget
STEP_FACTOR = 1.2  # optional steps start only before this share of the timeout has passed
MAX_STALE_DELETES = 50
_SAFE_PREFIX = re.compile(r"^[A-Za-z0-9._-]+/$")
_CODE = re.compile(r"<Code>([^<]{1,64})</Code>")
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


@dataclass(frozen=True)
class R2Facts:
    """What the probe found. Texts are redacted; no URL here carries a signature or credentials."""

    missing: tuple[str, ...] = ()
    endpoint_var: str = ""
    endpoint_shown: str = ""  # the endpoint with the (secret) account id masked
    endpoint_https: bool = True
    endpoint_account_mismatch: bool = False
    host_kind: str = "public"
    insecure: bool = False
    allow_loopback: bool = False
    presign_expiry: str | None = None  # CF_R2_PRESIGN_EXPIRY_SECONDS as set (not a secret)
    presign_expiry_default: str | None = None
    app_origin: str | None = None
    bucket: str = ""
    reachable: bool | None = None
    error_kind: str | None = None
    error: str = ""
    bucket_ok: bool | None = None
    s3_error: str | None = None  # S3 error code of the failed bucket request
    skew_s: float | None = None
    stale_found: int = 0
    stale_deleted: int = 0
    stale_error: str | None = None
    canary_key: str | None = None
    put_status: int | None = None
    put_error: str | None = None
    get_status: int | None = None
    get_match: bool | None = None
    get_error: str | None = None
    deleted: bool | None = None
    delete_error: str | None = None
    cors: str | None = None  # ok | missing | unsupported | error
    cors_rules: tuple[CorsRule, ...] = field(default_factory=tuple)
    cors_error: str | None = None
    anon_status: int | None = None
    anon_error: str | None = None
    timed_out: bool = False


async def probe(ctx: CheckContext) -> R2Facts:
    """Gather the facts; a failure is a fact, never an exception."""
    v = {n: ctx.value(n) for n in ("CF_R2_ACCESS_KEY_ID", "CF_R2_SECRET_ACCESS_KEY", BUCKET)}
    account, explicit = ctx.value("CF_R2_ACCOUNT_ID"), ctx.value("CF_R2_ENDPOINT")
    missing = [n for n, x in v.items() if not x]
    if not account and not explicit:
        missing.append("CF_R2_ACCOUNT_ID")
    if missing:
        return R2Facts(missing=tuple(missing))
    endpoint = (explicit or f"https://{account}.r2.cloudflarestorage.com").rstrip("/")
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    shown = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
    if account:
        shown = shown.replace(account, "<CF_R2_ACCOUNT_ID>")
    expiry_var = (
        ctx.manifest.variable("CF_R2_PRESIGN_EXPIRY_SECONDS")
        if ctx.manifest.has("CF_R2_PRESIGN_EXPIRY_SECONDS")
        else None
    )
    base = R2Facts(
        endpoint_var="CF_R2_ENDPOINT" if explicit else "CF_R2_ACCOUNT_ID",
        endpoint_shown=shown,
        endpoint_https=parts.scheme == "https",
        endpoint_account_mismatch=bool(
            explicit and account and host.endswith(".r2.cloudflarestorage.com") and not host.startswith(f"{account}.")
        ),
        host_kind=_tls.host_kind(host),
        insecure=ctx.options.insecure,
        allow_loopback=ctx.options.allow_loopback,
        presign_expiry=ctx.value("CF_R2_PRESIGN_EXPIRY_SECONDS"),
        presign_expiry_default=expiry_var.default if expiry_var else None,
        app_origin=ctx.value("APP_ORIGIN"),
        bucket=str(v[BUCKET]),
    )
    if not base.endpoint_https:
        return base
    rec: dict[str, Any] = {}
    creds = (str(v["CF_R2_ACCESS_KEY_ID"]), str(v["CF_R2_SECRET_ACCESS_KEY"]))
    settings = ctx.manifest.checks.r2
    try:
        await asyncio.wait_for(
            ctx.blocking(_run, rec, endpoint, base.bucket, creds, ctx.options, settings, ctx.redactor),
            ctx.options.timeout * WAIT_FACTOR,
        )
    except TimeoutError:
        rec["timed_out"] = True
    found = dict(rec)  # the thread may still be writing (it finishes the canary's deletion)
    for k in ("error", "put_error", "get_error", "delete_error", "stale_error", "cors_error", "anon_error"):
        if found.get(k):
            text = str(found[k]).replace(account, "<CF_R2_ACCOUNT_ID>") if account else str(found[k])
            found[k] = ctx.redactor.redact(text)[:400]
    return replace(base, **found)


def _run(
    rec: dict[str, Any],
    endpoint: str,
    bucket: str,
    creds: tuple[str, str],
    options: Options,
    settings: R2Settings,
    redactor: Redactor,
) -> None:
    """Blocking: bucket, stale canaries, canary round trip, CORS, anonymous listing (in that order)."""
    import httpx

    start = time.monotonic()

    def time_left() -> bool:
        return time.monotonic() - start < options.timeout * STEP_FACTOR

    bundle = None
    try:
        try:
            bundle = _bundle(options.ca_file) if options.ca_file and not options.insecure else None
            client = _client(endpoint, creds, options, bundle)
        except Exception as e:  # noqa: BLE001 - a bad CA file or AWS_* setting: a fact, not a crash
            rec["reachable"], rec["error_kind"], rec["error"] = False, "client", _describe(e)
            return
        if not _bucket(client, bucket, settings.canary_prefix, rec):
            return
        ssl_ctx = _tls.client_context([options.ca_file] if options.ca_file else [], insecure=options.insecure)
        timeout = httpx.Timeout(options.timeout / 2, connect=max(0.5, options.timeout / 3))
        with httpx.Client(verify=ssl_ctx, timeout=timeout, follow_redirects=False) as http:
            if time_left():
                _stale(client, bucket, settings.canary_prefix, rec)
            _canary(client, http, bucket, settings, redactor, rec)
            if time_left():
                _cors(client, bucket, rec)
            if time_left():
                _anonymous(http, endpoint, bucket, rec)
    finally:
        if bundle:
            with contextlib.suppress(OSError):
                os.unlink(bundle)


def _client(endpoint: str, creds: tuple[str, str], options: Options, bundle: str | None) -> Any:
    import boto3
    from botocore.config import Config

    # Explicit keys are passed, but never let boto3 wander off to the instance metadata service.
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    config = Config(
        connect_timeout=max(0.5, options.timeout / 3),
        read_timeout=max(0.5, options.timeout / 2),
        retries={"total_max_attempts": 2 if options.timeout >= RETRY_MIN_TIMEOUT else 1, "mode": "standard"},
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        # R2 does not implement every flexible checksum newer SDKs send by default.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    verify: bool | str = False if options.insecure else (bundle or True)
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="auto",
        aws_access_key_id=creds[0],
        aws_secret_access_key=creds[1],
        verify=verify,
        config=config,
    )


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


def _xml_code(text: str) -> str | None:
    m = _CODE.search(text or "")
    return m.group(1) if m else None


def _describe(e: BaseException) -> str:
    # Only the class and first line: botocore and httpx messages can carry a URL (redacted later too).
    first = str(e).splitlines()[0] if str(e) else ""
    return f"{e.__class__.__name__}: {first}"[:300]


def _bundle(ca_file: Path) -> str:
    """boto3's `verify` takes one file: its default CA bundle plus --ca-file, in a temp file."""
    import certifi

    parts = [Path(certifi.where()).read_text(encoding="ascii", errors="ignore"), Path(ca_file).read_text()]
    from filot_preflight.fileio import temp_file

    # Deleted when the probe ends; removed at exit too if the run stops first (deadline, Ctrl-C).
    return temp_file("\n".join(parts), prefix="preflight-r2-ca-")
