"""Shared test support: real git repositories, the real vzgitops command, container documents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

VZGITOPS = [sys.executable, "-m", "reconciler.cli"]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


class GitRepo:
    """A real git repository in a temporary directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        env = {**os.environ, **GIT_ENV}
        done = subprocess.run(
            ["git", "-C", str(self.path), *args],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def write(self, relpath: str, text: str) -> Path:
        path = self.path / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def remove(self, relpath: str) -> None:
        self.git("rm", "-q", relpath)

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


def container_doc(name: str, ctid: int, **spec: Any) -> str:
    body = {"ctid": ctid, "ostemplate": "debian-12.0-x86_64-minimal", **spec}
    doc = {
        "apiVersion": "vzgitops/v1",
        "kind": "Container",
        "metadata": {"name": name},
        "spec": body,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def vzgitops(
    args: Sequence[str], env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VZGITOPS, *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def vz(tool: str, args: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool, *args], env=dict(env), capture_output=True, text=True, timeout=60, check=False
    )


def oplog(node_dir: Path) -> list[dict[str, Any]]:
    path = node_dir / "oplog.jsonl"
    if not path.exists():
        return []
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def mutating_calls(node_dir: Path) -> list[dict[str, Any]]:
    verbs = {"create", "set", "start", "stop", "restart", "destroy", "mount", "umount"}
    return [e for e in oplog(node_dir) if e.get("tool") == "vzctl" and e.get("verb") in verbs]


def listing(env: Mapping[str, str]) -> dict[int, dict[str, Any]]:
    done = vz("vzlist", ["-a", "-j"], env)
    assert done.returncode == 0, done.stderr
    return {item["ctid"]: item for item in json.loads(done.stdout)}
