"""`vzgitops run` says what ownership resolution decided: a container destroyed by hand is no
longer owned, and the controller logs that warning before it creates the container git still
declares, at its next drift check (real controller, real simulated node)."""

from __future__ import annotations

from typing import Any

from tests.controller.harness import Controllers, Remote
from tests.support import container_doc, vz

FAST = ["--interval", "0.3", "--drift-interval", "1", "--log-format", "json"]


def test_a_container_destroyed_by_hand_is_logged_as_no_longer_owned(
    controllers: Controllers, remote: Remote, node_env: dict[str, str]
) -> None:
    first = remote.commit({"web.yaml": container_doc("web", 101, cpus=1)}, "web")
    run = controllers.start(["--repo", remote.url, *FAST])
    run.wait(lambda s: (s.get("applied") or {}).get("sha") == first and s, "web applied")
    for argv in (["stop", "101"], ["destroy", "101"]):
        assert vz("vzctl", argv, node_env).returncode == 0

    def warned(_: Any) -> Any:
        return [
            e
            for e in run.events()
            if e.get("event") == "observe.warning" and "no longer owned" in str(e.get("message"))
        ]

    (event, *_) = run.wait(warned, "the ownership warning logged")
    assert event["level"] == "warning"
    assert "container 101 (web)" in event["message"]
    assert run.stop() == 0
