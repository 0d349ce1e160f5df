"""`vzgitops plan --base --head`: plans between real commits of a real git repository."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.support import GitRepo, container_doc, vzgitops


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    git = GitRepo(tmp_path / "repo")
    git.write("web.yaml", "# the web server\n" + container_doc("web", 101, ram="1G", cpus=1))
    git.write("db.yaml", container_doc("db", 102, ram="4G"))
    git.commit("base: web and db")
    git.git("checkout", "-q", "-b", "feature")
    git.write("web.yaml", container_doc("web", 101, ram="2G", cpus=1, netfilter="full"))
    git.write("cache.yaml", container_doc("cache", 103, ram="512M"))
    git.commit("bigger web, new cache")
    return git


@pytest.fixture
def no_node(tmp_path: Path) -> dict[str, str]:
    """An environment in which no vzctl or vzlist can be found and no config directory exists."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    git = shutil.which("git")
    assert git is not None
    git_dir = str(Path(git).parent)
    return {
        "PATH": os.pathsep.join([str(empty), git_dir, str(Path(sys.executable).parent)]),
        "VZGITOPS_VZ_CONF_DIR": str(tmp_path / "no-such-dir"),
        "VZGITOPS_STATE_DIR": str(tmp_path / "state"),
        "HOME": str(tmp_path),
        # under `make test`, coverage measures these vzgitops processes too
        **{k: v for k, v in os.environ.items() if k.startswith("COVERAGE_")},
    }


def plan(repo: GitRepo, env: dict[str, str], *extra: str) -> tuple[int, str, str]:
    done = vzgitops(["plan", "--repo", str(repo.path), "--base", "main", *extra], env)
    return done.returncode, done.stdout, done.stderr


def test_offline_plan_needs_no_node_and_names_both_commits(
    repo: GitRepo, no_node: dict[str, str]
) -> None:
    code, out, err = plan(repo, no_node, "--head", "feature", "--offline")
    assert code == 2, err
    base, head = repo.git("rev-parse", "main"), repo.git("rev-parse", "feature")
    assert f"base {base[:12]} (main) base: web and db" in out
    assert f"head {head[:12]} (feature) bigger web, new cache" in out
    assert "ram: 1G -> 2G" in out and "netfilter: (unset) -> full (needs restart)" in out
    assert "+ container 103 (cache): create" in out
    assert "102" not in out.split("offline:")[1]  # db is unchanged
    assert out.rstrip().endswith("Plan: 1 to create, 1 to change, 0 to destroy.")


def test_head_defaults_to_ref_and_json_is_the_report(
    repo: GitRepo, no_node: dict[str, str]
) -> None:
    code, out, err = plan(repo, no_node, "--ref", "feature", "--offline", "--format", "json")
    assert code == 2, err
    report = json.loads(out)
    assert report["kind"] == "plan" and report["against"] == "base"
    assert report["base"]["ref"] == "main" and report["head"]["ref"] == "feature"
    assert report["revision"] == repo.git("rev-parse", "feature")
    assert report["counts"]["create"] == 1 and report["counts"]["needs_restart"] == 1


def test_no_changes_exits_zero(repo: GitRepo, no_node: dict[str, str]) -> None:
    code, out, _ = plan(repo, no_node, "--head", "main", "--offline", "--format", "markdown")
    assert code == 0
    assert "**Plan: 0 to create, 0 to change, 0 to destroy.**" in out


def test_removed_container_is_a_held_destroy_without_prune(
    repo: GitRepo, no_node: dict[str, str]
) -> None:
    repo.remove("db.yaml")
    repo.commit("drop db")
    code, out, _ = plan(repo, no_node, "--head", "feature", "--offline")
    assert code == 2
    assert "! container 102 (db): destroy-held" in out
    code, out, _ = plan(repo, no_node, "--head", "feature", "--offline", "--prune")
    assert "- container 102 (db): destroy" in out


def test_invalid_head_exits_one_with_its_problems(repo: GitRepo, no_node: dict[str, str]) -> None:
    repo.write("web.yaml", container_doc("web", 101, ram="lots"))
    repo.commit("broken")
    code, out, err = plan(repo, no_node, "--head", "feature", "--offline")
    assert code == 1 and out == ""
    assert "web.yaml" in err and "ram" in err


def test_live_plan_without_a_node_points_at_offline(repo: GitRepo, no_node: dict[str, str]) -> None:
    code, _, err = plan(repo, no_node, "--head", "feature")
    assert code == 1
    assert "--offline" in err


def test_offline_without_base_is_a_usage_error(repo: GitRepo, no_node: dict[str, str]) -> None:
    done = vzgitops(["plan", "--repo", str(repo.path), "--offline"], no_node)
    assert done.returncode == 64


def test_offline_plan_covers_every_node_of_a_multi_node_repository(
    tmp_path: Path, no_node: dict[str, str]
) -> None:
    git = GitRepo(tmp_path / "fleet")
    for path in sorted((Path(__file__).parents[2] / "examples" / "webfleet").glob("*.yaml")):
        git.write(path.name, path.read_text(encoding="utf-8"))
    base = git.commit("fleet")
    text = (git.path / "cache.yaml").read_text(encoding="utf-8")
    git.write("cache.yaml", text.replace("ram: 4G", "ram: 8G"))
    git.commit("bigger cache")
    done = vzgitops(
        ["plan", "--repo", str(git.path), "--base", base, "--offline", "--format", "json"],
        no_node,
    )
    assert done.returncode == 2, done.stderr
    sections = {s["node"]: s for s in json.loads(done.stdout)["nodes"]}
    assert sorted(sections) == ["hn1", "hn2"]
    assert sections["hn1"]["changes"] == []
    assert [c["ctid"] for c in sections["hn2"]["changes"]] == [220]
