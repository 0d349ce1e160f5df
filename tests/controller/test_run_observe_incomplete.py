"""`vzgitops run` stops for a node whose observation is incomplete: an error, no vzctl call.

A container's private area removed by hand leaves its config without a listing; the
controller must report that and apply nothing, neither the live revision nor a new commit,
until the node is mended.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.conftest import SimNode
from tests.controller.harness import Controllers, Remote
from tests.support import container_doc, mutating_calls

FAST = ["--interval", "0.3", "--drift-interval", "0.5", "--log-format", "json"]


def files(db_cpus: int) -> dict[str, str]:
    return {
        "web.yaml": container_doc("web", 101, hostname="web.lan", state="stopped"),
        "db.yaml": container_doc("db", 102, hostname="db.lan", cpus=db_cpus, state="stopped"),
    }


def failing_at(sha: str) -> Any:
    """A status check: the tip `sha` was fetched and the last cycle failed on the observation."""
    return lambda s: (
        (s.get("fetched") or {}).get("sha") == sha
        and s.get("last_result") == "failure"
        and "vzlist does not list it" in ((s.get("last_error") or {}).get("message") or "")
        and s
    )


def test_a_removed_private_area_stops_the_node_with_an_error(
    controllers: Controllers, remote: Remote, sim_node: SimNode
) -> None:
    good = remote.commit(files(1), "two containers")
    run = controllers.start(["--repo", remote.url, *FAST])
    run.wait(lambda s: (s.get("applied") or {}).get("sha") == good and s.get("converged"),
             "the first commit applied")  # fmt: skip
    before = len(mutating_calls(sim_node.dir))
    shutil.rmtree(sim_node.dir / "private" / "101")
    status = run.wait(failing_at(good), "the incomplete observation reported")
    assert "container 101" in status["last_error"]["message"]
    assert str(sim_node.dir / "conf") in status["last_error"]["message"]
    newer = remote.commit(files(2), "db: 2 cpus")
    status = run.wait(failing_at(newer), "the new commit refused on the incomplete observation")
    assert status["applied"]["sha"] == good
    assert mutating_calls(sim_node.dir)[before:] == []
    assert (Path(sim_node.dir / "conf" / "101.conf")).exists()
