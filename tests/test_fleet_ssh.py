"""The fleet: a laptop node (this machine) and a server node reached over a real sshd.

Real git, the real `vzgitops` process, real OpenSSH client and server on 127.0.0.1, real key
authentication, and two simulated nodes: what `vzgitops plan`/`apply`/`drift` do without
--node, a pinned host key that does not match, an unreachable node, a connection dropped in the
middle of an apply.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import SimNode, SshNode
from tests.support import VZGITOPS, GitRepo, container_doc, vzgitops


def node_doc(name: str, ssh: dict[str, Any] | None = None) -> str:
    spec: dict[str, Any] = {"access": "ssh", "ssh": ssh} if ssh else {}
    doc = {"apiVersion": "vzgitops/v1", "kind": "Node", "metadata": {"name": name}, "spec": spec}
    return yaml.safe_dump(doc, sort_keys=False)


def server_ssh(server: SshNode, host_key: str | None = None) -> dict[str, Any]:
    return {
        "host": server.sshd.host,
        "port": server.sshd.port,
        "user": server.sshd.user,
        "hostKey": host_key or server.sshd.host_key,
    }


def placed(name: str, ctid: int, node: str, **spec: Any) -> str:
    doc = yaml.safe_load(container_doc(name, ctid, **spec))
    doc["metadata"]["node"] = node
    return yaml.safe_dump(doc, sort_keys=False)


def fleet_repo(path: Path, server: SshNode, host_key: str | None = None) -> GitRepo:
    repo = GitRepo(path)
    repo.write("nodes/laptop.yaml", node_doc("laptop"))
    repo.write("nodes/server.yaml", node_doc("server", server_ssh(server, host_key)))
    repo.write("laptop/web.yaml", placed("web", 101, "laptop", state="running"))
    repo.write("server/db.yaml", placed("db", 201, "server", state="running"))
    repo.write("server/mail.yaml", placed("mail", 202, "server", state="stopped"))
    repo.commit("a laptop and a server")
    return repo


def listed(node: SimNode) -> dict[int, str]:
    done = node.run("vzlist", "-a", "-H", "-o", "ctid,status")
    rows = (line.split() for line in done.stdout.splitlines() if line.strip())
    return {int(ctid): status for ctid, status in rows}


@pytest.fixture
def fleet(tmp_path: Path, env: dict[str, str], server: SshNode) -> tuple[GitRepo, list[str]]:
    repo = fleet_repo(tmp_path / "repo", server)
    return repo, ["--repo", str(repo.path), "--ssh-config", str(server.keys.config)]


def test_apply_without_node_converges_the_laptop_and_the_server_over_ssh(
    fleet: tuple[GitRepo, list[str]], env: dict[str, str], sim_node: SimNode, server: SshNode
) -> None:
    _, args = fleet
    applied = vzgitops(["apply", "--yes", *args], env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert listed(sim_node) == {101: "running"}
    assert listed(server.node) == {201: "running", 202: "stopped"}
    assert "=== node laptop ===" in applied.stdout and "=== node server ===" in applied.stdout
    state = Path(env["VZGITOPS_STATE_DIR"])
    assert json.loads((state / "node.json").read_text()) == {"node": "laptop"}
    assert json.loads((state / "nodes/server/node.json").read_text()) == {"node": "server"}
    owned = json.loads((state / "nodes/server/inventory.json").read_text())["containers"]
    assert sorted(owned) == ["201", "202"]
    assert sorted(json.loads((state / "inventory.json").read_text())["containers"]) == ["101"]

    before = server.sshd.accepted()
    planned = vzgitops(["plan", "--detailed-exitcode", "--format", "json", *args], env)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    report = json.loads(planned.stdout)
    assert [s["node"] for s in report["nodes"]] == ["laptop", "server"]
    assert all(s["changes"] == [] and s["error"] is None for s in report["nodes"])
    assert server.sshd.accepted() - before == 1  # one connection for the whole plan


def test_a_change_on_the_server_is_planned_and_applied_there_only(
    fleet: tuple[GitRepo, list[str]], env: dict[str, str], sim_node: SimNode, server: SshNode
) -> None:
    repo, args = fleet
    assert vzgitops(["apply", "--yes", *args], env).returncode == 0
    repo.write("server/db.yaml", placed("db", 201, "server", state="running", cpus=2))
    repo.commit("db gets 2 cpus")
    planned = vzgitops(["plan", "--detailed-exitcode", *args], env)
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert "Node server:" in planned.stdout and "201" in planned.stdout
    assert "Node laptop:\nNo changes." in planned.stdout
    narrowed = vzgitops(["plan", "--detailed-exitcode", "--node", "laptop", *args], env)
    assert narrowed.returncode == 0, narrowed.stdout + narrowed.stderr
    assert vzgitops(["apply", "--yes", *args], env).returncode == 0
    conf = (server.node.dir / "conf" / "201.conf").read_text()
    assert 'CPUS="2"' in conf


def test_drift_measures_each_node_against_the_revision_it_applied(
    fleet: tuple[GitRepo, list[str]], env: dict[str, str], server: SshNode
) -> None:
    repo, args = fleet
    assert vzgitops(["apply", "--yes", *args], env).returncode == 0
    repo.write("server/db.yaml", placed("db", 201, "server", state="running", cpus=2))
    repo.commit("db gets 2 cpus")
    assert vzgitops(["apply", "--yes", "--node", "server", *args], env).returncode == 0
    drift = vzgitops(["drift", "--format", "json", *args], env)  # the laptop is one commit behind
    assert drift.returncode == 0, drift.stdout + drift.stderr
    report = json.loads(drift.stdout)
    assert report["kind"] == "fleet" and report["errors"] == {}
    assert sorted(report["nodes"]) == ["laptop", "server"]
    conf = server.node.dir / "conf" / "201.conf"
    conf.write_text(conf.read_text().replace('CPUS="2"', 'CPUS="1"'))  # by hand, behind git's back
    drift = vzgitops(["drift", *args], env)
    assert drift.returncode == 2, drift.stdout + drift.stderr
    server_part = drift.stdout.split("=== node server ===")[1]
    assert "201" in server_part and "cpus" in server_part


def test_backup_import_and_adopt_reach_the_server_over_ssh(
    fleet: tuple[GitRepo, list[str]], env: dict[str, str], tmp_path: Path, server: SshNode
) -> None:
    _, args = fleet
    assert vzgitops(["apply", "--yes", *args], env).returncode == 0
    state = Path(env["VZGITOPS_STATE_DIR"]) / "nodes" / "server"
    done = vzgitops(["backup", "--node", "server", "--mode", "stop", "202", *args], env)
    assert done.returncode == 0, done.stdout + done.stderr
    dumped = json.loads((state / "backups.json").read_text())
    assert (
        "202" in json.dumps(dumped)
        and not (Path(env["VZGITOPS_STATE_DIR"]) / "backups.json").exists()
    )
    listed_dumps = vzgitops(["backups", "--node", "server", "--format", "json", *args], env)
    assert listed_dumps.returncode == 0, listed_dumps.stdout + listed_dumps.stderr
    assert [a["ctid"] for a in json.loads(listed_dumps.stdout)["archives"]] == [202]
    made = server.node.run("vzctl", "create", "300", "--ostemplate", "debian-12.0-x86_64-minimal")
    assert made.returncode == 0, made.stderr  # by hand, on the server
    imported = vzgitops(
        ["import", "--node", "server", "--ctid", "300", "--out", str(tmp_path / "in"), *args], env
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    written = yaml.safe_load((tmp_path / "in" / "ct300.yaml").read_text())
    assert written["metadata"]["node"] == "server" and written["spec"]["ctid"] == 300
    owned = json.loads((state / "inventory.json").read_text())["containers"]
    assert sorted(owned) == ["201", "202", "300"]
    assert vzgitops(["adopt", "--node", "server", "--forget", "300", *args], env).returncode == 0
    assert vzgitops(["adopt", "--node", "server", "300", *args], env).returncode == 0
    owned = json.loads((state / "inventory.json").read_text())["containers"]
    assert owned["300"]["how"] == "adopt"


def test_suspend_holds_a_node_reached_over_ssh(
    fleet: tuple[GitRepo, list[str]], env: dict[str, str], server: SshNode
) -> None:
    repo, args = fleet
    assert vzgitops(["apply", "--yes", *args], env).returncode == 0
    assert vzgitops(["suspend", "--node", "server"], env).returncode == 0
    repo.write("server/db.yaml", placed("db", 201, "server", state="running", cpus=2))
    repo.commit("db gets 2 cpus")
    held = vzgitops(["apply", "--yes", *args], env)
    assert held.returncode == 4, held.stdout + held.stderr  # held: the node does not match git
    assert "suspended" in held.stdout
    conf = server.node.dir / "conf" / "201.conf"
    assert 'CPUS="2"' not in conf.read_text()
    assert vzgitops(["resume", "--node", "server"], env).returncode == 0
    assert vzgitops(["apply", "--yes", *args], env).returncode == 0
    assert 'CPUS="2"' in conf.read_text()


def test_a_server_with_another_host_key_is_refused_and_the_laptop_still_planned(
    tmp_path: Path, env: dict[str, str], server: SshNode
) -> None:
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    forged = " ".join(Path(f"{other}.pub").read_text().split()[:2])
    repo = fleet_repo(tmp_path / "repo", server, host_key=forged)
    args = ["--repo", str(repo.path), "--ssh-config", str(server.keys.config)]
    planned = vzgitops(["plan", "--format", "json", *args], env)
    assert planned.returncode == 1, planned.stdout + planned.stderr
    sections = {s["node"]: s for s in json.loads(planned.stdout)["nodes"]}
    assert "host key is not the one pinned" in sections["server"]["error"]
    assert sections["laptop"]["error"] is None
    assert [c["ctid"] for c in sections["laptop"]["changes"]] == [101]
    assert server.sshd.accepted() == 0  # nothing was sent to the server


def test_an_unreachable_server_is_that_nodes_error_only(
    fleet: tuple[GitRepo, list[str]], env: dict[str, str], sim_node: SimNode, server: SshNode
) -> None:
    _, args = fleet
    server.sshd.stop()
    applied = vzgitops(["apply", "--yes", *args], env)
    assert applied.returncode == 1
    assert listed(sim_node) == {101: "running"}  # the laptop converged anyway
    assert "node server" in applied.stdout and "cannot be reached over ssh" in applied.stdout
    server.sshd.start()
    again = vzgitops(["apply", "--yes", *args], env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert listed(server.node) == {201: "running", 202: "stopped"}


def _vzctl_processes(node: SimNode, verb: str) -> list[int]:
    entry = str(node.bin / "vzctl").encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if entry in argv and verb.encode() in argv:
            found.append(int(pid))
    return found


def test_a_connection_dropped_mid_apply_converges_on_the_next_run_with_nothing_twice(
    fleet: tuple[GitRepo, list[str]], env: dict[str, str], server: SshNode
) -> None:
    _, args = fleet
    node = server.node
    hang = ["sim", "fault", str(node.dir), "--verb", "start", "--ctid", "201", "--hang"]
    assert vzgitops(hang, env).returncode == 0
    running = subprocess.Popen(
        [*VZGITOPS, "apply", "--yes", "--node", "server", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not _vzctl_processes(node, "start") and time.monotonic() < deadline:
            time.sleep(0.05)
        hung = _vzctl_processes(node, "start")
        assert hung, "vzctl start 201 never ran on the server"
        server.sshd.drop_sessions()  # the connection drops while vzctl start runs
        out, err = running.communicate(timeout=120)
    finally:
        running.kill()
        running.wait()
    assert running.returncode == 1, out + err
    assert "cannot be reached over ssh" in out + err
    for pid in hung:  # the command the dropped session ran dies with it
        os.kill(pid, signal.SIGKILL)
    assert vzgitops(["sim", "fault", str(node.dir), "--clear"], env).returncode == 0
    again = vzgitops(["apply", "--yes", "--node", "server", *args], env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert listed(node) == {201: "running", 202: "stopped"}
    state = Path(env["VZGITOPS_STATE_DIR"]) / "nodes" / "server"
    owned = json.loads((state / "inventory.json").read_text())["containers"]
    assert sorted(owned) == ["201", "202"]
    creates = [e for e in _oplog(node, env) if e.get("verb") == "create"]
    assert sorted(int(e["ctid"]) for e in creates) == [201, 202]  # each created once


def _oplog(node: SimNode, env: dict[str, str]) -> list[dict[str, Any]]:
    done = vzgitops(["sim", "oplog", str(node.dir), "--json"], env)
    assert done.returncode == 0, done.stderr
    entries: list[dict[str, Any]] = json.loads(done.stdout)
    return entries


def test_a_local_node_that_is_another_machine_is_left_to_its_agent(
    tmp_path: Path, env: dict[str, str], sim_node: SimNode
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("nodes.yaml", node_doc("laptop") + "---\n" + node_doc("server"))
    repo.write("web.yaml", placed("web", 101, "laptop", state="stopped"))
    repo.write("db.yaml", placed("db", 201, "server", state="stopped"))
    repo.commit("two local nodes")
    first = vzgitops(["apply", "--yes", "--repo", str(repo.path), "--node", "laptop"], env)
    assert first.returncode == 0, first.stderr
    planned = vzgitops(["plan", "--detailed-exitcode", "--repo", str(repo.path)], env)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "node server (access: local) is another machine" in planned.stderr
    assert listed(sim_node) == {101: "stopped"}


# ---- moves: metadata.node changes, vzmigrate moves the container ------------------------------

SECRET = "the customer's data\n"


def _secret(node: SimNode, ctid: int) -> Path:
    return node.dir / "private" / str(ctid) / "root" / "secret.txt"


@pytest.fixture
def moving(
    fleet: tuple[GitRepo, list[str]], env: dict[str, str], sim_node: SimNode, server: SshNode
) -> tuple[GitRepo, list[str]]:
    """The fleet applied, a file inside the laptop's web, and the laptop able to reach the
    server as vzmigrate does (its root's ssh config, the server's host key pinned there)."""
    from vzsim.sshd import write_client_config

    repo, args = fleet
    applied = vzgitops(["apply", "--yes", *args], env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    _secret(sim_node, 101).parent.mkdir(parents=True, exist_ok=True)
    _secret(sim_node, 101).write_text(SECRET)
    write_client_config(sim_node.dir, server.keys, {"server": server.sshd})
    repo.write("laptop/web.yaml", placed("web", 101, "server", state="running"))
    repo.commit("web moves to the server")
    return repo, args


def test_a_node_change_plans_a_move_never_a_create_and_a_destroy(
    moving: tuple[GitRepo, list[str]], env: dict[str, str], server: SshNode
) -> None:
    _, args = moving
    planned = vzgitops(["plan", "--detailed-exitcode", "--prune", "--format", "json", *args], env)
    assert planned.returncode == 2, planned.stdout + planned.stderr
    sections = {s["node"]: s for s in json.loads(planned.stdout)["nodes"]}
    laptop, dest = sections["laptop"], sections["server"]
    assert [(c["ctid"], c["action"]) for c in laptop["changes"]] == [(101, "move")]
    (command,) = laptop["changes"][0]["commands"]
    assert command["tool"] == "vzmigrate"
    assert command["argv"][-2:] == [f"{server.sshd.user}@127.0.0.1", "101"]
    assert f"--ssh=-p {server.sshd.port}" in command["argv"]
    assert dest["changes"] == []
    assert [(h["ctid"], h["kind"]) for h in dest["held"]] == [(101, "moving")]
    assert "awaiting migration from node laptop" in dest["held"][0]["reason"]
    alone = vzgitops(["plan", "--prune", "--node", "server", "--format", "json", *args], env)
    assert [c["action"] for c in json.loads(alone.stdout)["nodes"][0]["changes"]] == []
    markdown = vzgitops(["plan", "--format", "markdown", *args], env)
    assert "move" in markdown.stdout


def test_apply_moves_the_container_with_its_data_and_ownership(
    moving: tuple[GitRepo, list[str]], env: dict[str, str], sim_node: SimNode, server: SshNode
) -> None:
    _, args = moving
    applied = vzgitops(["apply", "--yes", "--prune", *args], env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert listed(sim_node) == {}
    assert listed(server.node) == {101: "running", 201: "running", 202: "stopped"}
    assert _secret(server.node, 101).read_text() == SECRET
    state = Path(env["VZGITOPS_STATE_DIR"])
    assert "101" not in json.loads((state / "inventory.json").read_text())["containers"]
    there = json.loads((state / "nodes/server/inventory.json").read_text())["containers"]
    assert there["101"]["how"] == "migrate"
    again = vzgitops(["plan", "--detailed-exitcode", "--prune", *args], env)
    assert again.returncode == 0, again.stdout + again.stderr
    creates = [e for e in _oplog(server.node, env) if e.get("verb") == "create"]
    assert 101 not in [e.get("ctid") for e in creates]  # never created on the server


def test_a_failed_move_leaves_the_container_on_the_source_and_creates_nothing(
    moving: tuple[GitRepo, list[str]], env: dict[str, str], sim_node: SimNode, server: SshNode
) -> None:
    _, args = moving
    fail = ["sim", "fault", str(sim_node.dir), "--verb", "migrate", "--fail", "1", "--exit", "6"]
    assert vzgitops(fail, env).returncode == 0, "the simulator takes migrate faults"
    applied = vzgitops(["apply", "--yes", "--prune", *args], env)
    assert applied.returncode == 1, applied.stdout + applied.stderr
    assert "vzmigrate failed (exit 6" in applied.stdout
    assert listed(sim_node) == {101: "running"}
    assert 101 not in listed(server.node)
    assert _secret(sim_node, 101).read_text() == SECRET
    again = vzgitops(["apply", "--yes", "--prune", *args], env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _secret(server.node, 101).read_text() == SECRET


def _apply_killed_while_migrating(args: list[str], env: dict[str, str], laptop: SimNode) -> None:
    """`vzgitops apply` killed with SIGKILL, with every process it started, while vzmigrate
    hangs at the step the fault names."""
    running = subprocess.Popen(
        [*VZGITOPS, "apply", "--yes", "--prune", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _hanging(laptop):
            time.sleep(0.05)
        assert _hanging(laptop), "vzmigrate never reached the hanging step"
    finally:
        os.killpg(running.pid, signal.SIGKILL)
        running.communicate(timeout=30)
    assert vzgitops(["sim", "fault", str(laptop.dir), "--clear"], env).returncode == 0


def _hanging(node: SimNode) -> bool:
    """Whether the node's vzmigrate sleeps at its injected hang (not in ssh, rsync or a wait)."""
    entry = str(node.bin / "vzmigrate").encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if entry in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                return "nanosleep" in Path(f"/proc/{pid}/wchan").read_text()
        except OSError:
            continue
    return False


@pytest.mark.parametrize("step", ["before-copy", "after-copy", "after-start"])
def test_kill_9_during_a_move_and_a_rerun_converge_with_one_container_on_the_server(
    step: str,
    moving: tuple[GitRepo, list[str]],
    env: dict[str, str],
    sim_node: SimNode,
    server: SshNode,
) -> None:
    _, args = moving
    hang = ["sim", "fault", str(sim_node.dir), "--verb", "migrate", "--step", step, "--hang"]
    assert vzgitops(hang, env).returncode == 0
    _apply_killed_while_migrating(args, env, sim_node)
    again = vzgitops(["apply", "--yes", "--prune", *args], env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert 101 not in listed(sim_node)
    assert listed(server.node)[101] == "running"
    assert _secret(server.node, 101).read_text() == SECRET
    state = Path(env["VZGITOPS_STATE_DIR"])
    assert "101" not in json.loads((state / "inventory.json").read_text())["containers"]
    assert "101" in json.loads((state / "nodes/server/inventory.json").read_text())["containers"]
    assert not (state / "intents" / "101.json").exists()
    final = vzgitops(["plan", "--detailed-exitcode", "--prune", *args], env)
    assert final.returncode == 0, final.stdout + final.stderr


def test_a_move_to_a_server_whose_ctid_is_taken_is_held_with_the_servers_reason(
    moving: tuple[GitRepo, list[str]], env: dict[str, str], sim_node: SimNode, server: SshNode
) -> None:
    _, args = moving
    taken = server.node.run("vzctl", "create", "101", "--ostemplate", "debian-12.0-x86_64-minimal")
    assert taken.returncode == 0, taken.stderr
    planned = vzgitops(["plan", "--prune", "--format", "json", *args], env)
    sections = {s["node"]: s for s in json.loads(planned.stdout)["nodes"]}
    assert sections["laptop"]["changes"] == []
    (held,) = sections["laptop"]["held"]
    assert held["kind"] == "moving" and "the move to node server waits" in held["reason"]
    applied = vzgitops(["apply", "--yes", "--prune", *args], env)
    assert listed(sim_node) == {101: "running"}, applied.stdout  # nothing moved, nothing lost


# ---- moves between per-node agents: each node applies only itself, git coordinates ------------


def _agents(
    tmp_path: Path, env: dict[str, str], server: SshNode
) -> tuple[GitRepo, list[str], dict[str, str], dict[str, str]]:
    """The fleet repository applied by the laptop's agent (its own state dir, local access),
    and the environment of the server's agent (its own state dir, VZGITOPS_NODE=server)."""
    repo = fleet_repo(tmp_path / "repo", server)
    args = ["--repo", str(repo.path)]
    laptop_env = {**env, "VZGITOPS_STATE_DIR": str(tmp_path / "laptop-state")}
    server_env = {**server.node.env, "VZGITOPS_STATE_DIR": str(tmp_path / "server-state"),
                  "VZGITOPS_NODE": "server"}  # fmt: skip
    assert vzgitops(["apply", "--yes", "--node", "laptop", *args], laptop_env).returncode == 0
    return repo, args, laptop_env, server_env


def test_per_node_agents_move_a_container_the_server_waits_and_never_creates_it(
    tmp_path: Path, env: dict[str, str], sim_node: SimNode, server: SshNode
) -> None:
    from vzsim.sshd import write_client_config

    repo, args, laptop_env, server_env = _agents(tmp_path, env, server)
    office = server.node
    assert vzgitops(["apply", "--yes", *args], server_env).returncode == 0  # the server's agent
    _secret(sim_node, 101).parent.mkdir(parents=True, exist_ok=True)
    _secret(sim_node, 101).write_text(SECRET)
    write_client_config(sim_node.dir, server.keys, {"server": server.sshd})
    repo.write("laptop/web.yaml", placed("web", 101, "server", state="running"))
    repo.commit("web moves to the server")
    early = vzgitops(["apply", "--yes", *args], server_env)  # before the laptop has moved it
    assert early.returncode == 4, early.stdout + early.stderr
    assert "awaiting migration from node laptop" in early.stdout
    assert 101 not in listed(office)
    repo.write("server/mail.yaml", placed("mail", 202, "server", state="stopped", cpus=2))
    repo.commit("an unrelated change: the move is no longer the last commit")
    again = vzgitops(["apply", "--yes", *args], server_env)
    assert again.returncode == 4 and 101 not in listed(office), again.stdout  # still waits
    moved = vzgitops(["apply", "--yes", "--node", "laptop", *args], laptop_env)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "vzmigrate" in moved.stdout and 101 not in listed(sim_node)
    arrived = vzgitops(["apply", "--yes", *args], server_env)
    assert arrived.returncode == 0, arrived.stdout + arrived.stderr
    assert listed(office)[101] == "running"
    assert _secret(office, 101).read_text() == SECRET
    owned = json.loads((tmp_path / "server-state" / "inventory.json").read_text())["containers"]
    assert owned["101"]["how"] == "migrate"
    assert json.loads((tmp_path / "server-state" / "awaiting.json").read_text()) == {
        "containers": {}
    }
    creates = [e for e in _oplog(office, env) if e.get("verb") == "create"]
    assert 101 not in [e.get("ctid") for e in creates]


def test_a_wait_for_a_source_that_is_gone_ends_with_migrate_recreate(
    tmp_path: Path, env: dict[str, str], sim_node: SimNode, server: SshNode
) -> None:
    repo, args, _, server_env = _agents(tmp_path, env, server)
    repo.write("laptop/web.yaml", placed("web", 101, "server", state="running"))
    repo.commit("web moves to the server")
    waiting = vzgitops(["apply", "--yes", *args], server_env)
    assert waiting.returncode == 4 and 101 not in listed(server.node), waiting.stdout
    assert "If node laptop is gone" in waiting.stdout and "spec.migrate: recreate" in waiting.stdout
    repo.write("laptop/web.yaml", placed("web", 101, "server", state="running", migrate="recreate"))
    repo.commit("the laptop is gone: make web anew on the server")
    made = vzgitops(["apply", "--yes", *args], server_env)
    assert made.returncode == 0, made.stdout + made.stderr
    assert listed(server.node)[101] == "running"
