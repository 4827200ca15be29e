"""May the task's execution role read each secret it references? Read from IAM, judged without calling it.

ECS fetches `secrets[]` with the task's execution role (`secretsmanager:GetSecretValue` on each secret).
`read_role_policies` (blocking, read-only IAM calls) gathers the role's inline and attached policy
documents; `may_read` (pure) evaluates them for one secret ARN the way IAM does for identity
policies: an explicit Deny wins, else an Allow whose Action and Resource patterns match. Statements
with a `Condition`, `NotAction` or `NotResource` cannot be decided offline: the answer is then "unknown".
Permission boundaries, SCPs and resource policies are not read (said in the docs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

ACTION = "secretsmanager:GetSecretValue"
MAX_POLICIES = 30  # a bound on the IAM calls per role


def role_name(role_arn: str) -> str | None:
    """`filot-ecs-execution` of `arn:aws:iam::123:role/path/filot-ecs-execution`; None when not a role ARN."""
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return None
    return parts[5].rsplit("/", 1)[-1] or None


def read_role_policies(iam: Any, name: str) -> list[dict[str, Any]]:
    """The role's policy documents (inline, then attached default versions). Raises what boto3 raises."""
    docs: list[dict[str, Any]] = []
    for pname in iam.list_role_policies(RoleName=name).get("PolicyNames", [])[:MAX_POLICIES]:
        docs.append(_doc(iam.get_role_policy(RoleName=name, PolicyName=pname)["PolicyDocument"]))
    attached = iam.list_attached_role_policies(RoleName=name).get("AttachedPolicies", [])[:MAX_POLICIES]
    for p in attached:
        version = iam.get_policy(PolicyArn=p["PolicyArn"])["Policy"]["DefaultVersionId"]
        docs.append(_doc(iam.get_policy_version(PolicyArn=p["PolicyArn"], VersionId=version)["PolicyVersion"]
                         ["Document"]))
    return docs


def _doc(raw: Any) -> dict[str, Any]:
    # boto3 decodes the documents; some endpoints return them URL-encoded JSON text.
    if isinstance(raw, str):
        raw = json.loads(unquote(raw))
    return raw if isinstance(raw, dict) else {}


def _list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)] if value is not None else []


def _matches(pattern: str, text: str, *, fold: bool = False) -> bool:
    """IAM wildcards: `*` any run, `?` one character (actions compare case-insensitively)."""
    rx = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(rx, text, re.IGNORECASE if fold else 0) is not None


def may_read(docs: Iterable[dict[str, Any]], secret_arn: str) -> bool | None:
    """True: allowed; False: not allowed (no Allow, or an explicit Deny); None: a statement IAM alone decides."""
    allowed = undecided = False
    for doc in docs:
        statements = doc.get("Statement", [])
        for st in statements if isinstance(statements, list) else [statements]:
            if not isinstance(st, dict):
                continue
            if "NotAction" in st or "NotResource" in st or "Condition" in st:
                undecided = True  # a condition or a negation: only IAM's own evaluation can tell
                continue
            hit = any(_matches(a, ACTION, fold=True) for a in _list(st.get("Action"))) and any(
                _matches(r, secret_arn) for r in _list(st.get("Resource")))
            if hit and st.get("Effect") == "Deny":
                return False
            allowed = allowed or (hit and st.get("Effect") == "Allow")
    if undecided:
        return None
    return allowed
