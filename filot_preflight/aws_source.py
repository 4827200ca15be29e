"""AWS Secrets Manager as a value source, and the AWS facts that the `aws_secrets` checker judges.

Reads are batched: `BatchGetSecretValue` with at most 20 ids a call (N secrets cost about N/20 calls,
never one per secret). Each secret becomes a `SecretFact` (found, current version, JSON keys, date of
the current version, error code); a whole-call problem (no credentials, no region, endpoint down) is
one `AwsProblem`, never a traceback. boto3 is imported lazily: `preflight --help` must stay cheap.

Entry points: `read_secrets(manifest, options, values)` (the `--source aws` reader and the checker's
probe), `put_generated(...)` (the only write, for `preflight secrets generate --put`), and
`make_client(service, settings)` with `classify(exc)` that the ECS checker shares.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from filot_preflight.errors import PreflightError, UsageError
from filot_preflight.manifest import Manifest
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
NOT_FOUND = "ResourceNotFoundException"
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


class AwsUnavailable(PreflightError):
    """Secrets Manager cannot be used (credentials, region, endpoint). One line, names the fix."""


@dataclass(frozen=True)
class PutResult:
    """What `put_generated` did: 'created' a new secret or 'updated' (a new AWSCURRENT version)."""

    secret_id: str
    key: str | None
    action: str
    version_id: str = ""


# --- settings, clients, problems ------------------------------------------------------------------


@dataclass(frozen=True)
class AwsAccess:
    """How to reach AWS. Explicit options win, then boto3's own chain (process env, profile), then
    the AWS_* settings of the env files (e.g. the sandbox's endpoint, CA bundle and keys).
    """

    region: str | None = None
    profile: str | None = None
    endpoint: str | None = None  # None: boto3 honours AWS_ENDPOINT_URL[_<SERVICE>] itself
    timeout: float = 10.0
    verify: bool | str | None = None  # None: boto3's default bundle or AWS_CA_BUNDLE
    file_keys: tuple[SecretStr, SecretStr, SecretStr | None] | None = field(default=None, repr=False)

    @classmethod
    def from_options(cls, options: Options, values: ValueStore | None = None) -> AwsAccess:
        """Build from run options, falling back to env-file values only where boto3 finds nothing."""
        def setting(name: str) -> str | None:
            v = values.get(name) if values is not None else None
            return (v.value.get_secret_value().strip() or None) if v is not None else None

        region = options.aws_region or setting("AWS_REGION")
        endpoint = options.aws_endpoint
        if endpoint is None and not any(k.startswith("AWS_ENDPOINT_URL") for k in os.environ):
            endpoint = setting("AWS_ENDPOINT_URL")
        bundle = os.environ.get("AWS_CA_BUNDLE") or setting("AWS_CA_BUNDLE")
        verify: bool | str | None = bundle
        if options.ca_file is not None:  # an extra trusted CA, on top of the public ones
            verify = _bundle_with(options.ca_file, bundle)
        if options.insecure:
            verify = False
        key_id, secret = setting("AWS_ACCESS_KEY_ID"), setting("AWS_SECRET_ACCESS_KEY")
        token = setting("AWS_SESSION_TOKEN")
        keys = (SecretStr(key_id), SecretStr(secret), SecretStr(token) if token else None) \
            if key_id and secret else None
        return cls(region, options.aws_profile, endpoint, options.timeout, verify, keys)


_bundles: dict[tuple[str, str | None], str] = {}


def _bundle_with(extra: Path, base: str | None) -> str:
    """A CA bundle file holding the default (or AWS_CA_BUNDLE) CAs plus `extra` (boto3 takes one file)."""
    key = (str(extra), base)
    if key not in _bundles:
        from botocore.httpsession import get_cert_path

        try:
            default = base or str(get_cert_path(True))
            data = Path(default).read_bytes() + b"\n" + extra.read_bytes()
        except OSError:
            return str(extra)  # unreadable: let TLS verification fail and report it
        with tempfile.NamedTemporaryFile("wb", prefix="preflight-ca-", suffix=".pem", delete=False) as f:
            f.write(data)
        _bundles[key] = f.name
    return _bundles[key]


@dataclass(frozen=True)
class AwsProblem:
    """Why AWS could not be asked at all (or the call itself failed), with the fix."""

    # no_credentials | no_region | profile | auth | access_denied | unreachable | timeout | tls | error
    kind: str
    message: str
    code: str = ""

    @property
    def remedy(self) -> str:
        """The concrete fix for this kind of problem."""
        return _REMEDY.get(self.kind, _REMEDY["error"])


_REMEDY = {
    "no_credentials": "Provide AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
    "(+AWS_SESSION_TOKEN), AWS_PROFILE or --aws-profile, or run where an IAM role is attached.",
    "no_region": "Set the region: --aws-region, AWS_REGION in the env file or environment, "
    "or the profile's region.",
    "profile": "Use an existing profile (aws configure list-profiles) with --aws-profile / AWS_PROFILE.",
    "auth": "The credentials were rejected: refresh them (aws sso login / new access keys) "
    "and check the account.",
    "access_denied": "Grant the IAM principal secretsmanager:BatchGetSecretValue, GetSecretValue and "
    "ListSecrets (and ecs:DescribeTaskDefinition) on the filot/prod/* secrets.",
    "unreachable": "The endpoint did not accept connections: check --aws-endpoint / AWS_ENDPOINT_URL, "
    "network access (VPC endpoint, proxy) and the region.",
    "timeout": "The endpoint did not answer in time: check network access, or raise --timeout.",
    "tls": "TLS verification of the endpoint failed: pass --ca-file for a private CA "
    "(or fix the endpoint URL).",
    "error": "Check the AWS settings (region, credentials, endpoint) and run again with -v.",
}

_AUTH_CODES = {
    "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException",
    "SignatureDoesNotMatch", "ExpiredTokenException", "ExpiredToken", "IncompleteSignature",
    "MissingAuthenticationToken",
}


def classify(e: BaseException) -> AwsProblem:
    """Map a boto3/botocore exception to a problem kind; the message is short and holds no secret."""
    from botocore import exceptions as bx

    msg = " ".join(str(e).split())[:300]
    if isinstance(e, bx.ClientError):
        err = e.response.get("Error", {})
        code = str(err.get("Code", ""))
        text = " ".join(str(err.get("Message", "")).split())[:300] or msg
        if code in _AUTH_CODES:
            return AwsProblem("auth", text, code)
        if code in ("AccessDeniedException", "AccessDenied"):
            return AwsProblem("access_denied", text, code)
        return AwsProblem("error", text, code)
    kinds: list[tuple[type[BaseException], str]] = [
        (bx.NoCredentialsError, "no_credentials"),
        (bx.PartialCredentialsError, "no_credentials"),
        (bx.NoRegionError, "no_region"),
        (bx.ProfileNotFound, "profile"),
        (bx.SSLError, "tls"),
        (bx.ConnectTimeoutError, "timeout"),
        (bx.ReadTimeoutError, "timeout"),
        (bx.EndpointConnectionError, "unreachable"),
    ]
    for cls, kind in kinds:
        if isinstance(e, cls):
            return AwsProblem(kind, msg, cls.__name__)
    return AwsProblem("error", msg, e.__class__.__name__)


@dataclass
class CallCounter:
    """Counts API operations a client makes (botocore `before-call` event: one per operation)."""

    calls: int = 0

    def __call__(self, **_: Any) -> None:
        self.calls += 1


@dataclass
class AwsClient:
    """A ready boto3 client, its region, where its credentials came from, and its call counter."""

    client: Any
    region: str
    credentials: str
    counter: CallCounter


def make_client(service: str, access: AwsAccess) -> AwsClient:
    """A boto3 client with bounded timeouts and one retry.

    Raises NoRegionError / NoCredentialsError / ProfileNotFound before any network call, so a
    missing configuration is reported as such and not as an unreachable endpoint.
    """
    import boto3
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import NoCredentialsError, NoRegionError

    def session(**keys: str | None) -> Any:
        core = botocore.session.get_session()
        # Never wait long for instance metadata when no credentials are configured.
        core.set_config_variable("metadata_service_timeout", min(1.0, access.timeout))
        core.set_config_variable("metadata_service_num_attempts", 1)
        return boto3.session.Session(
            botocore_session=core, profile_name=access.profile, region_name=access.region, **keys
        )

    sess = session()
    creds = sess.get_credentials()
    method = str(getattr(creds, "method", "") or "")
    if creds is None and access.profile is None and access.file_keys is not None:
        kid, secret, token = access.file_keys
        sess = session(
            aws_access_key_id=kid.get_secret_value(),
            aws_secret_access_key=secret.get_secret_value(),
            aws_session_token=token.get_secret_value() if token else None,
        )
        creds, method = sess.get_credentials(), "env-file"
    region = access.region or sess.region_name
    if not region:
        raise NoRegionError()
    if creds is None:
        raise NoCredentialsError()
    # Two attempts of (connect + read) stay inside the runner's budget of 1.5 x timeout.
    t = max(access.timeout, 1.0)
    config = Config(
        connect_timeout=max(t / 3, 0.5),
        read_timeout=max(t / 2.5, 0.5),
        retries={"total_max_attempts": 2, "mode": "standard"},
    )
    name: Any = service  # the stubs only accept literal service names
    client = sess.client(name, region_name=region, endpoint_url=access.endpoint, config=config,
                         verify=access.verify)
    counter = CallCounter()
    client.meta.events.register("before-call", counter)
    return AwsClient(client, region, method, counter)


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
    deadline = time.monotonic() + max(access.timeout * 1.2, 2.0)
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
            code = _code(e)
            if code not in _PER_SECRET_CODES:
                raise
            if len(chunk) == 1:
                errors[chunk[0]] = (code, _message(e))
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


def put_generated(
    manifest: Manifest,
    name: str,
    value: str | SecretStr,
    options: Options,
    *,
    overwrite: bool = False,
    values: ValueStore | None = None,
) -> PutResult:
    """Store a generated value at the variable's Secrets Manager path (JSON key merged into the object).

    Refuses (UsageError, exit 2) to replace an existing value unless `overwrite`; AWS trouble is
    AwsUnavailable with the fix. The value never appears in any message.
    """
    try:
        ref = manifest.variable(name).aws_secret
    except KeyError:
        raise UsageError(f"{name}: not a variable of the manifest") from None
    if ref is None:
        raise UsageError(f"{name}: has no aws_secret path in the manifest; nothing to put")
    plain = value.get_secret_value() if isinstance(value, SecretStr) else value
    access = AwsAccess.from_options(options, values)
    try:
        client = make_client("secretsmanager", access).client
        current = _current_string(client, ref.id)
        new_text = _merged(ref.id, ref.key, current, plain, overwrite)
        if current is None:
            try:
                resp = client.create_secret(Name=ref.id, SecretString=new_text)
                return PutResult(ref.id, ref.key, "created", str(resp.get("VersionId", "")))
            except Exception as e:
                if _code(e) != "ResourceExistsException":  # exists without a current value
                    raise
        resp = client.put_secret_value(SecretId=ref.id, SecretString=new_text)
        return PutResult(ref.id, ref.key, "updated", str(resp.get("VersionId", "")))
    except PreflightError:
        raise
    except Exception as e:  # noqa: BLE001 - mapped to one line with the fix
        p = classify(e)
        raise AwsUnavailable(f"cannot write {ref.id}: {p.message} ({p.remedy})") from None


def _current_string(client: Any, sid: str) -> str | None:
    """The AWSCURRENT SecretString, or None when the secret or its current version does not exist."""
    try:
        resp = client.get_secret_value(SecretId=sid)
    except Exception as e:
        if _code(e) == NOT_FOUND:
            return None
        raise
    text = resp.get("SecretString")
    if text is None:
        raise UsageError(f"{sid}: holds a binary value; preflight only writes SecretString secrets")
    return str(text)


def _merged(sid: str, key: str | None, current: str | None, plain: str, overwrite: bool) -> str:
    hint = "pass --overwrite to replace it (the old value stays as AWSPREVIOUS)"
    if key is None:
        if current and not overwrite:
            raise UsageError(f"{sid} already holds a value; {hint}")
        return plain
    data: dict[str, Any] = {}
    if current:
        try:
            loaded = json.loads(current)
        except ValueError:
            loaded = None
        if not isinstance(loaded, dict):
            raise UsageError(f"{sid} holds a value that is not a JSON object; cannot add key {key!r} to it")
        data = loaded
    if data.get(key) not in (None, "") and not overwrite:
        raise UsageError(f"{sid} already holds key {key!r}; {hint}")
    data[key] = plain
    return json.dumps(data)


def _code(e: BaseException) -> str:
    resp = getattr(e, "response", None)
    return str(resp.get("Error", {}).get("Code", "")) if isinstance(resp, dict) else ""


def _message(e: BaseException) -> str:
    resp = getattr(e, "response", None)
    msg = resp.get("Error", {}).get("Message", "") if isinstance(resp, dict) else ""
    return " ".join(str(msg or e).split())[:300]
