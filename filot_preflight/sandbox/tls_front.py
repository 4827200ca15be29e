"""An nginx TLS front for a plaintext loopback server (Temporal's gRPC, the S3 API).

Some servers have no TLS flags of their own; the production rule set wants TLS everywhere, so nginx
terminates TLS with the sandbox certificate and passes the traffic on. Each front is its own nginx
master with its own prefix, config and pid file in the state folder: nothing touches /etc/nginx.
"""

from __future__ import annotations

import grp
import os
import pwd
import signal
import socket
import ssl
from pathlib import Path

from filot_preflight.sandbox.base import LOOPBACK, SandboxContext, ServiceHandle, find_binary, free_port, launch

INSTALL = "apt-get install -y nginx-light"
_WORKER_USER = "nobody"


def start(
    ctx: SandboxContext,
    name: str,
    upstream_port: int,
    *,
    grpc: bool = False,
    api_key: str | None = None,
    verify_client_certs: bool = False,
    cert: tuple[Path, Path] | None = None,
    timeout: float = 10.0,
) -> ServiceHandle:
    """Start nginx on a free port, TLS in front of 127.0.0.1:`upstream_port`.

    `grpc` proxies HTTP/2 gRPC (Temporal); otherwise plain HTTP/1.1 with the Host header kept intact,
    which SigV4 signatures cover. `api_key` makes the front refuse requests without
    `authorization: Bearer <key>` (Temporal Cloud's API-key scheme). `verify_client_certs` checks a
    client certificate against the sandbox CA when one is presented (mTLS).
    """
    nginx = find_binary("nginx", INSTALL, ["/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin"])
    state = ctx.state_dir(name)
    (state / "buffers").mkdir(exist_ok=True)
    port = free_port()
    crt, key = cert or (ctx.certs.server_crt, ctx.certs.server_key)
    conf = state / "nginx.conf"
    # The config may hold the API key: keep it private to the master (root reads it before dropping).
    conf.touch(mode=0o600)
    conf.write_text(_config(state, port, upstream_port, grpc, api_key, verify_client_certs, ctx.certs.ca_pem, crt, key))
    _own_tmp(state / "buffers")
    log = ctx.log_path(name)
    argv = [nginx, "-p", f"{state.resolve()}/", "-c", str(conf.resolve()), "-e", str(log.resolve())]
    return launch(
        ctx,
        name,
        argv,
        timeout,
        ports={"tls": port},
        stop_signal=signal.SIGTERM,  # fast shutdown; SIGQUIT would wait for gRPC long polls to end
        ready=lambda: tls_handshake(port, ctx.certs.ca_pem),
        info={"url": f"https://{LOOPBACK}:{port}", "upstream": f"{LOOPBACK}:{upstream_port}"},
    )


def tls_handshake(port: int, ca: Path, host: str = LOOPBACK, timeout: float = 1.0) -> bool:
    """Whether a TLS handshake with host:port succeeds, verifying the certificate against `ca`."""
    context = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=host),
    ):
        return True


def _config(
    state: Path,
    port: int,
    upstream: int,
    grpc: bool,
    api_key: str | None,
    verify_client: bool,
    ca: Path,
    crt: Path,
    key: Path,
) -> str:
    s = state.resolve()
    user = f"user {_WORKER_USER} {_worker_group()};" if os.geteuid() == 0 else ""
    auth = f'if ($http_authorization != "Bearer {api_key}") {{ return 401; }}' if api_key else ""
    # A bare HTTP 401 reaches a gRPC client as a protocol error; answer with a gRPC status instead.
    denied = _GRPC_DENIED if (api_key and grpc) else ""
    mtls = f"ssl_client_certificate {ca.resolve()};\n    ssl_verify_client optional;" if verify_client else ""
    if grpc:
        # Temporal's workers long-poll for ~60 s; the default 60 s read timeout would cut them off.
        proxy = f"grpc_pass grpc://{LOOPBACK}:{upstream};\n      grpc_read_timeout 300s;\n      grpc_send_timeout 300s;"
        listen = f"listen {LOOPBACK}:{port} ssl http2;"
    else:
        proxy = (
            f"proxy_pass http://{LOOPBACK}:{upstream};\n      proxy_http_version 1.1;\n"
            # SigV4 signs the Host header: pass the client's one through unchanged.
            "      proxy_set_header Host $http_host;\n      proxy_request_buffering off;\n"
            "      proxy_buffering off;\n      proxy_read_timeout 300s;"
        )
        listen = f"listen {LOOPBACK}:{port} ssl;"
    return f"""{user}
worker_processes 1;
daemon off;
pid {s}/nginx.pid;
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_max_body_size 0;
  client_body_temp_path {s}/buffers/body;
  proxy_temp_path {s}/buffers/proxy;
  fastcgi_temp_path {s}/buffers/fastcgi;
  uwsgi_temp_path {s}/buffers/uwsgi;
  scgi_temp_path {s}/buffers/scgi;
  server {{
    {listen}
    ssl_certificate {crt.resolve()};
    ssl_certificate_key {key.resolve()};
    ssl_protocols TLSv1.2 TLSv1.3;
    {mtls}
    location / {{
      {auth}
      {proxy}
    }}
    {denied}
  }}
}}
"""


_GRPC_DENIED = """error_page 401 = /_preflight_grpc_401;
    location = /_preflight_grpc_401 {
      internal;
      default_type application/grpc;
      add_header grpc-status 16 always;
      add_header grpc-message "invalid API key" always;
      return 204;
    }"""


def _worker_group() -> str:
    return grp.getgrgid(pwd.getpwnam(_WORKER_USER).pw_gid).gr_name


def _own_tmp(tmp: Path) -> None:
    # Workers run as `nobody` when we are root; their buffer folders must be theirs.
    if os.geteuid() == 0:
        entry = pwd.getpwnam(_WORKER_USER)
        os.chown(tmp, entry.pw_uid, entry.pw_gid)
