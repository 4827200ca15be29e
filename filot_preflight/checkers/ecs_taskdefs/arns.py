"""`secrets[].valueFrom` read as ECS reads it, and the real ARNs Secrets Manager holds for the manifest's ids.

ECS takes, for a Secrets Manager secret, the ARN
`arn:<partition>:secretsmanager:<region>:<account>:secret:<name>[:<json-key>:<version-stage>:<version-id>]`:
either the seven fields of the whole secret or all ten (empty ones allowed, e.g. `...:secret:db-AbCdEf:password::`).
A name-only `valueFrom` is taken as a Systems Manager parameter (`arn:<partition>:ssm:...:parameter/<name>` or,
in the task's region, the bare name). Secrets Manager ends a secret's ARN with `-` and six random characters;
a reference without them is a partial ARN, which Secrets Manager resolves by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")  # Secrets Manager appends 6 random characters to the ARN's name
# Region prefix -> partition (AWS's partitions; everything else is the commercial `aws`).
_PARTITIONS = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b"), ("us-iso-", "aws-iso"),
               ("eu-isoe-", "aws-iso-e"), ("us-isof-", "aws-iso-f"))


@dataclass(frozen=True)
class SecretArn:
    """A parsed `valueFrom`: partition, service, region, account, secret name (with suffix), JSON key, version."""

    service: str
    region: str
    account: str
    name: str = ""
    key: str = ""
    partition: str = "aws"
    stage: str = ""
    version_id: str = ""
    fields: int = 7  # of the whole ARN split at ':' (ECS accepts 7 or 10 for a secret)

    @property
    def base(self) -> str:
        """The secret's own ARN (no JSON key, no version)."""
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:secret:{self.name}"

    @property
    def malformed(self) -> bool:
        """Not a shape ECS accepts for a Secrets Manager secret."""
        return self.service == "secretsmanager" and (self.fields not in (7, 10) or not self.name)


def parse_arn(value: str) -> SecretArn | None:
    """Parse an ARN (Secrets Manager secrets in detail); None when `value` is not an ARN."""
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    _, partition, service, region, account, resource = parts
    if service != "secretsmanager":
        return SecretArn(service, region, account, resource, partition=partition)
    res = resource.split(":")
    if res[0] != "secret" or len(res) < 2:
        return SecretArn(service, region, account, resource, partition=partition, fields=0)
    extra = [*res[2:], "", "", ""]
    return SecretArn(service, region, account, res[1], extra[0], partition, extra[1], extra[2], 5 + len(res))


def partition_of(region: str) -> str:
    """The partition a region belongs to (`aws` unless China, GovCloud or an ISO region)."""
    return next((p for prefix, p in _PARTITIONS if region.startswith(prefix)), "aws")


def resolve_secret_id(name: str, ids: frozenset[str]) -> str:
    """The manifest id an ARN's secret name denotes: exact first, then without the random suffix.

    Exact first, because a manifest id may itself end like a suffix ('database-url' + '-direct').
    """
    if name in ids:
        return name
    stripped = _SUFFIX.sub("", name)
    return stripped if stripped in ids else name


def fetch_arns(client: Any, ids: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """ListSecrets filtered by name, 10 ids a call: ({id: real ARN}, {id: why not}). Raises what boto3 raises.

    The real ARN carries the current random suffix. Name filters match prefixes, so names are compared exactly.
    """
    found: dict[str, str] = {}
    for i in range(0, len(ids), 10):
        chunk = ids[i:i + 10]
        pages = client.get_paginator("list_secrets").paginate(
            Filters=[{"Key": "name", "Values": chunk}], PaginationConfig={"MaxItems": 500})
        for page in pages:
            for entry in page.get("SecretList", []):
                if entry.get("Name") in chunk and entry.get("ARN"):
                    found[str(entry["Name"])] = str(entry["ARN"])
    return found, {sid: "not found in Secrets Manager" for sid in ids if sid not in found}
