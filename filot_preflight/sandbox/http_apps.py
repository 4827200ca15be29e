"""Small HTTPS apps: BULI2 (a third party) and the FiLot backend's health and webhook endpoints.

Each is `_https_app` in its own process with the sandbox certificate. BULI2's health endpoint wants
the generated BULI2_API_KEY; the backend's webhook verifies BULI2's HMAC signature of
"{timestamp}.{body}" with BULI2_SIGNATURE_SECRET and refuses unsigned or tampered callbacks.
"""

from __future__ import annotations

import secrets
import ssl
import urllib.error
import urllib.request
from pathlib import Path

from filot_preflight.manifest import Buli2Signature
from filot_preflight.sandbox.base import LOOPBACK, SandboxContext, ServiceHandle, free_port, launch, python_module

_MODULE = "filot_preflight.sandbox._https_app"


def start_buli2(ctx: SandboxContext, *, name: str = "buli2", port: int | None = None) -> ServiceHandle:
    """BULI2's API: GET /v1/health answers 200 with the right X-API-Key, 401 otherwise."""
    api_key = ctx.values.get("BULI2_API_KEY") or secrets.token_urlsafe(32)
    handle = _start(ctx, name, "buli2", port, {"SANDBOX_BULI2_API_KEY": api_key}, "/v1/health")
    url = f"https://{LOOPBACK}:{handle.ports['https']}"
    handle.env = {"BULI2_API_URL": url, "BULI2_API_KEY": api_key}
    return handle


def start_backend(
    ctx: SandboxContext, *, name: str = "backend", port: int | None = None, signature: Buli2Signature | None = None
) -> ServiceHandle:
    """The backend's GET /health and /ready (200 JSON) and POST /api/webhooks/buli2 (HMAC-verified)."""
    sig = signature or Buli2Signature(prefix="sha256=")
    secret = ctx.values.get("BULI2_SIGNATURE_SECRET") or secrets.token_urlsafe(32)
    extra = ["--signature-header", sig.header, "--timestamp-header", sig.timestamp_header]
    extra += ["--prefix", sig.prefix, "--algorithm", sig.algorithm, "--tolerance", str(sig.tolerance_s)]
    handle = _start(ctx, name, "backend", port, {"SANDBOX_SIGNATURE_SECRET": secret}, "/health", extra)
    url = f"https://{LOOPBACK}:{handle.ports['https']}"
    handle.env = {
        "API_BASE_URL": url,
        "BULI2_CALLBACK_URL": f"{url}/api/webhooks/buli2",
        "BULI2_SIGNATURE_SECRET": secret,
    }
    return handle


def _start(
    ctx: SandboxContext,
    name: str,
    role: str,
    port: int | None,
    secret_env: dict[str, str],
    probe_path: str,
    extra: list[str] | None = None,
) -> ServiceHandle:
    port = port or free_port()
    args = ["--role", role, "--port", str(port)]
    args += ["--cert", str(ctx.certs.server_crt.resolve()), "--key", str(ctx.certs.server_key.resolve())]
    argv, env = python_module(_MODULE, args + (extra or []), secret_env)
    url = f"https://{LOOPBACK}:{port}"
    return launch(
        ctx,
        name,
        argv,
        15.0,
        proc_env=env,
        cwd=ctx.state_dir(name),
        ports={"https": port},
        ready=lambda: https_status(url + probe_path, ctx.certs.ca_pem) > 0,
        info={"url": url},
    )


def https_status(url: str, ca: Path, headers: dict[str, str] | None = None, timeout: float = 1.0) -> int:
    """HTTP status of a GET, verifying TLS against `ca` (4xx/5xx are statuses, not errors)."""
    context = ssl.create_default_context(cafile=str(ca))
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - https URL we built
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as resp:  # noqa: S310
            return int(resp.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
