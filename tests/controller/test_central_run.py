"""A central `vzgitops run`: one controller process keeping a laptop (this machine) and a
server (over a real sshd, real key authentication) matching one repository.

Real git, the real `vzgitops run` process, the real OpenSSH client and server on 127.0.0.1, and
two simulated nodes. Each node has its own state directory and status; the server's sshd log
counts the connections of each of its cycles; a server that goes away is its own error while
the laptop goes on converging, and the server catches up once it is back.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

from tests.conftest import SimNode, SshNode
from tests.controller.harness import Controllers, Running, wait_for
from tests.support import vzgitops
from tests.test_fleet_ssh import fleet_repo, listed, placed


def _node_status(state: Path, node: str) -> dict[str, Any]:
    try:
        return dict(json.loads((state / "nodes" / node / "status.json").read_text()))
    except (FileNotFoundError, ValueError):
        return {}


def _last_error(state: Path) -> dict[str, Any]:
    return dict(_node_status(state, "server").get("last_error") or {})


def _applied(status: dict[str, Any]) -> str | None:
    return (status.get("applied") or {}).get("sha") if status.get("converged") else None


def _wait_both(run: Running, sha: str, what: str) -> None:
    wait_for(
        lambda: _applied(run.status()) == sha and _applied(_node_status(run.state, "server")) == sha,
        30, what, run.tail,
    )  # fmt: skip


def test_one_run_keeps_the_laptop_and_the_server_matching_git(
    tmp_path: Path, controllers: Controllers, sim_node: SimNode, server: SshNode
) -> None:
    repo = fleet_repo(tmp_path / "repo", server)
    first = repo.git("rev-parse", "HEAD").strip()
    run = controllers.start([
        "--repo", str(repo.path), "--ssh-config", str(server.keys.config), "--interval", "1h",
        "--drift-interval", "0", "--metrics-listen", "127.0.0.1:0", "--log-format", "json",
    ])  # fmt: skip
    _wait_both(run, first, "both nodes applied")
    assert listed(sim_node) == {101: "running"}
    assert listed(server.node) == {201: "running", 202: "stopped"}
    assert (
        run.status()["node"] == "laptop" and _node_status(run.state, "server")["node"] == "server"
    )
    assert server.sshd.accepted() == 1  # the server's first cycle: one connection

    shown = vzgitops(["status", "--state-dir", str(run.state), "--format", "json"], controllers.env)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    fleet = json.loads(shown.stdout)
    assert fleet["kind"] == "fleet" and sorted(fleet["nodes"]) == ["laptop", "server"]
    assert all(n["converged"] and n["applied"]["sha"] == first for n in fleet["nodes"].values())
    text = vzgitops(["status", "--state-dir", str(run.state)], controllers.env).stdout
    assert "=== node laptop ===" in text and "=== node server ===" in text
    metrics = _by_node(run)
    assert metrics["laptop"]['vzgitops_reconciles_total{result="success"}'] >= 1
    assert metrics["server"]['vzgitops_vzctl_calls_total{code="0",verb="create"}'] == 2
    assert metrics["laptop"]['vzgitops_vzctl_calls_total{code="0",verb="create"}'] == 1

    server.sshd.stop()  # the server goes away; a commit changes both nodes
    repo.write("laptop/web.yaml", placed("web", 101, "laptop", state="running", cpus=2))
    repo.write("server/db.yaml", placed("db", 201, "server", state="running", cpus=2))
    second = repo.commit("web and db get 2 cpus")
    run.signal(signal.SIGHUP)
    error = wait_for(lambda: _last_error(run.state), 30, "server error", run.tail)
    assert "node server" in error["message"] and "cannot be reached" in error["message"]
    assert error["kind"] == "retry-later" and error["retry_at"] is not None
    wait_for(lambda: _applied(run.status()) == second, 30, "laptop applied", run.tail)
    assert 'CPUS="2"' in (sim_node.dir / "conf" / "101.conf").read_text()
    shown = vzgitops(["status", "--state-dir", str(run.state)], controllers.env)
    assert shown.returncode == 0 and "cannot be reached" in shown.stdout

    server.sshd.start()  # back: its backoff retries it, without a trigger
    accepted = server.sshd.accepted()
    _wait_both(run, second, "the server caught up")
    assert 'CPUS="2"' in (server.node.dir / "conf" / "201.conf").read_text()
    assert server.sshd.accepted() - accepted == 1  # the cycle that converged it: one connection
    assert run.stop() == 0
    assert _node_status(run.state, "server")["state"] == "stopped"


def _by_node(run: Running) -> dict[str, dict[str, float]]:
    """GET /metrics -> node -> `name{labels}` -> value (every sample but the webhook's has a
    node label)."""
    from prometheus_client.parser import text_string_to_metric_families

    code, body = run.http("metrics", "GET", "/metrics")
    assert code == 200
    found: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            labels = dict(sample.labels)
            node = labels.pop("node", None)
            assert node is not None or family.name == "vzgitops_webhook_requests", sample
            shown = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            found.setdefault(node or "", {})[sample.name + (f"{{{shown}}}" if shown else "")] = (
                sample.value
            )
    return found
