"""How often `vzgitops apply` observes the node: once when nothing changes, again to verify."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support import GitRepo, container_doc, oplog, vzgitops


def _apply(repo: GitRepo, env: dict[str, str], node: Path) -> tuple[int, list[str]]:
    """(vzlist calls, vzctl verbs) of one `vzgitops apply`."""
    before = len(oplog(node))
    done = vzgitops(["apply", "--repo", str(repo.path)], env)
    assert done.returncode == 0, done.stderr
    calls = oplog(node)[before:]
    vzctl = [str(c["verb"]) for c in calls if c["tool"] == "vzctl"]
    return sum(1 for c in calls if c["tool"] == "vzlist"), vzctl


def test_a_no_op_apply_observes_once_and_a_change_is_verified(
    sim_node: Any, env: dict[str, str], tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("web.yaml", container_doc("web", 101, cpus=1, state="running"))
    repo.commit("web")
    assert _apply(repo, env, sim_node.dir) == (2, ["create", "set", "start"])
    assert _apply(repo, env, sim_node.dir) == (1, [])
    repo.write("web.yaml", container_doc("web", 101, cpus=2, state="running"))
    repo.commit("cpus")
    assert _apply(repo, env, sim_node.dir) == (2, ["set"])


def test_a_protect_change_is_planned_again_after_it_is_recorded(
    sim_node: Any, env: dict[str, str], tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("web.yaml", container_doc("web", 101))
    repo.commit("web")
    _apply(repo, env, sim_node.dir)
    repo.write("web.yaml", container_doc("web", 101, protect=True))
    repo.commit("protect")
    assert _apply(repo, env, sim_node.dir) == (2, [])
    inventory = (tmp_path / "state" / "inventory.json").read_text(encoding="utf-8")
    assert '"protect": true' in inventory
