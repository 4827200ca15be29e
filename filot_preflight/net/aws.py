"""How preflight reaches AWS: settings (options, boto3's chain, env-file fallbacks), a bounded boto3
client, and the classification of what can go wrong (a problem with its fix, never a traceback).

boto3 is imported inside `make_client` only: importing this module must stay cheap.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from filot_preflight.fileio import read_pem
from filot_preflight.net import fixes
from filot_preflight.net.aws_models import shared_loader
from filot_preflight.net.aws_tls import share_ca_bundle
from filot_preflight.net.fixes import Endpoint
from filot_preflight.net.host_gate import LOOKUP_SHARE, HostRefused, check_host_sync
from filot_preflight.sources import ValueStore

if TYPE_CHECKING:
    from filot_preflight.checkers.base import Options

RETRY_MIN_TIMEOUT = 5.0  # below this --timeout, an AWS call is not retried (it would not fit)


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
    allow_loopback: bool = False  # --allow-loopback: a custom endpoint on loopback/private hosts (the sandbox)

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
        return cls(region, options.aws_profile, endpoint, options.timeout, verify, keys, options.allow_loopback)


_bundles: dict[tuple[str, str | None], str] = {}


def _bundle_with(extra: Path, base: str | None) -> str:
    """A CA bundle file holding the default (or AWS_CA_BUNDLE) CAs plus `extra` (boto3 takes one file)."""
    key = (str(extra), base)
    if key not in _bundles:
        from botocore.httpsession import get_cert_path

        try:
            default = base or str(get_cert_path(True))
            data = read_pem(default, "CA bundle") + "\n" + read_pem(extra, "CA file")
        except OSError:
            return str(extra)  # unreadable: let TLS verification fail and report it
        from filot_preflight.fileio import temp_file

        # Shared by every AWS client of the run (boto3 reads it at each connection), so removed at exit.
        _bundles[key] = temp_file(data, prefix="preflight-ca-")
    return _bundles[key]


@dataclass(frozen=True)
class AwsProblem:
    """Why AWS could not be asked at all (or the call itself failed), with the fix."""

    # no_credentials | no_region | profile | auth | access_denied | dns | unreachable | closed | timeout
    # | tls (certificate not trusted) | not_tls | tls_expired | tls_hostname | tls_error (handshake)
    # | host_refused (the endpoint's host is refused by the host gate: nothing sent) | error
    kind: str
    message: str
    code: str = ""
    # A finer kind for the fix only, where `kind` stays coarse: "refused" within "unreachable" (nothing
    # listens: the port, not the network path).
    fix_kind: str = ""

    @property
    def remedy(self) -> str:
        """The concrete fix for this kind of problem."""
        return _REMEDY.get(self.fix_kind or self.kind, _REMEDY["error"])


_ENDPOINT_FLAGS = "--aws-endpoint / AWS_ENDPOINT_URL"
# The AWS endpoint as the shared fix table sees it: without an override, boto3 derives it from the region.
_AWS_ENDPOINT = Endpoint(
    _ENDPOINT_FLAGS, "the AWS API endpoint", default_port="https: 443",
    tls_switch=f"use https:// in {_ENDPOINT_FLAGS}",
    notes={"dns": "Without an endpoint override the host follows the region (secretsmanager.<region>.amazonaws.com): "
           "check --aws-region / AWS_REGION.",
           "reset": f"An http:// URL on a TLS port ends the same way: use https:// in {_ENDPOINT_FLAGS}."},
)
_NETWORK_KINDS = ("dns", "refused", "unreachable", "closed", "timeout", "tls", "not_tls", "tls_expired",
                  "tls_hostname", "tls_error", "host_refused")
_REMEDY = {
    "no_credentials": "Provide AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
    "(+AWS_SESSION_TOKEN), AWS_PROFILE or --aws-profile, or run where an IAM role is attached.",
    "no_region": "Set the region: --aws-region, AWS_REGION in the env file or environment, "
    "or the profile's region.",
    "profile": "Use an existing profile (aws configure list-profiles) with --aws-profile / AWS_PROFILE.",
    "auth": "AWS rejected the credentials (expired session, deleted or mistyped key): refresh them (aws sso login "
    "--profile <profile>, or a new key pair in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, with AWS_SESSION_TOKEN "
    "for temporary keys) and check they belong to the production account (aws sts get-caller-identity).",
    "access_denied": "Grant the IAM principal secretsmanager:BatchGetSecretValue, GetSecretValue and "
    "ListSecrets (and ecs:DescribeTaskDefinition) on the filot/prod/* secrets.",
    **{k: fixes.fix(k, _AWS_ENDPOINT) for k in _NETWORK_KINDS},
    "error": "AWS answered with an error preflight does not recognise (its code and message are in the detail): "
    "check the region (--aws-region / AWS_REGION), the credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID) and the "
    f"endpoint ({_ENDPOINT_FLAGS}), then run again with -v.",
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
    if isinstance(e, HostRefused):
        return AwsProblem("host_refused", msg, "HostRefused")
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
        # Transport failures not named above (an http:// URL on a TLS port: the server hangs up; a proxy
        # refusing) are network problems, never kind "error": ecs_taskdefs reads "error" as "this family
        # does not exist" and would blame the task definitions for a broken endpoint.
        (bx.ConnectionClosedError, "closed"),
        (bx.ConnectionError, "unreachable"),
    ]
    if isinstance(e, bx.SSLError):
        # "pass --ca-file" is the fix for an untrusted CA only; a plain port, an expired or a wrong-host
        # certificate each need their own.
        from filot_preflight.net import tls as _tls

        ek = _tls.ErrorKind
        tls_kind = {ek.NOT_TLS: "not_tls", ek.CERT_EXPIRED: "tls_expired", ek.CERT_NOT_YET_VALID: "tls_expired",
                    ek.HOSTNAME_MISMATCH: "tls_hostname", ek.RESET: "closed", ek.TIMEOUT: "timeout",
                    ek.TLS_ERROR: "tls_error"}.get(_tls.classify(e), "tls")
        return AwsProblem(tls_kind, msg, "SSLError")
    cause = getattr(e, "kwargs", {}).get("error") if isinstance(e, bx.EndpointConnectionError) else None
    if cause is not None and ("NameResolution" in type(cause).__name__ or isinstance(cause, socket.gaierror)):
        return AwsProblem("dns", msg, "NameResolutionError")  # not "did not accept connections": no address
    if isinstance(e, bx.EndpointConnectionError):
        from filot_preflight.net import tls as _tls

        if _tls.classify(e) == _tls.ErrorKind.REFUSED:
            return AwsProblem("unreachable", msg, "EndpointConnectionError", fix_kind="refused")
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


def botocore_session() -> Any:
    """A new botocore session that shares one data loader with every other session of this process.

    Each checker needs its own session (its own credentials, profile, region), but the service models
    and endpoint data they parse are the same files: with one loader (`aws_models.shared_loader`) they
    are parsed once, not once per checker.
    """
    import botocore.session

    core = botocore.session.get_session()
    core.register_component("data_loader", shared_loader())
    return core


def make_client(service: str, access: AwsAccess) -> AwsClient:
    """A boto3 client with bounded timeouts and one retry.

    Raises NoRegionError / NoCredentialsError / ProfileNotFound before any network call, so a
    missing configuration is reported as such and not as an unreachable endpoint.
    """
    from botocore.config import Config
    from botocore.exceptions import NoCredentialsError, NoRegionError

    sess, creds, method, lock = _shared_session(access)
    region = access.region or sess.region_name
    if not region:
        raise NoRegionError()
    if creds is None:
        raise NoCredentialsError()
    # The checker's whole budget is --timeout: one attempt of (connect + read) takes at most ~3/4 of it;
    # a retry (and its backoff, up to 1 s) fits only from RETRY_MIN_TIMEOUT on, with shorter attempts.
    t = max(access.timeout, 1.0)
    retry = t >= RETRY_MIN_TIMEOUT
    config = Config(
        connect_timeout=max(t / (6 if retry else 3), 0.5),
        read_timeout=max(t / (5 if retry else 2.5), 0.5),
        retries={"total_max_attempts": 2 if retry else 1, "mode": "standard"},
    )
    name: Any = service  # the stubs only accept literal service names
    with lock:  # a boto3 session is not thread-safe: its clients are built one at a time
        client = sess.client(name, region_name=region, endpoint_url=access.endpoint, config=config,
                             verify=access.verify)
    _gate(client.meta.endpoint_url, access)  # before the first request: building the client sent nothing
    share_ca_bundle(client)
    counter = CallCounter()
    client.meta.events.register("before-call", counter)
    return AwsClient(client, region, method, counter)


_SESSIONS: dict[tuple[Any, ...], tuple[Any, Any, str, threading.Lock]] = {}
_SESSIONS_LOCK = threading.Lock()
_MAX_SESSIONS = 8


def _shared_session(access: AwsAccess) -> tuple[Any, Any, str, threading.Lock]:
    """(boto3 session, its credentials, where they came from, the lock its clients are built under).

    One session per way of reaching AWS (profile, region, the env file's keys, the process's AWS_*
    settings and home directory), shared by the checkers: each one built its own, twice when the keys
    came from an env file (~20 ms of CPU each, eight in a full check). A failure (an unknown profile) is
    raised again at every call, never kept.
    """
    keys = access.file_keys
    key = (access.profile, access.region, min(1.0, access.timeout),
           None if keys is None else tuple(k.get_secret_value() if k else None for k in keys),
           os.environ.get("HOME"), tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_"))))
    with _SESSIONS_LOCK:
        found = _SESSIONS.get(key)
        if found is None:
            found = _SESSIONS[key] = (*_new_session(access), threading.Lock())
            while len(_SESSIONS) > _MAX_SESSIONS:  # a long watch whose keys were rotated: drop the oldest
                _SESSIONS.pop(next(iter(_SESSIONS)))
    return found


def _new_session(access: AwsAccess) -> tuple[Any, Any, str]:
    import boto3

    def session(**keys: str | None) -> Any:
        core = botocore_session()
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
    return sess, creds, method


# AWS's own endpoint domains (what boto3 derives from the region): public by construction, not resolved.
_AWS_DOMAINS = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


def _gate(url: str, access: AwsAccess) -> None:
    """The host gate for a custom endpoint (--aws-endpoint, AWS_ENDPOINT_URL[_<SERVICE>], a profile's
    endpoint_url): raises HostRefused, so no signed request goes to a host the policy refuses."""
    host = (urlsplit(url).hostname or "").lower()
    if host.endswith(_AWS_DOMAINS):
        return
    check = check_host_sync(host, allow_loopback=access.allow_loopback, timeout=max(0.1, access.timeout * LOOKUP_SHARE))
    if check.refused:
        raise HostRefused(check)


def error_code(e: BaseException) -> str:
    """The AWS error code of a ClientError ('' for anything else)."""
    resp = getattr(e, "response", None)
    return str(resp.get("Error", {}).get("Code", "")) if isinstance(resp, dict) else ""


def error_message(e: BaseException) -> str:
    """The AWS error message of a ClientError (else the exception text), one line, at most 300 characters."""
    resp = getattr(e, "response", None)
    msg = resp.get("Error", {}).get("Message", "") if isinstance(resp, dict) else ""
    return " ".join(str(msg or e).split())[:300]
