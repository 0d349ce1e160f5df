"""Drift correction against the simulated node, in-process with a fake clock: a container that a
person keeps changing by hand is corrected at once the first time, then ever less often."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from reconciler.apply import RetryPolicy
from reconciler.controller.backoff import ContainerBackoff
from reconciler.controller.enforce import Enforcer, StoppableRunner
from reconciler.controller.events import EventLog
from reconciler.controller.metrics import Metrics
from reconciler.errors import ShuttingDown
from reconciler.node.access import LocalAccess
from reconciler.node.process import SubprocessRunner
from reconciler.reconcile import Options
from reconciler.spec.load import load_desired
from reconciler.state import StateDir
from tests.controller.harness import conf_value
from tests.support import container_doc, vz

SHA = "a" * 40


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def enforcer(sim_node: Any, tmp_path: Path) -> tuple[Enforcer, Clock]:
    clock = Clock()
    enforcer = Enforcer(
        access=LocalAccess(
            SubprocessRunner(sim_node.env), Path(sim_node.env["VZGITOPS_VZ_CONF_DIR"])
        ),
        state=StateDir(tmp_path / "state"),
        options=Options(clock=clock),
        log=EventLog("json"),
        metrics=Metrics(),
        stopping=threading.Event(),
        drift_mode="correct",
        backoff=ContainerBackoff(base=10.0, maximum=40.0),
        clock=clock,
        retry=RetryPolicy(attempts=1, initial=1),
    )
    return enforcer, clock


def test_a_container_changed_by_hand_again_and_again_is_corrected_less_often(
    enforcer: tuple[Enforcer, Clock], sim_node: Any
) -> None:
    node, clock = enforcer
    conf = Path(sim_node.env["VZGITOPS_VZ_CONF_DIR"])
    desired = load_desired({"web.yaml": container_doc("web", 101, cpus=1).encode()})
    assert node.apply(desired, SHA).result == "success"

    def fight(at: float) -> str:
        clock.now = 1_000_000.0 + at
        if conf_value(conf, 101, "CPUS") == "1":
            assert (
                vz("vzctl", ["set", "101", "--cpus", "3", "--save"], sim_node.env).returncode == 0
            )
        outcome = node.check(desired, SHA)
        assert outcome.result == "success"
        state = outcome.containers[0].state
        assert (state == "in-sync") == (conf_value(conf, 101, "CPUS") == "1")
        return state

    # corrected at 0; next allowed 10 s later, then 20 s, then 40 s (the cap)
    timeline = {at: fight(at) for at in (0, 5, 10, 20, 30, 50, 70, 90, 110)}
    assert timeline == {
        0: "in-sync",
        5: "deferred",
        10: "in-sync",
        20: "deferred",
        30: "in-sync",
        50: "deferred",
        70: "in-sync",
        90: "deferred",
        110: "in-sync",
    }
    # once it stays put at a check, the next hand change is corrected at once again
    clock.now += 200
    assert node.check(desired, SHA).containers[0].state == "in-sync"
    assert fight(311) == "in-sync"


def test_an_immediate_check_corrects_a_container_its_backoff_would_defer(
    enforcer: tuple[Enforcer, Clock], sim_node: Any
) -> None:
    """SIGHUP asks for a full reconcile now: the correction backoff does not defer it."""
    node, clock = enforcer
    conf = Path(sim_node.env["VZGITOPS_VZ_CONF_DIR"])
    desired = load_desired({"web.yaml": container_doc("web", 101, cpus=1).encode()})
    node.apply(desired, SHA)
    for _ in range(2):  # corrected at once, then changed by hand again: the next one waits 10 s
        assert vz("vzctl", ["set", "101", "--cpus", "3", "--save"], sim_node.env).returncode == 0
        states = [node.check(desired, SHA).containers[0].state]
    assert states == ["deferred"] and conf_value(conf, 101, "CPUS") == "3"
    clock.now += 1
    outcome = node.check(desired, SHA, immediate=True)
    assert outcome.result == "success" and outcome.containers[0].state == "in-sync"
    assert conf_value(conf, 101, "CPUS") == "1"


def test_drift_report_never_changes_the_node(
    enforcer: tuple[Enforcer, Clock], sim_node: Any
) -> None:
    node, _ = enforcer
    desired = load_desired({"web.yaml": container_doc("web", 101, cpus=1).encode()})
    node.apply(desired, SHA)
    vz("vzctl", ["set", "101", "--cpus", "3", "--save"], sim_node.env)
    node.drift_mode = "report"
    outcome = node.check(desired, SHA)
    assert outcome.converged is None
    assert outcome.containers[0].state == "drifted"
    assert outcome.containers[0].detail == "cpus: git 1, node 3"
    assert node.metrics.drifted == 1
    assert conf_value(Path(sim_node.env["VZGITOPS_VZ_CONF_DIR"]), 101, "CPUS") == "3"


def test_a_stopping_runner_starts_nothing(sim_node: Any) -> None:
    stopping = threading.Event()
    runner = StoppableRunner(SubprocessRunner(sim_node.env), stopping)
    assert runner(("vzlist", "-a")).code == 0
    stopping.set()
    with pytest.raises(ShuttingDown):
        runner(("vzlist", "-a"))


class Receiver(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        Receiver.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_each_drift_check_is_recorded_and_sent_to_the_notify_url(
    enforcer: tuple[Enforcer, Clock], sim_node: Any
) -> None:
    node, _ = enforcer
    desired = load_desired({"web.yaml": container_doc("web", 101, cpus=1).encode()})
    node.apply(desired, SHA)
    vz("vzctl", ["set", "101", "--cpus", "3", "--save"], sim_node.env)
    node.drift_mode = "report"
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        node.notify_url = f"http://127.0.0.1:{server.server_address[1]}/drift"
        node.check(desired, SHA)
    finally:
        server.shutdown()
        server.server_close()
    (body,) = Receiver.bodies
    report = json.loads(body)
    assert report["kind"] == "drift"
    assert report["drift"]["containers"][0]["ctid"] == 101
    latest = json.loads((node.state.root / "drift" / "latest.json").read_text())
    assert latest == report


def test_an_unreachable_notify_url_is_logged_and_the_check_goes_on(
    enforcer: tuple[Enforcer, Clock], sim_node: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    node, _ = enforcer
    desired = load_desired({"web.yaml": container_doc("web", 101, cpus=1).encode()})
    node.apply(desired, SHA)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    node.notify_url = f"http://127.0.0.1:{port}/drift"
    node.stopping.set()  # retry waits return at once
    assert node.check(desired, SHA).result == "success"
    assert "drift.notify_failed" in capsys.readouterr().err
