"""examples/ci: the pre-receive hook against a real bare repository; the CI files run the
documented offline plan and find their comment by the marker vzgitops writes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reconciler.report import MARKER
from tests.support import GIT_ENV, GitRepo, container_doc

CI = Path(__file__).parents[2] / "examples" / "ci"
ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("name", ["github-plan.yml", "gitlab-plan.yml"])
def test_ci_files_run_the_offline_markdown_plan_and_use_the_marker(name: str) -> None:
    text = (CI / name).read_text(encoding="utf-8")
    assert isinstance(yaml.safe_load(text), dict)
    flat = " ".join(text.replace("\\\n", " ").split())
    assert "vzgitops plan --repo . --base" in flat
    assert "--offline --format markdown" in flat
    assert MARKER in text


@pytest.fixture
def server(tmp_path: Path) -> tuple[GitRepo, dict[str, str]]:
    """A bare repository with the hook, and a clone to push from."""
    bare = tmp_path / "server.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    shutil.copy(CI / "pre-receive", bare / "hooks" / "pre-receive")
    tools = tmp_path / "bin"
    tools.mkdir()
    wrapper = tools / "vzgitops"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m reconciler.cli "$@"\n')
    wrapper.chmod(0o755)
    env = {
        **os.environ,
        **GIT_ENV,
        "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
    }
    clone = GitRepo(tmp_path / "work")
    clone.git("remote", "add", "origin", str(bare))
    return clone, env


def push(clone: GitRepo, env: dict[str, str], *refs: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(clone.path), "push", "origin", *refs],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_pre_receive_accepts_a_valid_head_and_rejects_an_invalid_one(
    server: tuple[GitRepo, dict[str, str]],
) -> None:
    clone, env = server
    clone.write("web.yaml", container_doc("web", 101, ram="1G"))
    clone.commit("valid")
    done = push(clone, env, "main")
    assert done.returncode == 0, done.stderr

    clone.write("web.yaml", container_doc("web", 101, ram="plenty"))
    bad = clone.commit("invalid")
    done = push(clone, env, "main")
    assert done.returncode != 0
    assert f"push to refs/heads/main rejected: {bad} does not validate" in done.stderr
    assert "web.yaml" in done.stderr and "ram" in done.stderr

    clone.git("tag", "broken")
    assert push(clone, env, "refs/tags/broken").returncode == 0  # tags are not checked
