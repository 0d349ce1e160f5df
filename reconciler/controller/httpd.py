"""HTTP plumbing shared by the webhook and the metrics endpoints (shell).

Built on the standard library's `ThreadingHTTPServer`; what is added is only what a daemon on a
node needs: `ADDR:PORT` parsing (IPv4, `[IPv6]`, port 0 for tests), a cap on concurrent
connections, a per-socket timeout plus an absolute deadline per connection (enforced from the
serving thread's `service_actions`, so a slow client cannot hold a thread for long), errors
logged as one structured line instead of a traceback, and no access log with headers in it.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reconciler.controller.events import Logger
from reconciler.errors import UsageError, VzGitopsError

DEFAULT_HOST = "127.0.0.1"
MAX_CONNECTIONS = 32
SOCKET_TIMEOUT = 10.0
CONNECTION_DEADLINE = 30.0
# How much of a refused body is read and dropped after the answer: closing a socket with unread
# data resets the connection, and a client still sending would never see the answer.
DISCARD_LIMIT = 64 << 20


@dataclass(frozen=True)
class Listen:
    """Where a server listens."""

    host: str
    port: int

    @property
    def family(self) -> socket.AddressFamily:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    def render(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(text: str) -> Listen:
    """`ADDR:PORT`, `:PORT`, `PORT` or `[V6]:PORT`; the host defaults to 127.0.0.1."""
    host, sep, port = text.strip().rpartition(":")
    if not sep:
        host, port = "", text.strip()
    host = host.removeprefix("[").removesuffix("]") or DEFAULT_HOST
    if not port.isdigit() or int(port) > 65535:
        raise UsageError(f"{text!r} is not ADDR:PORT (e.g. 127.0.0.1:9300)")
    return Listen(host, int(port))


class BoundedHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server with bounded concurrency and bounded time per connection."""

    daemon_threads = True
    request_queue_size = 128  # the listen backlog; the default 5 resets bursts of webhooks
    deadline = CONNECTION_DEADLINE

    def __init__(
        self, listen: Listen, handler: type[BaseHTTPRequestHandler], log: Logger, name: str
    ) -> None:
        self.address_family = listen.family
        self.log = log
        self.name = name
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._open: dict[socket.socket, float] = {}
        self._open_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        try:
            super().__init__((listen.host, listen.port), handler)
        except OSError as exc:
            msg = f"cannot listen on {listen.render()} for {name}: {exc.strerror or exc}"
            raise VzGitopsError(msg) from exc

    @property
    def bound(self) -> Listen:
        host, port = self.server_address[:2]
        return Listen(str(host), int(port))

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.log("warning", "http.busy", server=self.name, limit=MAX_CONNECTIONS)
            self.shutdown_request(request)
            return
        with self._open_lock:
            self._open[request] = time.monotonic() + self.deadline
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.pop(request, None)
            self._slots.release()

    def service_actions(self) -> None:
        """Called by `serve_forever` between polls: cut connections past their deadline."""
        now = time.monotonic()
        with self._open_lock:
            late = [sock for sock, deadline in self._open.items() if now > deadline]
        for sock in late:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        detail = type(error).__name__ if error is not None else "unknown"
        self.log("warning", "http.error", server=self.name, error=detail)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True, name=self.name
        )
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
        self.server_close()


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler with a socket timeout that logs one event per request, no headers."""

    timeout = SOCKET_TIMEOUT
    server_version = "vzgitops"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """The standard access log is off: `respond` logs what matters."""

    def respond(
        self, code: int, body: bytes = b"", content_type: str = "text/plain", allow: str = ""
    ) -> None:
        self.send_response(code)
        if allow:
            self.send_header("Allow", allow)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.close_connection = True

    def discard_body(self, length: int) -> None:
        """After answering, end the answer (FIN) and drop up to DISCARD_LIMIT bytes of a body.

        Bounded in size here and in time by the socket timeout and the connection deadline.
        """
        left = min(length, DISCARD_LIMIT)
        with contextlib.suppress(OSError):  # the client hung up or timed out: nothing to save
            self.connection.shutdown(socket.SHUT_WR)
            while left > 0:
                chunk = self.rfile.read1(min(left, 1 << 16))
                if not chunk:
                    return
                left -= len(chunk)
