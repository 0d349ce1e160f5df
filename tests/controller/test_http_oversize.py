"""An oversize webhook body gets its 413 even when the client sends all of it first."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator

import pytest

from reconciler.controller.events import EventLog
from reconciler.controller.httpd import Listen
from reconciler.controller.webhook import MAX_BODY, WebhookServer


class _Discard:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


@pytest.fixture
def port() -> Iterator[int]:
    log = EventLog("json", _Discard())  # type: ignore[arg-type]
    events: list[str] = []
    server = WebhookServer(Listen("127.0.0.1", 0), b"secret", events.append, log)
    server.start()
    try:
        yield server.bound.port
    finally:
        server.close()
        assert events == []


@pytest.mark.parametrize("size", [MAX_BODY + 1, 3 * MAX_BODY, 20 * MAX_BODY])
def test_a_client_sending_a_body_over_1_mib_receives_the_413(port: int, size: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/webhook", body=b"x" * size, headers={"X-Gitlab-Token": "secret"})
        answer = conn.getresponse()
        assert answer.status == 413
        assert b"larger than" in answer.read()
    finally:
        conn.close()


def test_a_raw_client_that_sends_then_reads_gets_the_413(port: int) -> None:
    size = 4 * MAX_BODY
    head = f"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head + b"y" * size)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    assert b"".join(chunks).startswith(b"HTTP/1.0 413 ")
