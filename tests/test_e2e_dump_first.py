"""The safety net end to end: every destroy and recreate takes a vzdump first (real git, real
vzgitops, the simulated node's real vzctl/vzdump); a failed dump means no destroy."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path
from typing import Any

from tests.sim.support import fault
from tests.support import GitRepo, container_doc, listing, oplog, vzgitops

DOCS = {f"c{i}.yaml": container_doc(f"c{i}", 110 + i, state="stopped") for i in range(3)}
WEB = container_doc("web", 101, hostname="web.lan", state="running")


def _setup(repo: GitRepo, env: dict[str, str], sim_node: Any) -> None:
    for name, text in {**DOCS, "web.yaml": WEB}.items():
        repo.write(name, text)
    repo.commit("four")
    assert vzgitops(["apply", "--repo", str(repo.path)], env).returncode == 0
    (sim_node.dir / "private" / "101" / "root" / "keep.txt").write_text("precious\n")
    repo.remove("web.yaml")
    repo.commit("retire web")


def _archives(sim_node: Any) -> list[Path]:
    return sorted((sim_node.dir / "dump").glob("vzdump-openvz-101-*.tar.gz"))


def test_a_pruned_container_is_dumped_before_it_is_destroyed(
    sim_node: Any, env: dict[str, str], tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    _setup(repo, env, sim_node)
    planned = vzgitops(["plan", "--repo", str(repo.path), "--prune"], env)
    assert "container 101 (web): destroy (dump first)" in planned.stdout
    assert "$ vzdump 101 --mode stop --compress gzip --maxfiles 0" in planned.stdout
    done = vzgitops(["apply", "--repo", str(repo.path), "--prune", "--yes"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 101 not in listing(env)
    (archive,) = _archives(sim_node)
    with tarfile.open(archive) as tar:
        kept = tar.extractfile("./root/keep.txt")
        assert kept is not None and kept.read() == b"precious\n"
    tools = [(e["tool"], e["verb"]) for e in oplog(sim_node.dir) if e.get("ctid") == 101][-3:]
    assert tools == [("vzctl", "stop"), ("vzdump", "vzdump"), ("vzctl", "destroy")]


def test_a_failed_dump_keeps_the_container_and_says_why(
    sim_node: Any, env: dict[str, str], tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    _setup(repo, env, sim_node)
    fault(sim_node, "--verb", "vzdump", "--fail", "1", "--exit", "255")
    done = vzgitops(["apply", "--repo", str(repo.path), "--prune", "--yes"], env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the dump before the destroy failed (vzdump exit 255)" in done.stdout + done.stderr
    assert "was not destroyed" in done.stdout + done.stderr
    assert 101 in listing(env)
    assert (sim_node.dir / "private" / "101" / "root" / "keep.txt").exists()
    assert _archives(sim_node) == []
    again = vzgitops(["apply", "--repo", str(repo.path), "--prune", "--yes"], env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert 101 not in listing(env) and len(_archives(sim_node)) == 1


def test_the_safety_net_can_be_turned_off(
    sim_node: Any, env: dict[str, str], tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    _setup(repo, env, sim_node)
    args = ["apply", "--repo", str(repo.path), "--prune", "--no-dump-before-destroy", "--yes"]
    done = vzgitops(args, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 101 not in listing(env) and _archives(sim_node) == []
    assert "dump first" not in done.stdout


def test_a_bad_dump_dir_is_a_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    done = vzgitops(["plan", "--repo", str(tmp_path), "--dump-dir", "relative/dir"], env)
    assert done.returncode == 64
    assert "not an absolute directory path" in done.stderr


def test_kill_9_during_the_dump_before_a_prune_then_a_rerun_converges(
    sim_node: Any, env: dict[str, str], tmp_path: Path
) -> None:
    import signal
    import subprocess
    import time

    from tests.support import VZGITOPS

    repo = GitRepo(tmp_path / "repo")
    _setup(repo, env, sim_node)
    fault(sim_node, "--verb", "vzdump", "--hang")
    apply = subprocess.Popen(
        [*VZGITOPS, "apply", "--repo", str(repo.path), "--prune", "--yes"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    lock = sim_node.dir / "lock" / "101.lck"
    while not list((sim_node.dir / "dump").glob("*.dat")) or not lock.exists():
        assert time.monotonic() < deadline and apply.poll() is None, "no dump started"
        time.sleep(0.02)
    # kill -9 the vzdump midway (its parent, vzgitops, reaps it and reports the failure)
    os.kill(int(lock.read_text(encoding="ascii").split()[0]), signal.SIGKILL)
    assert apply.wait(timeout=60) == 1
    fault(sim_node, "--clear")
    assert 101 in listing(env) and _archives(sim_node) == []
    listed = vzgitops(["backups", "--format", "json"], env)
    assert json.loads(listed.stdout)["archives"] == []
    again = vzgitops(["apply", "--repo", str(repo.path), "--prune", "--yes"], env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert 101 not in listing(env) and len(_archives(sim_node)) == 1
