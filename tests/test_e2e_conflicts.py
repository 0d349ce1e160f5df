"""A container vzgitops does not own with a name or address git wants is reported by the plan.

Without the check the plan offered a create that vzctl refuses (`--name` taken: exit 131) or a
start it refuses (address in use by a running container: exit 78), on every apply (issue 17).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import GitRepo, container_doc, mutating_calls, vz, vzgitops

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
