"""A state directory belongs to one node: recorded at its first applying use, another refused.

Before this, `plan --node server` with the laptop's state directory planned destroying every
container of the laptop. Real git, the real `vzgitops` process, the simulated node.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import GitRepo, container_doc, mutating_calls, vzgitops


def _node(name: str) -> str:
    return yaml.safe_dump({"apiVersion": "vzgitops/v1", "kind": "Node", "metadata": {"name": name}})


def _placed(name: str, ctid: int, node: str) -> str:
    doc = yaml.safe_load(container_doc(name, ctid, state="stopped"))
    doc["metadata"]["node"] = node
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.fixture
def two_nodes(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    repo.write("laptop.yaml", _node("laptop"))
    repo.write("server.yaml", _node("server"))
    repo.write("web.yaml", _placed("web", 101, "laptop"))
    repo.write("db.yaml", _placed("db", 102, "server"))
    repo.commit("two nodes")
    return repo


def _bound(env: dict[str, str]) -> Any:
    path = Path(env["VZGITOPS_STATE_DIR"]) / "node.json"
    return json.loads(path.read_text()) if path.exists() else None


def test_apply_records_the_node_and_a_plan_for_another_is_refused(
    two_nodes: GitRepo, env: dict[str, str], sim_node: Any
) -> None:
    applied = vzgitops(["apply", "--repo", str(two_nodes.path), "--node", "laptop"], env)
    assert applied.returncode == 0, applied.stderr
    assert _bound(env) == {"node": "laptop"}
    calls = len(mutating_calls(sim_node.dir))

    other = vzgitops(["plan", "--repo", str(two_nodes.path), "--node", "server", "--prune"], env)
    assert other.returncode == 1
    assert "belongs to node 'laptop', not to node 'server'" in other.stderr
    assert "destroy" not in other.stdout
    refused = vzgitops(["apply", "--repo", str(two_nodes.path), "--node", "server"], env)
    assert refused.returncode == 1
    assert len(mutating_calls(sim_node.dir)) == calls
    assert _bound(env) == {"node": "laptop"}


def test_without_node_the_state_directory_names_it(two_nodes: GitRepo, env: dict[str, str]) -> None:
    first = vzgitops(["plan", "--repo", str(two_nodes.path)], env)
    assert first.returncode == 64 and "pass --node NAME" in first.stderr
    assert (
        vzgitops(["apply", "--repo", str(two_nodes.path), "--node", "laptop"], env).returncode == 0
    )
    again = vzgitops(["plan", "--repo", str(two_nodes.path), "--detailed-exitcode"], env)
    assert again.returncode == 0, again.stderr
    assert "for node laptop" in again.stdout


def test_plan_records_nothing(two_nodes: GitRepo, env: dict[str, str]) -> None:
    done = vzgitops(["plan", "--repo", str(two_nodes.path), "--node", "server"], env)
    assert done.returncode == 0, done.stderr
    assert _bound(env) is None


def test_vzgitops_node_sets_the_node_like_the_option(
    two_nodes: GitRepo, env: dict[str, str]
) -> None:
    laptop = {**env, "VZGITOPS_NODE": "laptop"}
    done = vzgitops(["apply", "--repo", str(two_nodes.path)], laptop)
    assert done.returncode == 0, done.stderr
    assert _bound(env) == {"node": "laptop"}
    server = {**env, "VZGITOPS_NODE": "server"}
    refused = vzgitops(["plan", "--repo", str(two_nodes.path)], server)
    assert refused.returncode == 1
    assert "belongs to node 'laptop'" in refused.stderr
    given = vzgitops(["plan", "--repo", str(two_nodes.path), "--node", "laptop"], server)
    assert given.returncode == 0, given.stderr


def test_a_state_from_before_any_node_was_declared_passes_to_the_one_declared(
    tmp_path: Path, env: dict[str, str]
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("web.yaml", container_doc("web", 101, state="stopped"))
    repo.commit("no node")
    assert vzgitops(["apply", "--repo", str(repo.path)], env).returncode == 0
    assert _bound(env) == {"node": "default"}
    repo.write("laptop.yaml", _node("laptop"))
    repo.commit("name the node")
    done = vzgitops(["apply", "--repo", str(repo.path)], env)
    assert done.returncode == 0, done.stderr
    assert _bound(env) == {"node": "laptop"}
    repo.write("server.yaml", _node("server"))
    repo.write("web.yaml", _placed("web", 101, "laptop"))
    repo.commit("a second node")
    refused = vzgitops(["plan", "--repo", str(repo.path), "--node", "server"], env)
    assert refused.returncode == 1 and "belongs to node 'laptop'" in refused.stderr


def test_a_revision_that_drops_the_node_is_refused(two_nodes: GitRepo, env: dict[str, str]) -> None:
    assert (
        vzgitops(["apply", "--repo", str(two_nodes.path), "--node", "laptop"], env).returncode == 0
    )
    two_nodes.remove("laptop.yaml")
    two_nodes.remove("web.yaml")
    two_nodes.commit("laptop retired")
    done = vzgitops(["plan", "--repo", str(two_nodes.path)], env)
    assert done.returncode == 1
    assert "this revision, which does not declare it" in done.stderr


def test_an_unreadable_node_file_is_an_error_naming_it(
    two_nodes: GitRepo, env: dict[str, str]
) -> None:
    state = Path(env["VZGITOPS_STATE_DIR"])
    state.mkdir()
    (state / "node.json").write_text("{not json")
    done = vzgitops(["plan", "--repo", str(two_nodes.path), "--node", "laptop"], env)
    assert done.returncode == 1
    assert str(state / "node.json") in done.stderr
