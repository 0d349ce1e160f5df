"""Pre-flight end to end: `vzgitops plan` and `apply` against a small 32-bit simulated node
(real vzctl, vzlist, uname, nproc, free and df processes), and `plan --offline` with no node."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler.spec.windows import WEEKDAYS
from tests.conftest import SimNode, make_sim_node
from tests.report.test_pr_plan import no_node  # noqa: F401 - a fixture
from tests.support import GitRepo, container_doc, mutating_calls, vzgitops
from vzsim.hardware import Hardware

SMALL = Hardware(arch="i686", cpus=2, ram=1 << 30, swap=512 << 20, disk=20 << 30)
X86 = "centos-6-x86"


@pytest.fixture
def small(tmp_path: Path) -> SimNode:
    return make_sim_node(tmp_path / "node", machine=SMALL)


@pytest.fixture
def env(small: SimNode, tmp_path: Path) -> dict[str, str]:
    return {**small.env, "VZGITOPS_STATE_DIR": str(tmp_path / "state")}


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    git = GitRepo(tmp_path / "repo")
    git.write("web.yaml", container_doc("web", 101, config="vswap-256m"))  # x86_64 template
    git.write("db.yaml", container_doc("db", 102, ostemplate=X86, ram="512M", swap="128M",
                                       hostname="db.lan"))  # fmt: skip
    git.write("big.yaml", container_doc("big", 103, ostemplate=X86, ram="768M", swap="128M",
                                        hostname="DB.lan"))  # fmt: skip
    git.write("pin.yaml", container_doc("pin", 104, ostemplate=X86, ram="64M", swap="0",
                                        cpumask="1-3"))  # fmt: skip
    git.write("new.yaml", container_doc("new", 105, ostemplate="fedora-39-x86", ram="64M",
                                        swap="0"))  # fmt: skip
    git.commit("five containers for a small node")
    return git


def held(report: dict[str, Any]) -> dict[int, str]:
    return {h["ctid"]: h["reason"] for h in report["nodes"][0]["held"] if h["kind"] == "preflight"}


def test_the_plan_holds_what_the_node_cannot_take_and_apply_runs_the_rest(
    small: SimNode, env: dict[str, str], repo: GitRepo
) -> None:
    done = vzgitops(["plan", "--repo", str(repo.path), "--format", "json"], env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [c["ctid"] for c in report["nodes"][0]["changes"]] == [102]
    cache = f"{small.dir}/template/cache"
    assert held(report) == {
        101: "ostemplate: OS template debian-12.0-x86_64-minimal is 64-bit (x86_64) but the node is "
        "32-bit (i686)",
        103: "it needs 768M more RAM but the node has 1G (free -b) and its containers take 512M",
        104: "cpumask: 1-3 names CPUs 2, 3, but the node has CPUs 0-1 only",
        105: f"ostemplate: OS template cache fedora-39-x86 is not in {cache} on the node (vzctl create "
        "would exit 91); put fedora-39-x86.tar.gz there or run 'vztmpl-dl fedora-39-x86'",
    }
    assert report["nodes"][0]["warnings"] == [
        "hostname db.lan is used by containers 102 (db), 103 (big)"
    ]
    assert report["summary"] == "Plan: 1 to create, 0 to change, 0 to destroy, 4 held."

    applied = vzgitops(["apply", "--repo", str(repo.path)], env)
    assert applied.returncode == 4, applied.stdout + applied.stderr  # held changes remain
    assert {e["ctid"] for e in mutating_calls(small.dir)} == {102}
    assert "warning: hostname db.lan is used by containers 102 (db), 103 (big)" in applied.stdout
    assert "! container 103 (big): preflight: it needs 768M more RAM" in applied.stdout


def test_markdown_shows_the_held_changes_and_the_warning(
    env: dict[str, str], repo: GitRepo
) -> None:
    done = vzgitops(["plan", "--repo", str(repo.path), "--format", "markdown"], env)
    assert done.returncode == 0, done.stderr
    assert "- :pause_button: 104 (pin) preflight: cpumask: 1-3 names CPUs 2, 3" in done.stdout
    assert "- :warning: hostname db.lan is used by containers 102 (db), 103 (big)" in done.stdout


def test_freeing_ram_in_git_lets_the_held_container_through(
    small: SimNode, env: dict[str, str], repo: GitRepo
) -> None:
    assert vzgitops(["apply", "--repo", str(repo.path)], env).returncode == 4
    repo.write("db.yaml", container_doc("db", 102, ostemplate=X86, ram="128M", swap="128M"))
    repo.commit("a smaller db")
    done = vzgitops(["apply", "--repo", str(repo.path), "--format", "json"], env)
    assert done.returncode == 4, done.stdout + done.stderr  # 101, 104, 105 still held
    assert 103 in {e["ctid"] for e in mutating_calls(small.dir) if e["verb"] == "create"}


def test_cpu_overcommit_on_the_node_bounds_the_running_cpus(
    env: dict[str, str], tmp_path: Path
) -> None:
    git = GitRepo(tmp_path / "ratio")
    node = "apiVersion: vzgitops/v1\nkind: Node\nmetadata: {name: hn}\n"
    git.write("node.yaml", node + "spec:\n  capacity: {cpuOvercommit: 1.5}\n")
    for n in range(2):
        git.write(f"c{n}.yaml", container_doc(f"c{n}", 110 + n, ostemplate=X86, ram="64M",
                                              swap="0", cpus=2))  # fmt: skip
    git.commit("4 CPUs on 2, at most 3 allowed")
    done = vzgitops(["plan", "--repo", str(git.path), "--format", "json"], env)
    assert done.returncode == 0, done.stderr
    assert held(json.loads(done.stdout)) == {
        111: "it needs 2 more CPUs but the node has 3 (nproc times cpuOvercommit) and its "
        "containers take 2"
    }


def test_an_offline_plan_warns_about_hostnames_without_a_node(
    tmp_path: Path,
    no_node: dict[str, str],  # noqa: F811 - the imported fixture
) -> None:
    git = GitRepo(tmp_path / "offline")
    git.write("a.yaml", container_doc("a", 101, hostname="www.lan"))
    git.commit("base")
    git.write("b.yaml", container_doc("b", 102, hostname="www.lan", cpumask="60-63"))
    git.commit("head")
    done = vzgitops(
        ["plan", "--repo", str(git.path), "--base", "HEAD~1", "--head", "HEAD", "--offline"],
        no_node,
    )
    assert done.returncode == 2, done.stderr
    assert "warning: hostname www.lan is used by containers 101 (a), 102 (b)" in done.stdout
    assert "+ container 102 (b): create" in done.stdout  # the node's CPUs are not known offline


def test_a_closed_window_holds_the_restart_and_ignore_windows_runs_it(
    sim_node: SimNode, tmp_path: Path
) -> None:
    env = {**sim_node.env, "VZGITOPS_STATE_DIR": str(tmp_path / "state")}
    git = GitRepo(tmp_path / "windows")
    git.write("web.yaml", container_doc("web", 101, cpus=1))
    git.commit("web")
    assert vzgitops(["apply", "--repo", str(git.path)], env).returncode == 0
    # a window that opens three days from now: closed whenever this test runs
    later = WEEKDAYS[(datetime.now(UTC).weekday() + 3) % 7]
    window = {"days": [later], "start": "00:00", "duration": "1h"}
    spec = {"cpus": 2, "features": {"nfs": True}, "maintenance": [window]}
    git.write("web.yaml", container_doc("web", 101, **spec))
    git.commit("nfs needs a restart, cpus do not")
    before = len(mutating_calls(sim_node.dir))

    held = vzgitops(["apply", "--repo", str(git.path)], env)
    assert held.returncode == 4, held.stdout + held.stderr
    assert (
        "! container 101 (web): window: features need a restart, outside its maintenance "
        "window; next window at " in held.stdout
    )
    assert [e["verb"] for e in mutating_calls(sim_node.dir)[before:]] == ["set"]  # cpus only

    forced = vzgitops(["apply", "--repo", str(git.path), "--ignore-windows"], env)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert [e["verb"] for e in mutating_calls(sim_node.dir)[before:]] == ["set", "set", "restart"]
