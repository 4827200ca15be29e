"""The AWS stand-in (moto over HTTPS, seeded by the sandbox) for the Secrets Manager and ECS tests.

`moto_aws` (session scope) wraps the shared `sandbox_stack` fixture: `stack.up` starts moto with the
sandbox CA and seeds it like production (every manifest secret; both task definitions registered
and written to taskdefs/*.json). That seeded region is a correct deployment and tests only READ it;
tests that create or break secrets use a `scratch_region` of their own (moto keeps regions apart),
so they never disturb each other, the seed, or the sandbox's own tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from filot_preflight import manifest as manifest_mod
from filot_preflight.checkers.base import CheckContext, Options
from filot_preflight.manifest import Manifest
from filot_preflight.redact import Redactor
from filot_preflight.sandbox.stack import Stack
from filot_preflight.sources import Value, ValueStore, read_env_file


@dataclass
class MotoAws:
    """A running, seeded moto: where it is and how to talk to it."""

    endpoint: str
    ca_file: Path
    account: str
    region: str
    env_file: Path
    taskdefs: list[Path]
    keys: dict[str, str] = field(repr=False)

    def options(self, **kw: Any) -> Options:
        """Run options pointing at moto (explicit endpoint, the sandbox CA as extra CA, short timeout; moto is on
        loopback, so --allow-loopback as in every sandbox run)."""
        base: dict[str, Any] = {"aws_endpoint": self.endpoint, "aws_region": self.region, "ca_file": self.ca_file,
                                "timeout": 5.0, "allow_loopback": True}
        return Options(**{**base, **kw})

    def values(self, extra: dict[str, str] | None = None, *, with_keys: bool = True) -> ValueStore:
        """The sandbox's backend env file (with moto's endpoint, CA and keys), plus `extra`."""
        store = ValueStore(read_env_file(self.env_file))
        if not with_keys:
            store = ValueStore([v for v in store.values if v.name not in _PLUMBING])
        store.add(Value(k, SecretStr(v), "file", "test") for k, v in (extra or {}).items())
        return store

    def context(self, m: Manifest | None = None, values: ValueStore | None = None, **opts: Any) -> CheckContext:
        """A CheckContext for a checker run against moto."""
        return CheckContext(m or manifest_mod.load(), values or self.values(), self.options(**opts), Redactor())

    def client(self, service: str, region: str | None = None) -> Any:
        """A plain boto3 client for arranging test data."""
        import boto3

        return boto3.client(
            service, region_name=region or self.region, endpoint_url=self.endpoint, verify=str(self.ca_file),
            aws_access_key_id=self.keys["AWS_ACCESS_KEY_ID"], aws_secret_access_key=self.keys["AWS_SECRET_ACCESS_KEY"],
        )


@pytest.fixture(scope="session")
def moto_aws(sandbox_stack: Stack) -> MotoAws:
    """The sandbox's seeded moto, seen through its backend env file."""
    env = sandbox_stack.env()
    return MotoAws(
        endpoint=env["AWS_ENDPOINT_URL"],
        ca_file=sandbox_stack.ca_file,
        account=env["AWS_ACCOUNT_ID"],
        region=env["AWS_REGION"],
        env_file=sandbox_stack.env_file,
        taskdefs=sorted((sandbox_stack.dir / "taskdefs").glob("*.json")),
        keys={k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")},
    )


_PLUMBING = {"AWS_ENDPOINT_URL", "AWS_CA_BUNDLE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


@pytest.fixture
def scratch_region() -> str:
    """A region of moto no other test uses (moto keeps regions apart), for tests that write."""
    regions = ["us-west-1", "us-west-2", "us-east-2", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
               "ap-southeast-1", "ap-southeast-2", "ca-central-1", "eu-west-1", "eu-west-2", "eu-west-3",
               "eu-north-1", "sa-east-1", "me-south-1", "af-south-1", "ap-northeast-3", "ap-southeast-3",
               "ap-east-1", "eu-south-1", "me-central-1", "eu-central-2", "ap-south-2", "eu-south-2"]
    return _next_region(regions)


_used: set[str] = set()


def _next_region(regions: list[str]) -> str:
    for r in regions:
        if r not in _used:
            _used.add(r)
            return r
    raise RuntimeError("out of scratch regions; add more to fixtures_moto.scratch_region")


@pytest.fixture
def clean_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AWS configuration from the process or ~/.aws: only what a test passes explicitly."""
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
              "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER",
              "AWS_ENDPOINT_URL_ECS", "AWS_CA_BUNDLE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
              "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
