"""`vzgitops suspend` / `resume` against a running `vzgitops run`: per container and per node,
honoured at the controller's next cycle without a restart, shown in status.json, `vzgitops
status`, /metrics and the log, and in `vzgitops plan` (held with kind "suspended")."""

from __future__ import annotations

import signal
from typing import Any

from tests.controller.harness import Controllers, Remote, Running
from tests.support import container_doc, listing, mutating_calls, vzgitops

FAST = ["--interval", "0.3", "--drift-interval", "0", "--log-format", "json"]
SUSPENDED_CTS = 'vzgitops_suspended{scope="containers"}'
SUSPENDED_NODE = 'vzgitops_suspended{scope="node"}'


def docs(web: int, db: int) -> dict[str, str]:
    return {
        "web.yaml": container_doc("web", 101, state="stopped", cpus=web),
        "db.yaml": container_doc("db", 102, state="stopped", cpus=db),
    }


def applied(sha: str) -> Any:
    return lambda s: (s.get("applied") or {}).get("sha") == sha and s.get("converged") and s


def cpus(env: dict[str, str]) -> dict[int, int]:
    return {ctid: item["cpus"] for ctid, item in listing(env).items()}


def operator(verb: str, run: Running, env: dict[str, str], *args: str) -> str:
    done = vzgitops([verb, "--state-dir", str(run.state), *args], env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def events(run: Running, name: str) -> list[dict[str, Any]]:
    return [e for e in run.events() if e.get("event") == name]


def test_a_suspended_container_is_held_until_resumed(
    controllers: Controllers, remote: Remote, node_env: dict[str, str]
) -> None:
    first = remote.commit(docs(1, 1), "two")
    run = controllers.start(["--repo", remote.url, "--metrics-listen", "127.0.0.1:0", *FAST])
    run.wait(applied(first), "two containers applied")
    said = operator("suspend", run, node_env, "101")
    assert "suspended container 101" in said
    run.wait(lambda s: s.get("suspended_containers") == [101], "the suspension in the status")
    second = remote.commit(docs(2, 2), "two cpus each")
    status = run.wait(lambda s: applied(second)(s) and s["held"] and s, "web held")
    assert [(h["ctid"], h["kind"]) for h in status["held"]] == [(101, "suspended")]
    assert "waits for 'vzgitops resume'" in status["held"][0]["reason"]
    assert cpus(node_env) == {101: 1, 102: 2}
    assert status["suspended"] is False
    metrics = run.metrics()
    assert metrics[SUSPENDED_CTS] == 1 and metrics[SUSPENDED_NODE] == 0
    assert metrics['vzgitops_held_changes{kind="suspended"}'] == 1
    assert events(run, "controller.suspended")[0]["ctids"] == "101"
    shown = vzgitops(["status", "--state-dir", str(run.state)], node_env)
    assert "suspended:  containers 101 (until 'vzgitops resume CTID')" in shown.stdout
    assert "101      web                  suspended: container 101 is suspended" in shown.stdout
    planned = vzgitops(
        ["plan", "--repo", str(remote.work.path), "--state-dir", str(run.state)], node_env
    )
    assert "! container 101 (web): suspended: container 101 is suspended" in planned.stdout
    assert "Plan: 0 to create, 0 to change, 0 to destroy, 1 held." in planned.stdout

    pid = run.pid
    assert "resumed container 101" in operator("resume", run, node_env, "101")
    run.wait(lambda s: not s["held"] and not s["suspended_containers"] and s, "web released")
    assert cpus(node_env) == {101: 2, 102: 2} and run.pid == pid and run.proc.poll() is None
    assert run.metrics()[SUSPENDED_CTS] == 0
    assert events(run, "controller.resumed")
    assert run.stop() == 0


def test_a_suspended_node_applies_nothing_until_resumed(
    controllers: Controllers, remote: Remote, node_env: dict[str, str], sim_node: Any
) -> None:
    first = remote.commit(docs(1, 1), "two")
    run = controllers.start(["--repo", remote.url, "--metrics-listen", "127.0.0.1:0", *FAST])
    run.wait(applied(first), "two containers applied")
    assert "suspended the node" in operator("suspend", run, node_env)
    run.wait(lambda s: s.get("suspended") is True, "the node suspended in the status")
    calls = len(mutating_calls(sim_node.dir))
    second = remote.commit(docs(2, 2), "two cpus each")
    status = run.wait(lambda s: applied(second)(s) and len(s["held"]) == 2 and s, "all held")
    assert {h["kind"] for h in status["held"]} == {"suspended"}
    assert all(h["reason"].startswith("the node is suspended") for h in status["held"])
    assert len(mutating_calls(sim_node.dir)) == calls and cpus(node_env) == {101: 1, 102: 1}
    assert run.metrics()[SUSPENDED_NODE] == 1
    shown = vzgitops(["status", "--state-dir", str(run.state)], node_env)
    assert "suspended:  the node: nothing is applied until 'vzgitops resume'" in shown.stdout

    assert "resumed the node" in operator("resume", run, node_env)
    run.wait(lambda s: not s["held"] and s["suspended"] is False and s, "the node released")
    assert cpus(node_env) == {101: 2, 102: 2}
    assert run.metrics()[SUSPENDED_NODE] == 0
    assert "the node was not suspended" in operator("resume", run, node_env)
    assert run.stop() == 0


def test_an_unreadable_suspension_file_applies_nothing(
    controllers: Controllers, remote: Remote, node_env: dict[str, str]
) -> None:
    """A suspension nobody can read is never taken as none: the cycle fails, naming the file."""
    first = remote.commit(docs(1, 1), "two")
    run = controllers.start(["--repo", remote.url, *FAST])
    run.wait(applied(first), "two containers applied")
    (run.state / "suspended.json").write_text("{not json", encoding="utf-8")
    second = remote.commit(docs(2, 2), "two cpus each")
    status = run.wait(lambda s: s.get("last_error") and s, "the error in the status")
    assert (
        f"the state file {run.state / 'suspended.json'} cannot be read"
        in status["last_error"]["message"]
    )
    assert status["last_error"]["kind"] == "needs-human"
    assert cpus(node_env) == {101: 1, 102: 1} and status["applied"]["sha"] == first
    (run.state / "suspended.json").unlink()
    run.signal(signal.SIGHUP)  # needs a person: the same tip is tried again on SIGHUP
    run.wait(applied(second), "applied once the file is gone")
    assert run.stop() == 0
