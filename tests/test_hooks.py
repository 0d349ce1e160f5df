"""The example pre-commit hook validates what is staged, in a real repository with real git."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support import GIT_ENV, GitRepo, container_doc

HOOK = Path(__file__).resolve().parent.parent / "examples" / "hooks" / "pre-commit"


def install(repo: GitRepo, tmp_path: Path) -> dict[str, str]:
    hooks = repo.path / ".git" / "hooks"
    shutil.copy(HOOK, hooks / "pre-commit")
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "vzgitops").write_text(f'#!/bin/sh\nexec {sys.executable} -m reconciler.cli "$@"\n')
    (shim / "vzgitops").chmod(0o755)
    return {**os.environ, **GIT_ENV, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}"}


def commit(repo: GitRepo, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    subprocess.run(["git", "-C", str(repo.path), "add", "-A"], env=env, check=True)
    return subprocess.run(
        ["git", "-C", str(repo.path), "commit", "-q", "-m", "change"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_pre_commit_hook_accepts_valid_and_refuses_invalid(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    env = install(repo, tmp_path)
    repo.write("web.yaml", container_doc("web", 101))
    first = commit(repo, env)
    assert first.returncode == 0, first.stderr
    repo.write("db.yaml", container_doc("db", 102, cpus="many"))
    refused = commit(repo, env)
    assert refused.returncode != 0
    assert "db.yaml:" in refused.stderr and "spec.cpus" in refused.stderr
    assert repo.git("log", "--format=%s") == "change"
