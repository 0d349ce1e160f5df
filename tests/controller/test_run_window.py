"""`vzgitops run` outside a maintenance window: the restart waits, held as kind "window" in
status.json and /metrics with the next window's time, while the live change applies at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reconciler.spec.windows import WEEKDAYS
from tests.controller.harness import Controllers, Remote
from tests.support import container_doc, mutating_calls

FAST = ["--interval", "0.3", "--drift-interval", "0", "--log-format", "json"]
WINDOW = 'vzgitops_held_changes{kind="window"}'


def applied(sha: str) -> Any:
    return lambda s: (s.get("applied") or {}).get("sha") == sha and s


def test_a_restart_outside_the_window_is_held_and_shown(
    controllers: Controllers, remote: Remote, node_env: dict[str, str], sim_node: Any
) -> None:
    first = remote.commit({"web.yaml": container_doc("web", 101, cpus=1)}, "web")
    run = controllers.start(["--repo", remote.url, "--metrics-listen", "127.0.0.1:0", *FAST])
    run.wait(lambda s: applied(first)(s) and s.get("converged") and s, "web applied")
    assert run.metrics()[WINDOW] == 0
    before = len(mutating_calls(sim_node.dir))
    # a window three days from now: closed whenever this test runs
    later = WEEKDAYS[(datetime.now(UTC).weekday() + 3) % 7]
    window = {"days": [later], "start": "00:00", "duration": "1h"}
    spec = {"cpus": 2, "features": {"nfs": True}, "maintenance": [window]}
    second = remote.commit({"web.yaml": container_doc("web", 101, **spec)}, "nfs needs a restart")
    status = run.wait(lambda s: applied(second)(s) and s["held"] and s, "the held restart")
    assert [(h["ctid"], h["kind"]) for h in status["held"]] == [(101, "window")]
    assert "next window at" in status["held"][0]["reason"]
    assert run.metrics()[WINDOW] == 1
    assert [e["verb"] for e in mutating_calls(sim_node.dir)[before:]] == ["set"]  # cpus, live
    assert run.stop() == 0
