"""A converged fleet for the benchmarks: a git repository of N containers and a node matching it.

`build_fleet` writes what a user keeps in git (one YAML file per container, as long as the
source's file limit allows; beyond it the fewest documents per file that fit), commits it, plans
it against an empty simulated node with vzgitops's own planner, runs the plan's vzctl commands
in-process (`vzsim.bulkcalls`: the files real `create`, `set --save` and `start` calls
leave) and records the containers as owned, as `vzgitops apply` would have. `change_cpus`
edits one field of some containers and commits, as a user would.
"""

from __future__ import annotations

import math
import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.node.access import LocalAccess
from reconciler.node.observe import observe
from reconciler.node.process import SubprocessRunner
from reconciler.plan import Inventory, Policy, plan
from reconciler.source import DEFAULT_LIMITS, read_revision
from reconciler.spec.load import load_desired
from reconciler.state import StateDir
from vzsim.bulkcalls import run_calls
from vzsim.nodeinit import init_node

CTID_BASE = 1000
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}

CONTAINER = """\
# yaml-language-server: $schema=../schemas/container.schema.json
apiVersion: vzgitops/v1
kind: Container
metadata:
  name: ct{ctid}
spec:
  ctid: {ctid}
  state: running
  ostemplate: debian-12.0-x86_64-minimal
  hostname: ct{ctid}.example.lan
  ip: [{ip}]
  nameserver: [10.0.0.53]
  searchdomain: [example.lan]
  onboot: true
  ram: 512M
  swap: 256M
  diskspace: 10G
  cpus: {cpus}
  cpuunits: 1000
  cpulimit: 100
  description: Benchmark container {ctid}
"""


def ctids(count: int) -> list[int]:
    return list(range(CTID_BASE, CTID_BASE + count))


def ip_of(ctid: int) -> str:
    """A distinct 10.x.y.z per container, never .0 or .255."""
    i = ctid - CTID_BASE
    return f"10.{1 + i // 62500}.{1 + i // 250 % 250}.{1 + i % 250}"


def container_yaml(ctid: int, cpus: int = 1) -> str:
    return CONTAINER.format(ctid=ctid, ip=ip_of(ctid), cpus=cpus)


def docs_per_file(count: int) -> int:
    """1 while one file per container stays within the source's file limit."""
    return max(1, math.ceil(count / DEFAULT_LIMITS.max_files))


def file_of(ctid: int, per_file: int) -> str:
    if per_file == 1:
        return f"containers/ct{ctid}.yaml"
    first = CTID_BASE + (ctid - CTID_BASE) // per_file * per_file
    return f"containers/ct{first}-{first + per_file - 1}.yaml"


def repository_files(cpus: Mapping[int, int]) -> dict[str, str]:
    """Path -> YAML text for containers {ctid: cpus}."""
    per_file = docs_per_file(len(cpus))
    files: dict[str, list[str]] = {}
    for ctid in sorted(cpus):
        files.setdefault(file_of(ctid, per_file), []).append(container_yaml(ctid, cpus[ctid]))
    return {path: "---\n".join(docs) for path, docs in files.items()}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def write_files(repo: Path, files: Mapping[str, str]) -> None:
    for relpath, text in files.items():
        path = repo / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def commit(repo: Path, files: Mapping[str, str], message: str) -> str:
    write_files(repo, files)
    git(repo, "add", "--", *sorted(files))
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def make_repository(repo: Path, count: int) -> str:
    """A work tree with `count` containers committed on `main`; returns the commit sha."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    return commit(repo, repository_files(dict.fromkeys(ctids(count), 1)), f"{count} containers")


@dataclass
class Fleet:
    """A repository, a node and a state directory that agree, and the cpus each container has."""

    size: int
    repo: Path
    node: Path
    state: Path
    cpus: dict[int, int]

    @property
    def env(self) -> dict[str, str]:
        path = f"{self.node / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        return {**os.environ, "PATH": path, "VZGITOPS_VZ_CONF_DIR": str(self.node / "conf")}

    @property
    def source_args(self) -> list[str]:
        return ["--repo", str(self.repo), "--state-dir", str(self.state)]

    def change_cpus(self, chosen: Iterable[int], value: int) -> str:
        """Set cpus of `chosen` containers to `value` in git; returns the new commit sha."""
        for ctid in chosen:
            self.cpus[ctid] = value
        files = repository_files(self.cpus)
        touched = {file_of(ctid, docs_per_file(self.size)) for ctid in chosen}
        return commit(self.repo, {p: files[p] for p in touched}, f"cpus: {value}")


def plan_commands(repo: Path, conf_dir: Path, env: Mapping[str, str]) -> list[Sequence[str]]:
    """The vzctl argument lists of vzgitops's plan for `repo` against the node (in-process)."""
    desired = load_desired(read_revision(repo).files)
    observed = observe(LocalAccess(SubprocessRunner(env=dict(env)), conf_dir))
    result = plan(desired.containers, observed, Inventory(), Policy())
    return [command.argv for change in result.changes for command in change.commands]


def record_owned(state: Path, names: Mapping[int, str]) -> None:
    """What `vzgitops apply` records after creating these containers."""

    def add(data: dict[str, Any]) -> None:
        for ctid, name in names.items():
            entry = {"how": "create", "since": 0.0, "name": name, "protect": False}
            data["containers"][str(ctid)] = entry

    StateDir(state).update_inventory(add)


def build_fleet(root: Path, node_root: Path, count: int) -> Fleet:
    """Repository under `root`, node under `node_root` (may be tmpfs), converged and owned."""
    fleet = Fleet(count, root / "repo", node_root / "node", root / "state", {})
    make_repository(fleet.repo, count)
    init_node(str(fleet.node), [])
    fleet.cpus = dict.fromkeys(ctids(count), 1)
    calls = plan_commands(fleet.repo, fleet.node / "conf", fleet.env)
    run_calls(str(fleet.node), calls)
    record_owned(fleet.state, {ctid: f"ct{ctid}" for ctid in fleet.cpus})
    return fleet
