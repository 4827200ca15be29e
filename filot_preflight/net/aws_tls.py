"""boto3 clients whose CA bundle is loaded once per process instead of at every new connection.

botocore gives urllib3 the bundle's *path* for each connection pool, and urllib3 loads that file into
the pool's SSL context at every new connection (`load_verify_locations` in `ssl_wrap_socket`): about
27 ms of CPU for certifi's 230 KB bundle, ~0.25 s of a full check (ten-odd AWS connections) and most of
the CPU time of every AWS request. `share_ca_bundle` hands the client's pools one context that already
holds the same file, and stops passing the path. What is verified does not change: the same bundle,
CERT_REQUIRED, and urllib3's host name match.
"""

from __future__ import annotations

import functools
import hashlib
import os
import ssl
import threading
from typing import Any


def share_ca_bundle(client: Any) -> bool:
    """Give `client`'s connections one preloaded SSL context for its CA bundle; True when it did.

    The client is left as botocore made it (correct, only slower) where botocore would do something else
    than load one file: verification off, a CA directory, a proxy for the endpoint, another HTTP session
    class, or a botocore whose internals differ from the ones this relies on.
    """
    from botocore.httpsession import URLLib3Session, get_cert_path

    http = getattr(getattr(client, "_endpoint", None), "http_session", None)
    if type(http) is not URLLib3Session:
        return False
    verify = getattr(http, "_verify", None)
    manager = getattr(http, "_manager", None)
    proxies = getattr(http, "_proxy_config", None)
    if not verify or manager is None or proxies is None or not hasattr(manager, "connection_pool_kw"):
        return False
    if proxies.proxy_url_for(client.meta.endpoint_url):
        return False  # proxied pools get their own contexts from botocore
    path = str(get_cert_path(verify))
    try:
        if not os.path.isfile(path):
            return False  # missing, a directory or a special file: botocore's own handling reports it
        with open(path, "rb") as f:
            data = f.read(_MAX_BUNDLE + 1)
        if len(data) > _MAX_BUNDLE:
            return False
        with _LOCK:  # the checkers create their clients at the same moment
            ctx = _context(data, path)
    except (OSError, ValueError, ssl.SSLError):
        return False  # unreadable or not PEM: botocore's own load raises the error the checker reports
    manager.connection_pool_kw["ssl_context"] = ctx
    http.__class__ = _preloaded_class()
    return True


_LOCK = threading.Lock()
_MAX_BUNDLE = 16 * 1024 * 1024


_CONTEXTS: dict[str, ssl.SSLContext] = {}


def _context(data: bytes, path: str) -> ssl.SSLContext:
    # The context botocore builds for its pools, with the bundle loaded once. Keyed by content: the r2
    # checker and the AWS checkers write the same bundle (certifi's plus --ca-file) to different temp
    # files. Shared by every pool that verifies against it: urllib3 sets the same verify mode and ALPN
    # on it at each connection. Loaded from the file, not from `data`: OpenSSL then parses it without
    # holding the GIL (~30 ms the other checkers' threads keep running through).
    key = hashlib.sha256(data).hexdigest()
    if key not in _CONTEXTS:
        from botocore.httpsession import create_urllib3_context

        ctx = create_urllib3_context()
        ctx.load_verify_locations(cafile=path)
        _CONTEXTS[key] = ctx
    return _CONTEXTS[key]


@functools.cache
def _preloaded_class() -> type:
    # Created on first use, so that importing this module does not import botocore.
    from botocore.httpsession import URLLib3Session

    class PreloadedCaSession(URLLib3Session):  # type: ignore[misc]
        """botocore's session whose pools verify against their preloaded context: no path to reload."""

        def _setup_ssl_cert(self, conn: Any, url: str, verify: Any) -> None:
            super()._setup_ssl_cert(conn, url, verify)  # type: ignore[misc]
            if conn.cert_reqs == "CERT_REQUIRED":
                conn.ca_certs = None  # the context holds the bundle; urllib3 would load it again

    return PreloadedCaSession
