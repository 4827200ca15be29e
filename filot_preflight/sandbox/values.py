"""Values for every manifest variable, chosen before the servers start: strong secrets, names, defaults.

Secrets come from a CSPRNG and satisfy the manifest's own format rules (a check against the sandbox
must pass the production rule set). Values that depend on a running server (URLs with ports) are
contributed later by the services' handles and override these.
"""

from __future__ import annotations

import base64
import re
import secrets
import string
import uuid

from filot_preflight.manifest import EnumFormat, Generate, Manifest, RegexFormat, SecretFormat, Variable

# Names that differ from the manifest's production examples so nobody mistakes the sandbox for prod.
SANDBOX_NAMES = {
    "CF_R2_BUCKET": "filot-documents-sandbox",
    "ECS_CLUSTER": "filot-sandbox",
    "TEMPORAL_NAMESPACE": "filot-sandbox",
    "TEMPORAL_TASK_QUEUE": "filot-documents",
    "AWS_REGION": "eu-central-1",
    "NODE_ENV": "production",
    "LOG_LEVEL": "info",
}

_ALNUM = string.ascii_letters + string.digits
# "prefix[class]{n}" or "prefix[class]{n,}" (the shapes the FiLot manifest uses for API keys and ids).
_SIMPLE = re.compile(r"^(?P<prefix>[A-Za-z0-9_]*)\[(?P<cls>[^\]]+)\]\{(?P<n>\d+)(?P<open>,)?\d*\}$")


def generate(manifest: Manifest) -> dict[str, str]:
    """A value for each manifest variable that can be chosen without a running server."""
    values: dict[str, str] = {}
    for var in manifest.variables:
        value = _value_for(var)
        if value is not None:
            values[var.name] = value
    # Services consume these; the ids are fixed so that the env file can name them before start.
    values["TEMPORAL_API_KEY"] = secrets.token_urlsafe(32)
    return values


def _value_for(var: Variable) -> str | None:
    if var.name in SANDBOX_NAMES:
        return SANDBOX_NAMES[var.name]
    fmt = var.format
    if var.generate is not None:
        return random_secret(var.generate)
    if isinstance(fmt, SecretFormat):
        spec = Generate(bytes=max(fmt.min_bytes, 32), encoding="hex" if fmt.encoding == "hex" else "base64")
        return random_secret(spec)
    if isinstance(fmt, RegexFormat):
        # Secrets and AWS-stored values are random: an example (123456789012) reads as a placeholder.
        randomize = var.secret or var.aws_secret is not None or not var.example
        value = from_pattern(fmt.pattern) if randomize else var.example
        if value is None or not re.fullmatch(fmt.pattern, value):
            value = var.example if var.example and re.fullmatch(fmt.pattern, var.example) else None
        return value
    if isinstance(fmt, EnumFormat):
        return var.example if var.example in fmt.values else fmt.values[0]
    if var.default is not None:
        return var.default
    if fmt is None and var.example is not None and not var.secret:
        return var.example
    return None


def random_secret(spec: Generate) -> str:
    """`spec.bytes` random bytes in the requested encoding (what `openssl rand` would print)."""
    raw = secrets.token_bytes(spec.bytes)
    if spec.encoding == "hex":
        return raw.hex()
    if spec.encoding == "urlsafe":
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return base64.b64encode(raw).decode()


def from_pattern(pattern: str) -> str | None:
    """A random string fully matching `pattern`, for the simple shapes manifests use; None otherwise."""
    if pattern.startswith("[0-9a-f]{8}-[0-9a-f]{4}"):
        return str(uuid.uuid4())
    m = _SIMPLE.match(pattern)
    if m is None:
        return None
    alphabet = _alphabet(m["cls"])
    if not alphabet:
        return None
    count = int(m["n"]) + (20 if m["open"] else 0)  # comfortably above an open-ended minimum
    first = secrets.choice(alphabet.replace("0", "") or alphabet)  # no leading zero (account ids)
    return m["prefix"] + first + "".join(secrets.choice(alphabet) for _ in range(count - 1))


def _alphabet(cls: str) -> str:
    chars = ""
    i = 0
    while i < len(cls):
        if i + 2 < len(cls) and cls[i + 1] == "-":
            chars += "".join(chr(c) for c in range(ord(cls[i]), ord(cls[i + 2]) + 1))
            i += 3
        else:
            chars += cls[i]
            i += 1
    return "".join(c for c in dict.fromkeys(chars) if c in _ALNUM + "_")
