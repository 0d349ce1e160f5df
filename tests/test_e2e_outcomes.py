"""End to end: what vzgitops says is true. Held work is not success, a vzctl failure keeps its
cause, and values from the node never reach a terminal raw (real git, the real command, the
simulated node's real processes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import GitRepo, container_doc, listing, vz, vzgitops


@pytest.fixture
def env(sim_node: Any, tmp_path: Path) -> dict[str, str]:
    return {**sim_node.env, "VZGITOPS_STATE_DIR": str(tmp_path / "state")}


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


def apply(repo: GitRepo, env: dict[str, str], *extra: str) -> Any:
    return vzgitops(["apply", "--repo", str(repo.path), *extra], env)


# ---- a failing vzctl call keeps its cause ----------------------------------------------------


def test_missing_os_template_names_the_template(env: dict[str, str], repo: GitRepo) -> None:
    repo.write("web.yaml", container_doc("web", 101, ostemplate="nosuch-1.0-x86_64"))
    repo.commit()
    done = apply(repo, env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "container 101: vzctl create failed (exit 91)" in done.stdout
    assert "Cached OS template" in done.stdout and "nosuch-1.0-x86_64" in done.stdout
    assert "Creation of container private area failed" in done.stdout


def test_address_in_use_is_the_reason_a_start_failed(env: dict[str, str], repo: GitRepo) -> None:
    for argv in (
        ["create", "150", "--ostemplate", "debian-12.0-x86_64-minimal", "--ipadd", "10.0.0.5"],
        ["start", "150"],
    ):
        assert vz("vzctl", argv, env).returncode == 0
    repo.write("web.yaml", container_doc("web", 101, ip=["10.0.0.5"], state="running"))
    repo.commit()
    done = apply(repo, env, "--format", "json")
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    (failed,) = [r for r in report["apply"]["results"] if r["status"] == "failed"]
    assert "Unable to add IP 10.0.0.5: Address already in use" in failed["error"]
    assert "Container start failed" in failed["error"]
    assert "Starting container" not in failed["error"]  # progress chatter is left out
    assert listing(env)[101]["status"] == "stopped"
