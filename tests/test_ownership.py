"""Ownership is exact, and state files fail closed: the real vzgitops command, real git
repositories, the simulated node's real vzctl/vzlist processes.

A wrapper `vzctl`, first on PATH, stands in for what a real node can do to a create: fail
without creating anything, create and still exit non-zero, or have vzgitops killed with
SIGKILL right after it (`AFTER_CREATE` = `fail`, `exit`, `kill`; `AT_VERB` picks another verb).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import GitRepo, container_doc, listing, mutating_calls, vz, vzgitops

WRAPPER = """#!{python}
import os, signal, subprocess, sys
verb = os.environ.get("AT_VERB", "create")
mode = os.environ.get("AFTER_CREATE", "") if sys.argv[1:2] == [verb] else ""
if mode == "fail":
    print("Creation of container private area failed")
    sys.exit(91)
code = subprocess.call([{real!r}, *sys.argv[1:]])
if mode == "kill":
    os.kill(os.getppid(), signal.SIGKILL)
sys.exit(1 if mode == "exit" else code)
"""

WEB = container_doc("web", 101, cpus=2)
DB = container_doc("db", 102, cpus=1, protect=True)
SPARE = container_doc("spare", 103, state="stopped")


@pytest.fixture
def env(sim_node: Any, tmp_path: Path) -> dict[str, str]:
    wrap = tmp_path / "wrap"
    wrap.mkdir()
    script = wrap / "vzctl"
    script.write_text(WRAPPER.format(python=sys.executable, real=str(sim_node.bin / "vzctl")))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    path = os.pathsep.join([str(wrap), sim_node.env["PATH"]])
    return {**sim_node.env, "PATH": path, "VZGITOPS_STATE_DIR": str(tmp_path / "state")}


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


def state(env: dict[str, str]) -> Path:
    return Path(env["VZGITOPS_STATE_DIR"])


def owned(env: dict[str, str]) -> set[int]:
    path = state(env) / "inventory.json"
    if not path.exists():
        return set()
    data = json.loads(path.read_text(encoding="utf-8"))
    return {int(k) for k in data["containers"]}


def apply(repo: GitRepo, env: dict[str, str], *extra: str, **more: str) -> Any:
    """`apply --yes`: destroys and recreates here are what the tests are about, unasked."""
    return vzgitops(["apply", "--yes", "--repo", str(repo.path), *extra], {**env, **more})


def hand_create(env: dict[str, str], ctid: int, name: str) -> None:
    args = ["create", str(ctid), "--ostemplate", "debian-12.0-x86_64-minimal", "--name", name]
    done = vz("vzctl", args, env)
    assert done.returncode == 0, done.stdout + done.stderr


def three(repo: GitRepo, env: dict[str, str]) -> None:
    for name, text in (("web.yaml", WEB), ("db.yaml", DB), ("spare.yaml", SPARE)):
        repo.write(name, text)
    repo.commit("three")
    done = apply(repo, env)
    assert done.returncode == 0, done.stdout + done.stderr


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "cache" not in p.parts and "desired" not in p.parts
    }


# ---- create intents --------------------------------------------------------------------------


def test_a_failed_create_does_not_make_a_later_hand_made_container_owned(
    sim_node: Any, env: dict[str, str], repo: GitRepo
) -> None:
    repo.write("web.yaml", WEB)
    repo.commit("web")
    failed = apply(repo, env, AFTER_CREATE="fail")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert 101 not in listing(env)
    hand_create(env, 101, "handmade")
    repo.remove("web.yaml")
    repo.commit("no web")
    done = apply(repo, env, "--prune")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not [c for c in mutating_calls(sim_node.dir) if c["argv"][1] == "destroy"]
    assert listing(env)[101]["name"] == "handmade"
    assert "101" in done.stdout and "unmanaged" in done.stdout
    assert not list((state(env) / "intents").iterdir())


@pytest.mark.parametrize("after", ["exit", "kill"])
def test_a_create_that_made_the_container_ends_owned(
    env: dict[str, str], repo: GitRepo, after: str
) -> None:
    """It exited non-zero after creating, or vzgitops was killed (SIGKILL) right after it."""
    repo.write("web.yaml", WEB)
    repo.commit("web")
    first = apply(repo, env, AFTER_CREATE=after)
    assert first.returncode == (-9 if after == "kill" else 1), first.stdout + first.stderr
    assert 101 in listing(env)
    rerun = apply(repo, env)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert listing(env)[101]["cpus"] == 2
    assert owned(env) == {101}
    planned = vzgitops(["plan", "--repo", str(repo.path), "--detailed-exitcode"], env)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "not own" not in planned.stdout


@pytest.mark.parametrize("verb", ["destroy", "create"])
def test_a_recreate_killed_midway_stays_owned_and_finishes(
    env: dict[str, str], repo: GitRepo, verb: str
) -> None:
    three(repo, env)
    repo.write(
        "spare.yaml",
        container_doc("spare", 103, state="stopped", ostemplate="centos-6-x86", allowRecreate=True),
    )
    repo.commit("spare on centos")
    killed = apply(repo, env, AFTER_CREATE="kill", AT_VERB=verb)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    rerun = apply(repo, env)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "gone" not in rerun.stderr and "not own" not in rerun.stdout
    assert listing(env)[103]["ostemplate"] == "centos-6-x86"
    assert owned(env) == {101, 102, 103}


# ---- containers changed by hand --------------------------------------------------------------


def test_a_container_destroyed_by_hand_does_not_pass_ownership_to_its_ctid_reused(
    env: dict[str, str], repo: GitRepo, sim_node: Any
) -> None:
    three(repo, env)
    assert vz("vzctl", ["destroy", "103"], env).returncode == 0
    hand_create(env, 103, "spare")  # the same CTID and even the same name, made by hand
    repo.remove("spare.yaml")
    repo.commit("no spare")
    done = apply(repo, env, "--prune")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "container 103 (spare), owned by vzgitops, is gone" in done.stderr
    assert 103 in listing(env)
    destroys = [c for c in mutating_calls(sim_node.dir) if c["argv"][1] == "destroy"]
    assert len(destroys) == 1  # the one made by hand
    assert owned(env) == {101, 102}


def test_owned_containers_vanishing_at_once_stop_the_plan_until_forgotten(
    env: dict[str, str], repo: GitRepo, sim_node: Any
) -> None:
    three(repo, env)
    assert vz("vzctl", ["stop", "101"], env).returncode == 0
    for ctid in ("101", "103"):
        assert vz("vzctl", ["destroy", ctid], env).returncode == 0
    calls = len(mutating_calls(sim_node.dir))
    planned = vzgitops(["plan", "--repo", str(repo.path)], env)
    done = apply(repo, env, "--prune")
    for result in (planned, done):
        assert result.returncode == 1, result.stdout + result.stderr
        assert "2 of 3 containers owned by vzgitops are gone" in result.stderr
        assert "101 (web), 103 (spare)" in result.stderr
        assert "vzgitops adopt --forget 101 103" in result.stderr
    assert len(mutating_calls(sim_node.dir)) == calls
    assert owned(env) == {101, 102, 103}
    forgot = vzgitops(["adopt", "--forget", "101", "--forget", "103"], env)
    assert forgot.returncode == 0, forgot.stdout + forgot.stderr
    again = apply(repo, env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert set(listing(env)) == {101, 102, 103}
    assert owned(env) == {101, 102, 103}


# ---- a lost inventory ------------------------------------------------------------------------


def test_a_deleted_inventory_is_rebuilt_by_apply_and_plan_writes_nothing(
    env: dict[str, str], repo: GitRepo
) -> None:
    three(repo, env)
    (state(env) / "inventory.json").unlink()
    repo.write("web.yaml", container_doc("web", 101, cpus=1))
    repo.remove("spare.yaml")
    repo.commit("web 1 cpu, no spare")
    kept = snapshot(state(env))
    planned = vzgitops(["plan", "--repo", str(repo.path)], env)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "inventory.json is missing; rebuilt" in planned.stderr
    assert "not own" not in planned.stdout
    assert snapshot(state(env)) == kept
    done = apply(repo, env, "--prune")
    assert done.returncode == 4, done.stdout + done.stderr  # the destroy of 103 is held
    assert "rebuilt" in done.stdout
    assert "the node does not match git" in done.stdout
    assert listing(env)[101]["cpus"] == 1
    assert 103 in listing(env)  # untrusted: nothing is pruned
    data = json.loads((state(env) / "inventory.json").read_text(encoding="utf-8"))
    assert data["rebuilt"] is True
    assert data["containers"]["102"]["protect"] is True
    assert vzgitops(["adopt", "--confirm"], env).returncode == 0
    pruned = apply(repo, env, "--prune")
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert 103 not in listing(env)


def test_a_first_revision_without_containers_leaves_a_trusted_inventory(
    env: dict[str, str], repo: GitRepo
) -> None:
    repo.write("README", "nothing yet\n")
    repo.commit("empty")
    assert apply(repo, env).returncode == 0
    repo.write("spare.yaml", SPARE)
    repo.write("web.yaml", WEB)
    repo.commit("spare and web")
    assert apply(repo, env).returncode == 0
    repo.remove("spare.yaml")
    repo.commit("no spare")
    done = apply(repo, env, "--prune")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rebuilt" not in done.stdout + done.stderr
    assert 103 not in listing(env)


# ---- state files that cannot be read or written ----------------------------------------------


def _garbage(path: Path) -> None:
    path.write_text("{ not json", encoding="utf-8")


def _directory(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.mkdir()


@pytest.mark.parametrize(
    ("relpath", "spoil"),
    [
        ("inventory.json", _garbage),
        ("inventory.json", _directory),
        ("intents/101.json", _garbage),
    ],
)
def test_an_unreadable_state_file_is_an_error_naming_it_and_nothing_changes(
    env: dict[str, str], repo: GitRepo, sim_node: Any, relpath: str, spoil: Any
) -> None:
    three(repo, env)
    spoil(state(env) / relpath)
    repo.write("web.yaml", container_doc("web", 101, cpus=1))
    repo.remove("spare.yaml")
    repo.commit("web 1 cpu, no spare")
    calls = len(mutating_calls(sim_node.dir))
    for command in ("plan", "apply"):
        done = vzgitops([command, "--repo", str(repo.path), "--prune"], env)
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"the state file {state(env) / relpath} cannot be read" in done.stderr
    assert len(mutating_calls(sim_node.dir)) == calls
    assert listing(env)[101]["cpus"] == 2


def test_a_state_file_that_cannot_be_written_is_a_clear_error_and_nothing_is_lost(
    env: dict[str, str], repo: GitRepo
) -> None:
    (state(env)).mkdir()
    (state(env) / "last-applied.json").mkdir()
    repo.write("web.yaml", WEB)
    repo.commit("web")
    done = apply(repo, env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"cannot write {state(env) / 'last-applied.json'}" in done.stderr
    assert owned(env) == {101}
    assert not list(state(env).glob(".*.tmp"))


def test_drift_with_an_unreadable_last_applied_is_an_error_naming_it(
    env: dict[str, str], repo: GitRepo
) -> None:
    three(repo, env)
    _garbage(state(env) / "last-applied.json")
    done = vzgitops(["drift", "--repo", str(repo.path)], env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"the state file {state(env) / 'last-applied.json'} cannot be read" in done.stderr
