"""The I/O half of the r2 checker: its facts, and how they are gathered (boto3 signed calls, httpx for
presigned and unsigned requests). The steps live in `bucket` (bucket, CORS, anonymous listing, clock
skew) and `canary` (canary round trip, stale canaries); this module sets up the clients and runs them.

Everything runs in one daemon thread within the checker's budget (`ctx.budget()`). The canary is deleted
in a `finally` (so also when a step failed, and even when the runner stopped waiting: the thread carries on).
boto3 and httpx are imported lazily inside the functions that use them; importing this module stays cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from filot_preflight.checkers.base import Budget, CheckContext, Options
from filot_preflight.checkers.r2.bucket import CorsRule, _anonymous, _bucket, _cors, _describe
from filot_preflight.checkers.r2.canary import R2_MAX_PRESIGN_S, _canary, _stale
from filot_preflight.manifest import R2Settings
from filot_preflight.net import tls as _tls
from filot_preflight.net.host_gate import check_host
from filot_preflight.redact import Redactor
from filot_preflight.rules.hosts import HostCheck

__all__ = ["BUCKET", "R2_MAX_PRESIGN_S", "CorsRule", "R2Facts", "probe"]

BUCKET = "CF_R2_BUCKET"
RETRY_MIN_TIMEOUT = 5.0  # below this, a retry (with its backoff) does not fit in the budget
STEP_RESERVE = 0.15  # optional steps start only while this share of the budget is left


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
    gate: HostCheck | None = None  # the pre-connect host gate's finding (refused: nothing was sent)


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
    gate = await check_host(ctx, host)
    if account:  # the account id is part of the default host: never in a fact
        gate = replace(gate, host=gate.host.replace(account, "<CF_R2_ACCOUNT_ID>"),
                       reason=gate.reason.replace(account, "<CF_R2_ACCOUNT_ID>"))
    base = replace(base, gate=gate, host_kind=gate.kind)
    if gate.refused:  # no connection: neither the signed requests nor the unsigned listing
        return base
    rec: dict[str, Any] = {}
    creds = (str(v["CF_R2_ACCESS_KEY_ID"]), str(v["CF_R2_SECRET_ACCESS_KEY"]))
    settings = ctx.manifest.checks.r2
    budget = ctx.budget()  # the checker's; the thread's steps share it
    try:
        await asyncio.wait_for(
            ctx.blocking(_run, rec, endpoint, base.bucket, creds, ctx.options, settings, ctx.redactor, budget),
            budget.bound(),
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
    budget: Budget | None = None,
) -> None:
    """Blocking: bucket, stale canaries, canary round trip, CORS, anonymous listing (in that order)."""
    import httpx

    dl = budget or Budget(options.timeout)

    def time_left() -> bool:
        return dl.left() > options.timeout * STEP_RESERVE

    bundle = None
    try:
        try:
            bundle = ca_bundle(options.ca_file) if options.ca_file and not options.insecure else None
            client = s3_client(endpoint, creds, options, bundle)
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


def s3_client(endpoint: str, creds: tuple[str, str], options: Options, bundle: str | None) -> Any:
    """A boto3 S3 client for R2: path-style SigV4, bounded timeouts, TLS verified against `bundle` or the
    default CAs (unless --insecure), never the instance metadata service."""
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
    from filot_preflight.net.aws import botocore_session  # its data loader is shared with the aws checkers
    from filot_preflight.net.aws_tls import share_ca_bundle

    client = boto3.session.Session(botocore_session=botocore_session()).client(
        "s3",
        endpoint_url=endpoint,
        region_name="auto",
        aws_access_key_id=creds[0],
        aws_secret_access_key=creds[1],
        verify=verify,
        config=config,
    )
    share_ca_bundle(client)
    return client


def ca_bundle(ca_file: Path) -> str:
    """A temp file for boto3; boto3's `verify` takes one file: its default CA bundle plus --ca-file, in a temp file."""
    import certifi

    from filot_preflight.fileio import read_pem, temp_file

    parts = [read_pem(certifi.where(), "CA bundle"), read_pem(ca_file, "CA file")]

    # Deleted when the probe ends; removed at exit too if the run stops first (deadline, Ctrl-C).
    return temp_file("\n".join(parts), prefix="preflight-r2-ca-")
