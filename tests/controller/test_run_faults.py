"""`vzgitops run` against hostile input and faults: absurd durations, a second controller on the
same state directory, and a slow --notify-url receiver that must not hold the node lock."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.controller.harness import Controllers, Remote
from tests.support import container_doc, vzgitops


def applied(sha: str) -> Any:
    return lambda s: (s.get("applied") or {}).get("sha") == sha and s.get("converged") and s


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--interval", "3000000h"),
        ("--drift-interval", "100000000m"),
        ("--fetch-timeout", "9" * 400),  # float() of it is inf
    ],
)
def test_an_absurd_duration_is_a_usage_error_naming_the_option_and_the_maximum(
    controllers: Controllers, remote: Remote, option: str, value: str
) -> None:
    remote.commit({"web.yaml": container_doc("web", 101)})
    args = ["--repo", remote.url, "--drift-interval", "0", option, value]
    run = controllers.start(args)
    assert run.proc.wait(30) == 64, run.tail()
    message = run.log()
    assert f"argument {option}: " in message
    assert "168h" in message
    assert "internal error" not in message


def test_a_second_run_on_the_same_state_dir_is_refused_while_the_first_keeps_running(
    controllers: Controllers, remote: Remote
) -> None:
    sha = remote.commit({"web.yaml": container_doc("web", 101)})
    args = ["--repo", remote.url, "--interval", "1h", "--drift-interval", "0"]
    first = controllers.start(args)
    first.wait(applied(sha), "the first controller applied the commit")
    second = controllers.start(args)
    assert second.proc.wait(30) == 75, second.tail()
    assert "controller.lock" in second.log()
    assert f"pid {first.pid}" in second.log()
    assert first.proc.poll() is None
    newer = remote.commit({"web.yaml": container_doc("web", 101, cpus=2)})
    first.signal(signal.SIGHUP)  # fetch now: the first controller still works
    first.wait(applied(newer), "the first controller applied the next commit")
    assert first.stop() == 0


class _SlowReceiver(ThreadingHTTPServer):
    """Answers POSTs only once `release` is set; `received` is set when the first one arrives."""

    daemon_threads = True

    def __init__(self) -> None:
        self.received = threading.Event()
        self.release = threading.Event()
        super().__init__(("127.0.0.1", 0), _SlowHandler)


class _SlowHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        server = self.server
        assert isinstance(server, _SlowReceiver)
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        server.received.set()
        server.release.wait(60)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[_SlowReceiver]:
    server = _SlowReceiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_a_slow_notify_receiver_does_not_hold_the_node_lock(
    controllers: Controllers, remote: Remote, node_env: dict[str, str], receiver: _SlowReceiver
) -> None:
    sha = remote.commit({"web.yaml": container_doc("web", 101)})
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    args = ["--repo", remote.url, "--interval", "1h", "--drift-interval", "1s", "--notify-url", url]
    run = controllers.start(args)
    assert receiver.received.wait(30), run.tail()  # the first drift check's report
    state = controllers.tmp / "state"
    env = {**node_env, **controllers.env}
    manual = vzgitops(["apply", "--repo", remote.url, "--state-dir", str(state)], env)
    assert manual.returncode == 0, manual.stdout + manual.stderr
    assert "converged" in manual.stdout, manual.stdout
    receiver.release.set()
    run.wait(applied(sha), "the controller's status after the check")
    assert run.stop() == 0
