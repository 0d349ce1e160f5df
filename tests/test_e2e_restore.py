"""restoreFrom end to end (real git, real vzgitops, the simulated node's real vzctl, vzdump and
vzrestore): a file inside the container survives dump, destroy and a restore planned from git;
the next plan is empty; an existing container is never overwritten; kill -9 during a restore,
then a re-run converges; plans show a container's backup policy and its next due time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.sim.support import fault
from tests.support import VZGITOPS, GitRepo, container_doc, listing, oplog, vzgitops

KEEP = Path("private") / "101" / "root" / "keep.txt"
LOCK = Path("lock") / "101.lck"


def _apply(repo: GitRepo, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    done = vzgitops(["apply", "--repo", str(repo.path), "--yes", *extra], env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _plan(repo: GitRepo, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return vzgitops(["plan", "--repo", str(repo.path), "--detailed-exitcode"], env)


def _dumped_and_destroyed(repo: GitRepo, env: dict[str, str], sim_node: Any) -> str:
    """web (101) with a file inside, dumped by 'vzgitops backup', then destroyed through git
    (no safety dump, so the backup is the only archive); returns the archive's name."""
    repo.write("web.yaml", container_doc("web", 101, hostname="web.lan", cpus=2))
    repo.commit("web")
    _apply(repo, env)
    (sim_node.dir / KEEP).write_text("precious\n", encoding="utf-8")
    taken = vzgitops(["backup", "101", "--mode", "stop", "--format", "json"], env)
    assert taken.returncode == 0, taken.stdout + taken.stderr
    archive = json.loads(taken.stdout)["backups"][0]["archive"]
    repo.write("web.yaml", container_doc("web", 101, state="absent"))
    repo.commit("web absent")
    _apply(repo, env, "--prune", "--allow-mass-destroy", "--no-dump-before-destroy")
    assert 101 not in listing(env) and not (sim_node.dir / KEEP).exists()
    return str(Path(archive).name)


def test_a_restore_from_latest_brings_the_file_back_and_the_next_plan_is_empty(
    sim_node: Any, env: dict[str, str], tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    name = _dumped_and_destroyed(repo, env, sim_node)
    repo.write("web.yaml", container_doc("web", 101, hostname="web.lan", cpus=2,
                                         restoreFrom="latest"))  # fmt: skip
    repo.commit("restore web")
    planned = _plan(repo, env)
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert f"container 101 (web): restore from {sim_node.dir / 'dump' / name}" in planned.stdout
    assert "Plan: 0 to create, 0 to change, 0 to destroy, 1 to restore." in planned.stdout
    done = _apply(repo, env)
    assert "converged" in done.stdout
    assert (sim_node.dir / KEEP).read_text(encoding="utf-8") == "precious\n"
    assert listing(env)[101]["status"] == "running"
    again = _plan(repo, env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes. The node matches git." in again.stdout


def test_a_named_archive_that_is_not_there_is_held(
    sim_node: Any, env: dict[str, str], tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    _dumped_and_destroyed(repo, env, sim_node)
    missing = "vzdump-openvz-101-2001_01_01-00_00_00.tar.gz"
    repo.write("web.yaml", container_doc("web", 101, restoreFrom=missing))
    repo.commit("restore from an archive that does not exist")
    planned = _plan(repo, env)
    assert planned.returncode == 2
    assert f"refused: restoreFrom: no archive {missing} of container 101" in planned.stdout
    assert 101 not in listing(env)


def test_restore_from_on_an_existing_container_is_held_never_overwritten(
    sim_node: Any, env: dict[str, str], tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("web.yaml", container_doc("web", 101))
    repo.commit("web")
    _apply(repo, env)
    (sim_node.dir / KEEP).write_text("current\n", encoding="utf-8")
    assert vzgitops(["backup", "101", "--mode", "stop"], env).returncode == 0
    repo.write("web.yaml", container_doc("web", 101, restoreFrom="latest"))
    repo.commit("restore an existing container")
    planned = _plan(repo, env)
    assert planned.returncode == 2
    assert "refused: restoreFrom: container 101 exists on the node" in planned.stdout
    done = vzgitops(["apply", "--repo", str(repo.path), "--yes"], env)
    assert "Apply: 0 applied, 0 failed; 1 held" in done.stdout
    assert not [e for e in oplog(sim_node.dir) if e.get("tool") == "vzrestore"]
    assert (sim_node.dir / KEEP).read_text(encoding="utf-8") == "current\n"


def _restoring(repo: GitRepo, env: dict[str, str], sim_node: Any) -> subprocess.Popen[bytes]:
    """An apply that restores web, started; returns once vzrestore is unpacking."""
    _dumped_and_destroyed(repo, env, sim_node)
    repo.write("web.yaml", container_doc("web", 101, restoreFrom="latest"))
    repo.commit("restore web")
    proc = subprocess.Popen(
        [*VZGITOPS, "apply", "--repo", str(repo.path), "--yes"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (sim_node.dir / KEEP).exists() or not (sim_node.dir / LOCK).exists():
        assert time.monotonic() < deadline and proc.poll() is None, "no restore started"
        time.sleep(0.02)
    return proc


def _converges(repo: GitRepo, env: dict[str, str], sim_node: Any) -> None:
    _apply(repo, env)
    assert (sim_node.dir / KEEP).read_text(encoding="utf-8") == "precious\n"
    assert listing(env)[101]["status"] == "running"
    again = _plan(repo, env)
    assert again.returncode == 0, again.stdout + again.stderr


def test_kill_9_of_vzgitops_during_a_restore_then_a_rerun_owns_and_converges(
    sim_node: Any, env: dict[str, str], tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    fault(sim_node, "--verb", "vzrestore", "--latency", "1.5")
    proc = _restoring(repo, env, sim_node)
    os.kill(proc.pid, signal.SIGKILL)  # vzgitops only: the orphaned vzrestore finishes
    proc.wait(timeout=30)
    deadline = time.monotonic() + 60
    while (sim_node.dir / LOCK).exists():
        assert time.monotonic() < deadline, "the orphaned vzrestore did not finish"
        time.sleep(0.02)
    fault(sim_node, "--clear")
    assert 101 in listing(env)
    planned = _plan(repo, env)
    assert "restore" not in planned.stdout.split("Plan:")[0].replace("restoreFrom", "")
    _converges(repo, env, sim_node)


def test_kill_9_of_vzrestore_midway_then_a_rerun_restores_with_force(
    sim_node: Any, env: dict[str, str], tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    fault(sim_node, "--verb", "vzrestore", "--hang")
    proc = _restoring(repo, env, sim_node)
    holder = int((sim_node.dir / LOCK).read_text(encoding="ascii").split()[0])
    os.kill(holder, signal.SIGKILL)  # vzrestore midway; vzgitops reaps it and says it failed
    assert proc.wait(timeout=60) == 1
    fault(sim_node, "--clear")
    assert 101 not in listing(env)  # vzrestore writes CTID.conf last: no container yet
    assert (sim_node.dir / "private" / "101").exists()  # but what it unpacked is left
    planned = _plan(repo, env)
    assert "--force" in planned.stdout and "the last restore was interrupted" in planned.stdout
    _converges(repo, env, sim_node)


def test_plans_show_the_backup_policy_and_count_from_vzgitops_backup(
    sim_node: Any, env: dict[str, str], tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    backup = {"schedule": "6h", "mode": "stop", "keepLast": 3}
    repo.write("web.yaml", container_doc("web", 101, backup=backup))
    repo.commit("web, backed up")
    _apply(repo, env)
    planned = _plan(repo, env)
    assert planned.returncode == 0, planned.stdout + planned.stderr  # a policy is no change
    assert "backup container 101 (web): every 6h, stop, gzip, keep last 3; next due " in planned.stdout  # fmt: skip
    assert "never dumped" in planned.stdout
    assert vzgitops(["backup", "101", "--mode", "stop"], env).returncode == 0
    records = json.loads((tmp_path / "state" / "backups.json").read_text(encoding="utf-8"))
    assert records["containers"]["101"]["archive"].startswith(str(sim_node.dir / "dump"))
    shown = json.loads(vzgitops(["plan", "--repo", str(repo.path), "--format", "json"], env).stdout)
    [line] = shown["nodes"][0]["backups"]
    assert line["last"] is not None and line["next_due"] > line["last"]
