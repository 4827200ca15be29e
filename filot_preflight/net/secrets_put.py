"""The one write to Secrets Manager: `preflight secrets generate NAME --put [--overwrite]`.

Creates the secret at the variable's manifest path, or adds a new AWSCURRENT version; a JSON secret
gets the one key merged in (the other keys are kept). An existing value is never replaced without
`overwrite=True`. The value never appears in a message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from filot_preflight.errors import PreflightError, UsageError
from filot_preflight.manifest import Manifest
from filot_preflight.net.aws import AwsAccess, classify, error_code, make_client
from filot_preflight.redact import Redactor
from filot_preflight.sources import ValueStore

if TYPE_CHECKING:
    from filot_preflight.checkers.base import Options

NOT_FOUND = "ResourceNotFoundException"


class AwsUnavailable(PreflightError):
    """Secrets Manager cannot be used (credentials, region, endpoint). One line, names the fix."""


@dataclass(frozen=True)
class PutResult:
    """What `put_generated` did: 'created' a new secret or 'updated' (a new AWSCURRENT version)."""

    secret_id: str
    key: str | None
    action: str
    version_id: str = ""


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
    current: str | None = None
    new_text = ""
    try:
        client = make_client("secretsmanager", access).client
        current = _current_string(client, ref.id)
        new_text = _merged(ref.id, ref.key, current, plain, overwrite)
        if current is None:
            try:
                resp = client.create_secret(Name=ref.id, SecretString=new_text)
                return PutResult(ref.id, ref.key, "created", str(resp.get("VersionId", "")))
            except Exception as e:
                if error_code(e) != "ResourceExistsException":  # exists without a current value
                    raise
        resp = client.put_secret_value(SecretId=ref.id, SecretString=new_text)
        return PutResult(ref.id, ref.key, "updated", str(resp.get("VersionId", "")))
    except PreflightError:
        raise
    except Exception as e:  # noqa: BLE001 - mapped to one line with the fix
        p = classify(e)
        # An endpoint (or proxy) that echoes the request puts the new value in its error text: mask it,
        # and the whole merged object (it holds the secret's other keys too).
        mask = Redactor([plain, new_text, current or ""])
        raise AwsUnavailable(mask.redact(f"cannot write {ref.id}: {p.message} ({p.remedy})")) from None


def _current_string(client: Any, sid: str) -> str | None:
    """The AWSCURRENT SecretString, or None when the secret or its current version does not exist."""
    try:
        resp = client.get_secret_value(SecretId=sid)
    except Exception as e:
        if error_code(e) == NOT_FOUND:
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
