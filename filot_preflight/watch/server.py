"""The watcher's HTTP endpoint: /metrics (prometheus-client's exposition) and /healthz, in a daemon thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from filot_preflight.errors import UsageError

Health = Callable[[], tuple[bool, str]]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Scrapes every 15 s would flood stderr."""


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:9464` for IPv6) -> (host, port); bad input raises UsageError (exit 2)."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--listen {text}: expected HOST:PORT, e.g. 127.0.0.1:9464")
    return host, int(port)


def app(registry: Any, health: Health) -> Callable[..., Iterable[bytes]]:
    """The WSGI app: /metrics and / (Prometheus text), /healthz (200 ok, 503 with the reason), else 404."""
    from prometheus_client import make_wsgi_app

    metrics = make_wsgi_app(registry)

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in ("/metrics", "/"):
            return list(metrics(environ, start_response))
        if path == "/healthz":
            ok, why = health()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
            return [f"{'ok' if ok else 'unhealthy'}: {why}\n".encode()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /metrics or /healthz\n"]

    return serve


class Server:
    """A threading WSGI server on (host, port), serving until `close()`."""

    def __init__(self, host: str, port: int, wsgi: Callable[..., Iterable[bytes]]) -> None:
        from prometheus_client.exposition import ThreadingWSGIServer

        try:
            self._httpd = make_server(host, port, wsgi, ThreadingWSGIServer, handler_class=_Quiet)
        except OSError as e:
            raise UsageError(f"--listen {host}:{port}: cannot listen: {e.strerror or e}") from None
        self.port = int(self._httpd.server_port)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True, name="preflight-watch-http")
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
