"""Socket servers for fault fixtures, shared by the Redis, Postgres and HTTP ones."""

from __future__ import annotations

import socket
import threading

from filot_preflight.sandbox.base import LOOPBACK


class SilentServer:
    """Accepts TCP connections on loopback and never sends a byte (a hung proxy, a black-holed host).

    Subclasses may override `_accept` (the loop in the thread) to answer in their own way; they find
    the listening socket in `sock`, the open connections in `held` and the stop flag in `stop`.
    """

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)  # so the accept loop sees `stop` in time
        self.port: int = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
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
            self.held.append(conn)  # kept open: the client waits for an answer that never comes

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

    def __init__(self) -> None:
        self.received = bytearray()
        self.lock = threading.Lock()
        super().__init__()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.held.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def record(self, data: bytes) -> None:
        """Keep `data` as received."""
        with self.lock:
            self.received += data

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError
