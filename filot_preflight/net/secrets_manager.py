"""AWS Secrets Manager as a value source, and the AWS facts that the `aws_secrets` checker judges.

Reads are batched: `BatchGetSecretValue` with at most 20 ids a call (N secrets cost about N/20 calls,
never one per secret). Each secret becomes a `SecretFact` (found, current version, JSON keys, date of
the current version, error code); a whole-call problem (no credentials, no region, endpoint down) is
one `AwsProblem`, never a traceback. boto3 is imported lazily: `preflight --help` must stay cheap.

Entry points: `read_secrets(manifest, options, values)` (the `--source aws` reader and the checker's
probe) and `put_generated(...)` (the only write, for `preflight secrets generate --put`; in secrets_put.py).
Reaching AWS (settings, bounded client, problem kinds and fixes) lives in net/aws.py.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from filot_preflight.manifest import Manifest
from filot_preflight.net.aws import AwsAccess, AwsProblem, classify, error_code, error_message, make_client
from filot_preflight.net.secrets_put import AwsUnavailable, PutResult, put_generated
from filot_preflight.sources import Value, ValueStore, decode_json_secret

if TYPE_CHECKING:
    from filot_preflight.checkers.base import Options

__all__ = [
    "BATCH_SIZE",
    "AwsProblem",
    "AwsRead",
    "AwsAccess",
    "AwsUnavailable",
    "PutResult",
    "SecretFact",
    "classify",
    "make_client",
    "put_generated",
    "read_secrets",
]

BATCH_SIZE = 20  # BatchGetSecretValue accepts at most 20 ids in SecretIdList
LIST_FILTER_SIZE = 10  # ListSecrets accepts at most 10 values per filter
NOT_FOUND = "ResourceNotFoundException"  # also secrets_put.NOT_FOUND
CONFIRM_MAX = 50  # at most 5 ListSecrets calls to tell "no such secret" from "secret without a value"
_NO_VALUE = re.compile(r"staging label|VersionId|version ?stage|AWSCURRENT", re.IGNORECASE)


@dataclass(frozen=True)
class SecretFact:
    """What Secrets Manager says about one secret id. Names of JSON keys only, never values."""

    secret_id: str
    found: bool
    has_current: bool = False
    created: datetime | None = None  # CreatedDate of the AWSCURRENT version: when the value last changed
    is_json: bool = False
    binary: bool = False
    keys: tuple[str, ...] = ()
    error_code: str = ""
    error_message: str = ""

    def has_key(self, key: str) -> bool:
        """Whether the current value is a JSON object holding `key`."""
        return self.is_json and key in self.keys


@dataclass(frozen=True)
class AwsRead:
    """Result of one batched read: values (source 'aws'), facts per secret id, API calls made."""

    values: list[Value] = field(default_factory=list)
    facts: dict[str, SecretFact] = field(default_factory=dict)
    calls: int = 0
    problem: AwsProblem | None = None
    region: str | None = None
    endpoint: str | None = None
    credentials: str = ""  # where boto3 found them: env, shared-credentials-file, env-file, ...

    def __repr__(self) -> str:  # values are SecretStr already; keep the repr short anyway
        n, s = len(self.values), len(self.facts)
        return f"AwsRead({n} values, {s} secrets, calls={self.calls}, problem={self.problem})"


def secret_ids(manifest: Manifest) -> list[str]:
    """Distinct Secrets Manager ids of the manifest, in manifest order."""
    return list(dict.fromkeys(v.aws_secret.id for v in manifest.variables if v.aws_secret))


def read_secrets(manifest: Manifest, options: Options, values: ValueStore | None = None) -> AwsRead:
    """Read every manifest secret from Secrets Manager in batches; never raises for AWS trouble.

    The region is `options.aws_region`, else the AWS_REGION value in `values`, else boto3's default.
    """
    access = AwsAccess.from_options(options, values)
    ids = secret_ids(manifest)
    endpoint = access.endpoint or _env_endpoint("SECRETS_MANAGER")
    try:
        aws = make_client("secretsmanager", access)
    except Exception as e:  # noqa: BLE001 - configuration trouble is a fact
        return AwsRead(problem=classify(e), region=access.region, endpoint=endpoint)
    client, counter = aws.client, aws.counter
    # New batches start only in the first part of the budget (--timeout): each may take a call's timeout.
    deadline = time.monotonic() + access.timeout * 0.5
    try:
        raw, errors = _batch_get(client, ids, deadline)
        for sid, (code, msg) in list(errors.items()):
            if code == NOT_FOUND and _NO_VALUE.search(msg):  # the secret is there, its value is not
                errors[sid] = ("NoCurrentVersion", "the secret exists but has no AWSCURRENT version")
        # A bare "can't find the secret" is confirmed with ListSecrets (10 names a call), but only
        # for a few ids: the cost must stay about N/20 calls even when most secrets are missing.
        missing = [i for i, (code, _) in errors.items() if code == NOT_FOUND][:CONFIRM_MAX]
        versionless = _existing(client, missing, deadline) if missing else {}
    except Exception as e:  # noqa: BLE001 - the call itself failed (auth, network): one problem
        return AwsRead(problem=classify(e), calls=counter.calls, region=aws.region, endpoint=endpoint,
                       credentials=aws.credentials)
    facts = {i: _fact(i, raw.get(i), errors.get(i), versionless) for i in ids}
    return AwsRead(
        values=_values(manifest, raw),
        facts=facts,
        calls=counter.calls,
        region=aws.region,
        endpoint=endpoint,
        credentials=aws.credentials,
    )


def _env_endpoint(service_env: str) -> str | None:
    """The endpoint boto3 takes from the process environment (for evidence only)."""
    return os.environ.get(f"AWS_ENDPOINT_URL_{service_env}") or os.environ.get("AWS_ENDPOINT_URL")


def _chunks(items: list[str], n: int) -> Iterator[list[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _batch_get(
    client: Any, ids: list[str], deadline: float
) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[str, str]]]:
    """SecretValues and Errors by requested id, 20 ids a call, following NextToken."""
    got: dict[str, dict[str, Any]] = {}
    errors: dict[str, tuple[str, str]] = {}
    for chunk in _chunks(ids, BATCH_SIZE):
        if time.monotonic() > deadline:  # the run's time is up: the rest is unknown, not missing
            errors.update({i: ("NotChecked", "not read before the time budget ran out") for i in chunk})
            continue
        _get_chunk(client, chunk, got, errors)
    return got, errors


_PER_SECRET_CODES = {NOT_FOUND, "InvalidRequestException", "DecryptionFailure"}


def _get_chunk(
    client: Any, chunk: list[str], got: dict[str, dict[str, Any]], errors: dict[str, tuple[str, str]]
) -> None:
    wanted = set(chunk)
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"SecretIdList": chunk}
        if token:
            kwargs["NextToken"] = token
        try:
            resp = client.batch_get_secret_value(**kwargs)
        except Exception as e:
            # Some implementations (moto) fail the whole batch for one secret without a current
            # version instead of listing it in Errors: split the chunk to isolate that secret.
            code = error_code(e)
            if code not in _PER_SECRET_CODES:
                raise
            if len(chunk) == 1:
                errors[chunk[0]] = (code, error_message(e))
                return
            half = len(chunk) // 2
            _get_chunk(client, chunk[:half], got, errors)
            _get_chunk(client, chunk[half:], got, errors)
            return
        for sv in resp.get("SecretValues", []):
            sid = next((k for k in (sv.get("Name"), sv.get("ARN")) if k in wanted), sv.get("Name"))
            got[str(sid)] = sv
        for err in resp.get("Errors", []):
            code, msg = str(err.get("ErrorCode", "")), str(err.get("Message", ""))
            errors[str(err.get("SecretId"))] = (code, msg)
        token = resp.get("NextToken")
        if not token:
            return


def _existing(client: Any, ids: list[str], deadline: float) -> dict[str, bool]:
    """For ids BatchGet called not found: which exist without an AWSCURRENT value (batched ListSecrets)."""
    out: dict[str, bool] = {}
    for chunk in _chunks(ids, LIST_FILTER_SIZE):
        if time.monotonic() > deadline:
            break
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Filters": [{"Key": "name", "Values": chunk}], "MaxResults": 100}
            if token:
                kwargs["NextToken"] = token
            resp = client.list_secrets(**kwargs)
            for s in resp.get("SecretList", []):
                if s.get("Name") in chunk:  # the name filter matches prefixes; keep exact names
                    out[str(s["Name"])] = True
            token = resp.get("NextToken")
            if not token:
                break
    return out


def _fact(
    sid: str, sv: dict[str, Any] | None, err: tuple[str, str] | None, versionless: dict[str, bool]
) -> SecretFact:
    if sv is None:
        code, msg = err or (NOT_FOUND, "not returned by BatchGetSecretValue")
        exists = versionless.get(sid, False)
        if code == NOT_FOUND and exists:
            code, msg = "NoCurrentVersion", "the secret exists but has no AWSCURRENT version"
        found = exists or code not in (NOT_FOUND, "NotChecked")
        return SecretFact(sid, found=found, error_code=code, error_message=msg[:300])
    text = sv.get("SecretString")
    binary = text is None and sv.get("SecretBinary") is not None
    decoded = decode_json_secret(sid, text) if isinstance(text, str) else None
    return SecretFact(
        sid,
        found=True,
        has_current="AWSCURRENT" in (sv.get("VersionStages") or ["AWSCURRENT"]),
        created=sv.get("CreatedDate"),
        is_json=decoded is not None,
        binary=binary,
        keys=tuple(sorted(decoded)) if decoded is not None else (),
    )


def _values(manifest: Manifest, raw: dict[str, dict[str, Any]]) -> list[Value]:
    out: list[Value] = []
    for var in manifest.variables:
        ref = var.aws_secret
        if ref is None or ref.id not in raw:
            continue
        sv = raw[ref.id]
        text = sv.get("SecretString")
        if text is None and isinstance(sv.get("SecretBinary"), bytes | bytearray):
            text = bytes(sv["SecretBinary"]).decode("utf-8", "replace")
        if not isinstance(text, str):
            continue
        if ref.key is None:
            out.append(Value(var.name, SecretStr(text), "aws", f"aws:{ref.id}"))
            continue
        decoded = decode_json_secret(ref.id, text)
        if decoded is not None and ref.key in decoded:
            out.append(Value(var.name, SecretStr(decoded[ref.key]), "aws", f"aws:{ref.id}#{ref.key}"))
    return out


# --- the one write: `preflight secrets generate NAME --put [--overwrite]` --------------------------
