"""Crash safety: vzgitops is killed with SIGKILL right after its k-th mutating vzctl call.

A wrapper `vzctl`, first on PATH, runs the simulator's real vzctl and then, after the k-th
mutating call, kills its parent (vzgitops) with SIGKILL. For every k of a plan that creates,
changes, restarts and destroys, a plain re-run must converge, with exactly one successful create
per new container and no destroy of anything git still wants.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import VZGITOPS, GitRepo, container_doc, listing, mutating_calls, vzgitops

WRAPPER = """#!{python}
import fcntl, os, signal, subprocess, sys
MUTATING = {{"create", "set", "start", "stop", "restart", "destroy"}}
code = subprocess.call([{real!r}, *sys.argv[1:]])
if len(sys.argv) > 1 and sys.argv[1] in MUTATING:
    with open({counter!r}, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        count = len(handle.read().splitlines()) + 1
        handle.write(" ".join(sys.argv[1:]) + "\\n")
        handle.flush()
    if count == int(os.environ.get("KILL_AFTER", "0")):
        os.kill(os.getppid(), signal.SIGKILL)
sys.exit(code)
"""

BASE = {
    "a.yaml": container_doc("a", 101, cpus=1, hostname="a.lan"),
    "b.yaml": container_doc("b", 102, features={"nfs": False}),
    "c.yaml": container_doc("c", 103, state="stopped"),
    "d.yaml": container_doc("d", 104, ram="1G", swap="256M"),
}
NEXT = {
    "a.yaml": container_doc("a", 101, cpus=2, hostname="a.lan"),
    "b.yaml": container_doc("b", 102, features={"nfs": True}),
    "d.yaml": container_doc("d", 104, ram="1G", swap="256M"),
    "e.yaml": container_doc("e", 105, ram="2G", swap="512M", ip=["10.9.0.5"]),
    "f.yaml": container_doc("f", 106, state="stopped", hostname="f.lan"),
}


def make_node(root: Path) -> tuple[Path, dict[str, str]]:
    node = root / "node"
    done = subprocess.run(
        [*VZGITOPS, "sim", "init", str(node)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    wrap = root / "wrap"
    wrap.mkdir()
    script = wrap / "vzctl"
    script.write_text(
        WRAPPER.format(
            python=sys.executable, real=str(node / "bin" / "vzctl"), counter=str(root / "count")
        )
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    path = os.pathsep.join([str(wrap), str(node / "bin"), os.environ.get("PATH", "")])
    env = {
        **os.environ,
        "PATH": path,
        "VZGITOPS_VZ_CONF_DIR": str(node / "conf"),
        "VZGITOPS_STATE_DIR": str(root / "state"),
    }
    return node, env


def scenario(
    root: Path, kill_after: int
) -> tuple[Path, dict[str, str], subprocess.CompletedProcess[str]]:
    node, env = make_node(root)
    repo = GitRepo(root / "repo")
    for name, text in BASE.items():
        repo.write(name, text)
    repo.commit("base")
    assert vzgitops(["apply", "--repo", str(repo.path)], env).returncode == 0
    (root / "count").unlink()
    repo.remove("c.yaml")
    for name, text in NEXT.items():
        repo.write(name, text)
    repo.commit("next")
    killed = vzgitops(
        ["apply", "--repo", str(repo.path), "--prune", "--yes"],
        {**env, "KILL_AFTER": str(kill_after)},
    )
    return node, env, killed


@pytest.mark.slow
def test_kill_after_every_mutating_call_then_rerun_converges(tmp_path: Path) -> None:
    _, _, full = scenario(tmp_path / "full", 0)
    assert full.returncode == 0, full.stdout + full.stderr
    total = len((tmp_path / "full" / "count").read_text().splitlines())
    assert total == 8  # a: set; b: set, restart; c: destroy; e: create, set, start; f: create
    for k in range(1, total + 1):
        root = tmp_path / f"k{k}"
        node, env, killed = scenario(root, k)
        assert killed.returncode == -9, f"k={k}: {killed.stdout}{killed.stderr}"
        rerun = vzgitops(["apply", "--repo", str(root / "repo"), "--prune", "--yes"], env)
        assert rerun.returncode == 0, f"k={k}: {rerun.stdout}{rerun.stderr}"
        planned = vzgitops(["plan", "--repo", str(root / "repo"), "--detailed-exitcode"], env)
        assert planned.returncode == 0, f"k={k}: {planned.stdout}"
        calls = mutating_calls(node)
        creates = [c["argv"][2] for c in calls if c["argv"][1] == "create" and c["rc"] == 0]
        assert sorted(creates) == ["101", "102", "103", "104", "105", "106"], f"k={k}"
        destroys = {c["argv"][2] for c in calls if c["argv"][1] == "destroy"}
        assert destroys == {"103"}, f"k={k}"
        state = {ct: item["status"] for ct, item in listing(env).items()}
        assert state == {
            101: "running",
            102: "running",
            104: "running",
            105: "running",
            106: "stopped",
        }, f"k={k}"
