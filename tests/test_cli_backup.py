"""`vzgitops backup` and `vzgitops backups` against the simulated node's real vzdump."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.sim.support import fault
from tests.support import GitRepo, container_doc, vz, vzgitops


@pytest.fixture
def env(sim_node: Any, tmp_path: Path) -> dict[str, str]:
    repo = GitRepo(tmp_path / "repo")
    repo.write("web.yaml", container_doc("web", 101, state="running"))
    repo.write("db.yaml", container_doc("db", 102, state="stopped"))
    repo.commit("two")
    env = {**sim_node.env, "VZGITOPS_STATE_DIR": str(tmp_path / "state")}
    assert vzgitops(["apply", "--repo", str(repo.path)], env).returncode == 0
    return env


def test_backup_dumps_every_owned_container_and_backups_lists_them(
    sim_node: Any, env: dict[str, str]
) -> None:
    done = vzgitops(["backup", "--mode", "stop"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "container 101: dumped to " in done.stdout and "container 102: dumped to " in done.stdout
    assert vz("vzctl", ["status", "101"], env).stdout.endswith("running\n")
    (sim_node.dir / "dump" / "vzdump-openvz-101-2020_01_01-00_00_00.dat").write_bytes(b"half")
    listed = json.loads(vzgitops(["backups", "--format", "json"], env).stdout)
    assert listed["dump_dir"] == str(sim_node.dir / "dump")
    rows = listed["archives"]
    assert [r["ctid"] for r in rows] == [101, 102]
    assert all(r["file"].endswith(".tar.gz") and r["size"] > 0 for r in rows)
    assert all(Path(r["file"]).stat().st_size == r["size"] for r in rows)
    text = vzgitops(["backups", "102"], env).stdout.splitlines()
    assert text[0].split() == ["CTID", "TIME", "SIZE", "FILE"] and len(text) == 2
    assert text[1].split()[0] == "102" and text[1].split()[-1] == rows[1]["file"]


def test_backup_refuses_containers_it_does_not_own(sim_node: Any, env: dict[str, str]) -> None:
    vz("vzctl", ["create", "150", "--ostemplate", "debian-12.0-x86_64-minimal"], env)
    done = vzgitops(["backup", "150"], env)
    assert done.returncode == 64
    assert "container 150 is not owned by vzgitops; nothing dumped" in done.stderr
    assert list((sim_node.dir / "dump").glob("vzdump-openvz-150-*")) == []


def test_a_failed_dump_is_reported_and_exits_1(sim_node: Any, env: dict[str, str]) -> None:
    fault(sim_node, "--verb", "vzdump", "--ctid", "102", "--fail", "1", "--exit", "255")
    done = vzgitops(["backup", "--mode", "stop", "--format", "json"], env)
    assert done.returncode == 1
    rows = {r["ctid"]: r for r in json.loads(done.stdout)["backups"]}
    assert rows[101]["ok"] and rows[101]["archive"]
    assert not rows[102]["ok"] and rows[102]["archive"] is None
    assert "simulated failure" in rows[102]["error"]


def test_snapshot_of_a_running_container_fails_on_a_node_without_lvm(
    env: dict[str, str],
) -> None:
    done = vzgitops(["backup", "101"], env)
    assert done.returncode == 1
    assert "container 101: vzdump failed (exit 255): ERROR: Backup of VM 101 failed" in done.stderr


def test_backup_waits_for_no_apply_it_fails_while_the_node_lock_is_held(
    env: dict[str, str], tmp_path: Path
) -> None:
    holder = subprocess.Popen(
        ["flock", str(tmp_path / "state" / "node.lock"), "sleep", "300"], env=env
    )
    try:
        for _ in range(200):
            probe = subprocess.run(
                ["flock", "-n", str(tmp_path / "state" / "node.lock"), "true"], check=False
            )
            if probe.returncode != 0:
                break
            subprocess.run(["sleep", "0.02"], check=False)
        done = vzgitops(["backup", "--mode", "stop", "102"], env)
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 75, done.stdout + done.stderr


def test_backups_of_an_empty_or_missing_dir(env: dict[str, str], tmp_path: Path) -> None:
    missing = vzgitops(["backups", "--dump-dir", str(tmp_path / "nowhere")], env)
    assert (missing.returncode, missing.stdout) == (0, f"no archives in {tmp_path}/nowhere\n")
    bad = vzgitops(["backups", "abc"], env)
    assert bad.returncode == 64
