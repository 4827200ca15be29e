"""moto's server mode over HTTPS: the stand-in for AWS Secrets Manager and ECS.

Started with MOTO_ACCOUNT_ID set to the sandbox's AWS_ACCOUNT_ID so that the ARNs it returns carry the
same account the env file names, as in production.
"""

from __future__ import annotations

import secrets
import ssl
import urllib.request
from pathlib import Path

from filot_preflight.sandbox.base import LOOPBACK, SandboxContext, ServiceHandle, find_binary, free_port, launch

INSTALL = 'pip install "moto[server]"'
DEFAULT_REGION = "eu-central-1"


def start(ctx: SandboxContext, *, name: str = "moto", timeout: float = 30.0) -> ServiceHandle:
    """Start `moto_server` with the sandbox certificate; wait until its management API answers."""
    binary = find_binary("moto_server", INSTALL)
    port = free_port()
    account = ctx.values.get("AWS_ACCOUNT_ID") or "".join(secrets.choice("0123456789") for _ in range(12))
    argv = [binary, "-H", LOOPBACK, "-p", str(port)]
    argv += ["-c", str(ctx.certs.server_crt.resolve()), "-k", str(ctx.certs.server_key.resolve())]
    endpoint = f"https://{LOOPBACK}:{port}"
    return launch(
        ctx,
        name,
        argv,
        timeout,
        # MOTO_ECS_SERVICE_RUNNING: a created service reports this many running tasks and a COMPLETED rollout
        # when it asks for no more (the seed's desiredCount is 1), like a healthy deployment.
        proc_env={"MOTO_ACCOUNT_ID": account, "MOTO_ECS_SERVICE_RUNNING": "1"},
        cwd=ctx.state_dir(name),
        ports={"https": port},
        env={
            "AWS_ACCOUNT_ID": account,
            "AWS_REGION": ctx.values.get("AWS_REGION", DEFAULT_REGION),
            # Not manifest variables: how boto3 reaches the stand-in instead of AWS.
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_CA_BUNDLE": str(ctx.certs.ca_pem.resolve()),
            "AWS_ACCESS_KEY_ID": "AKIA" + secrets.token_hex(8).upper(),
            "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
            # Never fall back to instance metadata (a 1 s+ timeout per call off EC2).
            "AWS_EC2_METADATA_DISABLED": "true",
        },
        ready=lambda: _answers(endpoint, ctx.certs.ca_pem),
        info={"endpoint": endpoint, "account": account},
    )


def _answers(endpoint: str, ca: Path) -> bool:
    context = ssl.create_default_context(cafile=str(ca))
    with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1.0, context=context) as resp:  # noqa: S310
        return bool(resp.status == 200)
