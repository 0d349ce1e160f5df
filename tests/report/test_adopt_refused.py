"""`drift --adopt` refuses, before anything is written, what it cannot do cleanly: a `--branch`
that is HEAD, a full ref name, an existing branch or tag, and a URL for `--repo` (real command,
simulated node, real git repository)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.test_drift_sim import drift, edit_conf
from tests.support import GitRepo, container_doc, vzgitops


@pytest.fixture
def repo(tmp_path: Path, env: dict[str, str]) -> GitRepo:
    """One container applied to the node, then its cpuunits edited by hand: drift to adopt."""
    git = GitRepo(tmp_path / "repo")
    git.write("spare.yaml", container_doc("spare", 103, ram="512M", cpuunits=500, state="stopped"))
    git.commit("spare")
    done = vzgitops(["apply", "--repo", str(git.path)], env)
    assert done.returncode == 0, done.stderr
    edit_conf(env, 103, "CPUUNITS", "750")
    return git


@pytest.mark.parametrize("branch", ["HEAD", "origin/HEAD", "refs/heads/adopted", "main", "v1"])
def test_adopt_refuses_a_branch_that_is_head_a_full_ref_or_taken(
    repo: GitRepo, env: dict[str, str], branch: str
) -> None:
    repo.git("tag", "v1")
    refs, objects = repo.git("for-each-ref"), repo.git("count-objects", "-v")
    code, _, err = drift(repo, env, "--adopt", "--branch", branch)
    assert code == (64 if "HEAD" in branch or branch.startswith("refs/") else 1), err
    last = err.strip().splitlines()[-1]
    assert f"--branch {branch!r}" in last and "nothing was written" in last
    assert "internal error" not in err and "update-ref" not in err
    assert (repo.git("for-each-ref"), repo.git("count-objects", "-v")) == (refs, objects)


def test_adopt_refuses_a_url_before_reading_the_node(repo: GitRepo, env: dict[str, str]) -> None:
    refs = repo.git("for-each-ref")
    done = vzgitops(["drift", "--repo", repo.path.as_uri(), "--adopt"], env)
    assert done.returncode == 64, done.stderr
    assert "commits into a local clone" in done.stderr and "is a URL" in done.stderr
    assert done.stdout == "" and repo.git("for-each-ref") == refs
