"""`notify`: a real HTTP server on 127.0.0.1 receives the report; retries with no waiting."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from reconciler.controller.notify import notify, shown
from reconciler.errors import NotifyFailed, UsageError
from reconciler.report import Report, build_drift_report
from tests.report.cases import clean_drift, mixed_drift


class Receiver:
    """Answers each POST with the next status of `statuses` (the last one repeats)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            receiver.bodies.append(json.loads(self.rfile.read(length)))
            receiver.headers.append(dict(self.headers))
            index = min(len(receiver.bodies), len(receiver.statuses)) - 1
            self.send_response(receiver.statuses[index])
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, Receiver]]:
    receiver = Receiver(getattr(request, "param", [200]))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/hook?token=secret", receiver
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_drift_report_is_posted_as_json(server: tuple[str, Receiver]) -> None:
    url, receiver = server
    report = build_drift_report(mixed_drift(), "2026-01-02T03:04:05Z")
    assert notify(url, report, sleep=lambda _: None) == 200
    assert Report.model_validate(receiver.bodies[0]) == report
    assert receiver.headers[0]["Content-Type"] == "application/json"


def test_clean_node_sends_a_heartbeat(server: tuple[str, Receiver]) -> None:
    url, receiver = server
    notify(url, build_drift_report(clean_drift()), sleep=lambda _: None)
    assert receiver.bodies[0]["heartbeat"] is True
    assert receiver.bodies[0]["summary"] == "No drift: 1 containers match git."


@pytest.mark.parametrize("server", [[503, 502, 200]], indirect=True)
def test_transient_failures_are_retried(server: tuple[str, Receiver]) -> None:
    url, receiver = server
    waits: list[float] = []
    assert notify(url, build_drift_report(clean_drift()), sleep=waits.append) == 200
    assert len(receiver.bodies) == 3 and len(waits) == 2


@pytest.mark.parametrize("server", [[500]], indirect=True)
def test_gives_up_after_the_last_attempt_without_leaking_the_token(
    server: tuple[str, Receiver],
) -> None:
    url, receiver = server
    with pytest.raises(NotifyFailed) as caught:
        notify(url, build_drift_report(clean_drift()), attempts=3, sleep=lambda _: None)
    assert len(receiver.bodies) == 3
    assert "secret" not in str(caught.value) and "127.0.0.1" in str(caught.value)


@pytest.mark.parametrize("server", [[400]], indirect=True)
def test_a_refusal_is_not_retried(server: tuple[str, Receiver]) -> None:
    url, receiver = server
    with pytest.raises(NotifyFailed, match="HTTP 400"):
        notify(url, build_drift_report(clean_drift()), sleep=lambda _: None)
    assert len(receiver.bodies) == 1


def test_connection_refused_is_retried_then_fails() -> None:
    waits: list[float] = []
    with pytest.raises(NotifyFailed, match="after 2 attempts"):
        notify(
            "http://127.0.0.1:9/x",
            build_drift_report(clean_drift()),
            attempts=2,
            sleep=waits.append,
        )
    assert len(waits) == 1


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://host/x", "http://", "hook"])
def test_only_http_urls(url: str) -> None:
    with pytest.raises(UsageError):
        notify(url, build_drift_report(clean_drift()))


def test_shown_url_has_no_credentials() -> None:
    assert (
        shown("https://user:pw@example.invalid:8443/a/b?t=1#f")
        == "https://example.invalid:8443/a/b"
    )
