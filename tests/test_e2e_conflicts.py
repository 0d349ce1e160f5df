"""A container vzgitops does not own with a name or address git wants is reported by the plan.

Without the check the plan offered a create that vzctl refuses (`--name` taken: exit 131) or a
start it refuses (address in use by a running container: exit 78), on every apply (issue 17).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import GitRepo, container_doc, listing, mutating_calls, vz, vzgitops

OST = "debian-12.0-x86_64-minimal"


def _stranger(env: dict[str, str], *args: str) -> None:
    """Container 150, made with vzctl by hand, running: vzgitops does not own it."""
    for argv in (["create", "150", "--ostemplate", OST, *args], ["start", "150"]):
        done = vz("vzctl", argv, env)
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("stranger", "spec", "has"),
    [
        (["--name", "web"], {}, "the name 'web'"),
        (["--ipadd", "10.0.0.5"], {"ip": ["10.0.0.5/24"]}, "the IP address 10.0.0.5"),
    ],
)
def test_a_name_or_address_an_unowned_container_has_is_held_by_the_plan(
    sim_node: Any,
    env: dict[str, str],
    tmp_path: Path,
    stranger: list[str],
    spec: dict[str, Any],
    has: str,
) -> None:
    _stranger(env, *stranger)
    repo = GitRepo(tmp_path / "repo")
    repo.write("web.yaml", container_doc("web", 120, config="vswap-256m", **spec))
    repo.commit("web")
    before = len(mutating_calls(sim_node.dir))

    planned = vzgitops(["plan", "--repo", str(repo.path), "--format", "json"], env)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    section = json.loads(planned.stdout)["nodes"][0]
    assert section["changes"] == []
    [held] = section["held"]
    assert held["ctid"] == 120
    assert held["kind"] == "conflict"
    assert (
        f"container 150 on the node, which vzgitops does not own, already has {has}"
        in (held["reason"])
    )

    applied = vzgitops(["apply", "--repo", str(repo.path)], env)
    assert "conflict" in applied.stdout, applied.stdout + applied.stderr
    assert mutating_calls(sim_node.dir)[before:] == []


def test_a_container_git_wants_running_but_the_node_has_disabled_is_held(
    sim_node: Any, env: dict[str, str], tmp_path: Path
) -> None:
    """`disabled` left out of git keeps the node's DISABLED=yes: start would exit 105."""
    repo = GitRepo(tmp_path / "repo")
    spec = {"config": "vswap-256m", "state": "stopped", "disabled": True}
    repo.write("web.yaml", container_doc("web", 120, **spec))
    repo.commit("a disabled container")
    first = vzgitops(["apply", "--repo", str(repo.path)], env)
    assert first.returncode == 0, first.stdout + first.stderr
    repo.write("web.yaml", container_doc("web", 120, config="vswap-256m", state="running"))
    repo.commit("run it, saying nothing about disabled")
    before = len(mutating_calls(sim_node.dir))

    planned = vzgitops(["plan", "--repo", str(repo.path), "--format", "json"], env)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    section = json.loads(planned.stdout)["nodes"][0]
    assert section["changes"] == []
    [held] = section["held"]
    assert held["kind"] == "conflict"
    assert (
        "disabled on the node (DISABLED=yes) and web.yaml:1 does not set disabled"
        in (held["reason"])
    )
    applied = vzgitops(["apply", "--repo", str(repo.path)], env)
    assert "conflict" in applied.stdout, applied.stdout + applied.stderr
    assert mutating_calls(sim_node.dir)[before:] == []


# ---- exit 78 (REFERENCE 8.1: VZ_IP_INUSE) and 131 are found by the plan, never by vzctl ---------


def _held(planned: Any) -> dict[int, dict[str, Any]]:
    assert planned.returncode == 0, planned.stdout + planned.stderr
    section = json.loads(planned.stdout)["nodes"][0]
    assert section["changes"] == [], section["changes"]
    return {h["ctid"]: h for h in section["held"]}


def test_a_stopped_container_whose_address_a_stranger_took_is_not_started(
    sim_node: Any, env: dict[str, str], tmp_path: Path
) -> None:
    """Ours (120) is stopped; meanwhile container 150, made by hand, runs with 120's address.
    `vzctl start 120` would exit 78 (Unable to add IP ...: Address already in use)."""
    repo = GitRepo(tmp_path / "repo")
    spec = {"config": "vswap-256m", "ip": ["10.0.0.5/24"]}
    repo.write("web.yaml", container_doc("web", 120, state="stopped", **spec))
    repo.commit("web, stopped")
    first = vzgitops(["apply", "--repo", str(repo.path)], env)
    assert first.returncode == 0, first.stdout + first.stderr
    _stranger(env, "--ipadd", "10.0.0.5")
    repo.write("web.yaml", container_doc("web", 120, **spec))
    repo.commit("run web")
    before = len(mutating_calls(sim_node.dir))

    held = _held(vzgitops(["plan", "--repo", str(repo.path), "--format", "json"], env))
    assert held[120]["kind"] == "conflict"
    assert held[120]["reason"].startswith(
        "container 150 on the node, which vzgitops does not own, already has the IP address"
        " 10.0.0.5; rename or remove container 150, or change web.yaml:1"
    )
    applied = vzgitops(["apply", "--repo", str(repo.path), "--yes"], env)
    assert applied.returncode == 4, applied.stdout + applied.stderr  # held, nothing failed
    assert "! container 120 (web): conflict: container 150 on the node" in applied.stdout
    assert mutating_calls(sim_node.dir)[before:] == []
    assert listing(env)[120]["status"] == "stopped"
    by_hand = vz("vzctl", ["start", "120"], env)  # what the hold spares every apply
    assert by_hand.returncode == 78, by_hand.stdout + by_hand.stderr
    assert "Unable to add IP 10.0.0.5: Address already in use" in by_hand.stdout + by_hand.stderr


def test_an_address_a_stranger_holds_only_while_it_runs_is_seen_too(
    sim_node: Any, env: dict[str, str], tmp_path: Path
) -> None:
    """`vzctl set 150 --ipadd` without --save: the kernel has the address, 150.conf has not."""
    _stranger(env)
    live = vz("vzctl", ["set", "150", "--ipadd", "10.0.0.9"], env)
    assert live.returncode == 0, live.stdout + live.stderr
    repo = GitRepo(tmp_path / "repo")
    repo.write("web.yaml", container_doc("web", 120, config="vswap-256m", ip=["10.0.0.9"]))
    repo.commit("web")
    before = len(mutating_calls(sim_node.dir))

    held = _held(vzgitops(["plan", "--repo", str(repo.path), "--format", "json"], env))
    assert "already has the IP address 10.0.0.9" in held[120]["reason"]
    applied = vzgitops(["apply", "--repo", str(repo.path), "--yes"], env)
    assert applied.returncode == 4, applied.stdout + applied.stderr
    assert mutating_calls(sim_node.dir)[before:] == []


def test_a_saved_plan_made_before_a_stranger_took_the_name_and_address_is_not_applied(
    sim_node: Any, env: dict[str, str], tmp_path: Path
) -> None:
    """Forcing the apply with a plan reviewed earlier: it is stale, so no create (exit 131 for
    the name) or start (exit 78 for the address) is tried."""
    repo = GitRepo(tmp_path / "repo")
    repo.write("web.yaml", container_doc("web", 120, config="vswap-256m", ip=["10.0.0.5"]))
    repo.commit("web")
    saved = tmp_path / "plan.json"
    planned = vzgitops(["plan", "--repo", str(repo.path), "--out", str(saved)], env)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "+ container 120 (web): create" in planned.stdout
    _stranger(env, "--name", "web", "--ipadd", "10.0.0.5")
    before = len(mutating_calls(sim_node.dir))

    forced = vzgitops(["apply", "--repo", str(repo.path), "--plan-file", str(saved)], env)
    assert forced.returncode == 1, forced.stdout + forced.stderr
    assert f"the saved plan {saved} is stale" in forced.stdout + forced.stderr
    assert mutating_calls(sim_node.dir)[before:] == []
    held = _held(vzgitops(["plan", "--repo", str(repo.path), "--format", "json"], env))
    assert (
        "already has the name 'web' and the IP address 10.0.0.5; rename or remove container 150"
        in held[120]["reason"]
    )
    assert 120 not in listing(env)
