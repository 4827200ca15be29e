"""Socket servers for fault fixtures, shared by the Redis, Postgres and HTTP ones."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from filot_preflight.sandbox.base import LOOPBACK


class SilentServer:
    """Accepts TCP connections on loopback and never sends a byte (a hung proxy, a black-holed host).

    One accept loop for every fault server here: a subclass answers in its own way by overriding
    `_on_connection` (called for each accepted connection, in the accept thread); it finds the listening
    socket in `sock`, the open connections in `held`, the number accepted in `connections` and the stop flag
    in `stop`.
    """

    def __init__(self, family: socket.AddressFamily = socket.AF_INET, addr: str = LOOPBACK) -> None:
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((addr, 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)  # so the accept loop sees `stop` in time
        self.port: int = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True, name=type(self).__name__)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self.held.append(conn)  # kept open (and closed by close())
            self._on_connection(conn)

    def _on_connection(self, conn: socket.socket) -> None:
        """What to do with a new connection: nothing, so the client waits for an answer that never comes."""

    def serve_in_thread(self, fn: Callable[[socket.socket], None], conn: socket.socket) -> None:
        """Run `fn(conn)` in a daemon thread of its own (a server that answers)."""
        threading.Thread(target=fn, args=(conn,), daemon=True).start()

    def close(self) -> None:
        """Stop accepting and close every held connection."""
        self.stop.set()
        self.thread.join(timeout=2)
        for c in self.held:
            c.close()
        self.sock.close()


class RecordingServer(SilentServer):
    """Serves each connection in its own thread (`_serve`, a subclass's protocol) and keeps every byte the
    clients sent in `received`: what a test looks for a leaked credential in."""

    def __init__(self, family: socket.AddressFamily = socket.AF_INET, addr: str = LOOPBACK) -> None:
        self.received = bytearray()
        self.lock = threading.Lock()
        super().__init__(family, addr)

    def _on_connection(self, conn: socket.socket) -> None:
        self.serve_in_thread(self._serve, conn)

    def record(self, data: bytes) -> None:
        """Keep `data` as received."""
        with self.lock:
            self.received += data

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError
