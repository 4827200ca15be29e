"""Buckets on the sandbox's SeaweedFS (real SigV4) for the r2 live tests, and an admin client to inspect them.

`r2_buckets` creates its own buckets, so the tests never change the shared sandbox bucket:
`ok` has a CORS rule for `R2_ORIGIN`, `nocors` has none. Both are emptied and removed at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from filot_preflight.sandbox.base import SandboxContext, ServiceHandle

R2_ORIGIN = "https://app.preflight-test.example"


@dataclass(frozen=True)
class R2Buckets:
    """Names of the test buckets and an admin S3 client (the sandbox identity) to arrange and inspect them."""

    ok: str
    nocors: str
    client: Any
    env: dict[str, str]

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key in `bucket` under `prefix`."""
        resp = self.client.list_objects_v2(Bucket=bucket, Prefix=prefix)
        return [o["Key"] for o in resp.get("Contents", [])]


def admin_client(s3_server: ServiceHandle, sandbox_ctx: SandboxContext) -> Any:
    """A boto3 S3 client with the sandbox identity, trusting the sandbox CA."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=s3_server.env["CF_R2_ENDPOINT"],
        region_name="auto",
        aws_access_key_id=s3_server.env["CF_R2_ACCESS_KEY_ID"],
        aws_secret_access_key=s3_server.env["CF_R2_SECRET_ACCESS_KEY"],
        verify=str(sandbox_ctx.certs.ca_pem),
        config=Config(connect_timeout=3, read_timeout=10, retries={"total_max_attempts": 2},
                      s3={"addressing_style": "path"}),
    )


@pytest.fixture(scope="session")
def r2_buckets(s3_server: ServiceHandle, sandbox_ctx: SandboxContext) -> Iterator[R2Buckets]:
    """Two fresh buckets on the sandbox S3 server: one with CORS for R2_ORIGIN, one without."""
    client = admin_client(s3_server, sandbox_ctx)
    suffix = uuid.uuid4().hex[:8]
    ok, nocors = f"preflight-r2-ok-{suffix}", f"preflight-r2-nocors-{suffix}"
    for name in (ok, nocors):
        client.create_bucket(Bucket=name)
    rule = {"AllowedOrigins": [R2_ORIGIN], "AllowedMethods": ["GET", "PUT", "HEAD"], "AllowedHeaders": ["*"],
            "MaxAgeSeconds": 600}
    client.put_bucket_cors(Bucket=ok, CORSConfiguration={"CORSRules": [rule]})
    try:
        yield R2Buckets(ok=ok, nocors=nocors, client=client, env=dict(s3_server.env))
    finally:
        for name in (ok, nocors):
            for key in R2Buckets(ok, nocors, client, {}).keys(name):
                client.delete_object(Bucket=name, Key=key)
            client.delete_bucket(Bucket=name)
