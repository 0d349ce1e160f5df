"""`vzgitops run` with held changes: a commit whose destroys the mass-destroy guard refuses is
not success. status.json, `vzgitops status`, the log and /metrics show what is held, and the
held items go away once git and the node agree again."""

from __future__ import annotations

from typing import Any

from tests.controller.harness import Controllers, Remote
from tests.support import container_doc, listing, vzgitops

FAST = ["--interval", "0.3", "--drift-interval", "1", "--log-format", "json"]
THREE = {
    "web.yaml": container_doc("web", 101),
    "db.yaml": container_doc("db", 102),
    "spare.yaml": container_doc("spare", 103),
}
HELD = 'vzgitops_held_changes{kind="destroy-held"}'


def applied(sha: str) -> Any:
    return lambda s: (s.get("applied") or {}).get("sha") == sha and s.get("converged") and s


def test_a_mass_delete_commit_is_shown_as_held(
    controllers: Controllers, remote: Remote, node_env: dict[str, str]
) -> None:
    first = remote.commit(THREE, "three")
    run = controllers.start(
        ["--repo", remote.url, "--prune", "--metrics-listen", "127.0.0.1:0", *FAST]
    )
    run.wait(applied(first), "three containers applied")
    assert run.status()["held"] == []
    assert run.metrics()[HELD] == 0
    remote.work.remove("web.yaml")
    remote.work.remove("db.yaml")
    dropped = remote.work.commit("drop two")
    remote.push()
    status = run.wait(lambda s: applied(dropped)(s) and s["held"] and s, "the held destroys")
    assert [(h["ctid"], h["kind"]) for h in status["held"]] == [
        (101, "destroy-held"),
        (102, "destroy-held"),
    ]
    assert all("refusing to destroy 2 of 3" in h["reason"] for h in status["held"])
    assert status["last_result"] == "held"
    metrics = run.metrics()
    assert metrics[HELD] == 2
    assert metrics['vzgitops_reconciles_total{result="held"}'] >= 1
    held_events = [e for e in run.events() if e.get("event") == "plan.held"]
    assert held_events and held_events[0]["count"] == 2 and held_events[0]["revision"] == dropped
    shown = vzgitops(["status", "--state-dir", str(run.state)], node_env)
    assert shown.returncode == 0, shown.stderr
    assert "2 held, the node does not match git" in shown.stdout
    assert "101" in shown.stdout and "destroy-held: refusing to destroy 2 of 3" in shown.stdout
    assert set(listing(node_env)) == {101, 102, 103}
    back = remote.commit(THREE, "bring them back")
    run.wait(lambda s: applied(back)(s) and not s["held"] and s, "nothing held")
    assert run.metrics()[HELD] == 0
    assert run.stop() == 0
