"""The HTTPS app process behind `http_apps`: BULI2's health endpoint, or the backend's health and webhook.

Run as `python -m filot_preflight.sandbox._https_app --role buli2|backend ...`; secrets arrive in the
environment (SANDBOX_BULI2_API_KEY, SANDBOX_SIGNATURE_SECRET), never in argv. Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import ssl
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    server_version = "filot-sandbox"
    opts: argparse.Namespace
    api_key = ""
    signature_secret = ""

    def do_GET(self) -> None:
        role, path = self.opts.role, self.path.split("?", 1)[0]
        if role == "buli2" and path == "/v1/health":
            given = self.headers.get(self.opts.api_key_header, "")
            if not self.api_key or not hmac.compare_digest(given.encode(), self.api_key.encode()):
                return self._json(401, {"error": "invalid or missing API key"})
            return self._json(200, {"status": "ok", "service": "buli2-sandbox"})
        if role == "backend" and path in ("/health", "/ready", "/"):
            return self._json(
                200, {"status": "ready" if path == "/ready" else "ok", "service": "filot-backend-sandbox"}
            )
        self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.opts.role == "backend" and self.path.split("?", 1)[0] == "/api/webhooks/buli2":
            problem = self._signature_problem(body)
            if problem:
                return self._json(401, {"error": problem})
            return self._json(200, {"received": True})
        self._json(404, {"error": "not found"})

    def _signature_problem(self, body: bytes) -> str:
        """Why the callback's signature is not acceptable ('' when it is)."""
        signature = self.headers.get(self.opts.signature_header, "")
        timestamp = self.headers.get(self.opts.timestamp_header, "")
        if not signature or not timestamp:
            return "missing signature or timestamp header"
        try:
            age = abs(time.time() - float(timestamp))
        except ValueError:
            return "malformed timestamp"
        if age > self.opts.tolerance:
            return "timestamp outside tolerance"
        message = f"{timestamp}.{body.decode('utf-8', 'replace')}".encode()
        digest = hmac.new(self.signature_secret.encode(), message, self.opts.algorithm).hexdigest()
        if not hmac.compare_digest(signature.encode(), f"{self.opts.prefix}{digest}".encode()):
            return "signature mismatch"
        return ""

    def _json(self, status: int, payload: dict[str, object]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        # Method, path and status only: headers carry the API key and signatures.
        print(f"{self.address_string()} {format % args}", flush=True)


def main() -> None:
    """Parse flags, load the certificate, serve until terminated."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["buli2", "backend"], required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--api-key-header", default="X-API-Key")
    parser.add_argument("--signature-header", default="X-BULI2-Signature")
    parser.add_argument("--timestamp-header", default="X-BULI2-Timestamp")
    parser.add_argument("--prefix", default="sha256=")
    parser.add_argument("--algorithm", default="sha256", choices=sorted(hashlib.algorithms_guaranteed))
    parser.add_argument("--tolerance", type=float, default=300.0)
    opts = parser.parse_args()
    _Handler.opts = opts
    _Handler.api_key = os.environ.get("SANDBOX_BULI2_API_KEY", "")
    _Handler.signature_secret = os.environ.get("SANDBOX_SIGNATURE_SECRET", "")
    server = ThreadingHTTPServer((opts.host, opts.port), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(opts.cert, opts.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"{opts.role} listening on https://{opts.host}:{opts.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
