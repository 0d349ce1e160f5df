"""Drift on the simulated node, through the real command: a hand edit of CTID.conf changes the
saved value, `vzctl set` without --save the running one; both are drift (exit 2). `--adopt`
commits the node's values on a new branch whose plan against the node is empty."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support import GitRepo, container_doc, vz, vzgitops


@pytest.fixture
def repo(tmp_path: Path, env: dict[str, str]) -> GitRepo:
    """Two containers applied to the node: web running, spare stopped."""
    git = GitRepo(tmp_path / "repo")
    git.write(
        "web.yaml",
        "# the web server\n"
        + container_doc("web", 101, ram="1G", swap="256M", cpus=2, cpuunits=1000, state="running"),
    )
    git.write("spare.yaml", container_doc("spare", 103, ram="512M", cpuunits=500, state="stopped"))
    git.commit("web and spare")
    done = vzgitops(["apply", "--repo", str(git.path)], env)
    assert done.returncode == 0, done.stderr
    return git


def drift(repo: GitRepo, env: dict[str, str], *extra: str) -> tuple[int, Any, str]:
    done = vzgitops(["drift", "--repo", str(repo.path), "--format", "json", *extra], env)
    return done.returncode, json.loads(done.stdout) if done.stdout else None, done.stderr


def fields(report: Any) -> dict[tuple[int, str], tuple[str, str | None, str | None]]:
    return {
        (c["ctid"], f["field"]): (f["where"], f["saved"], f["running"])
        for c in report["drift"]["containers"]
        for f in c["fields"]
    }


def edit_conf(env: dict[str, str], ctid: int, key: str, value: str) -> None:
    path = Path(env["VZGITOPS_VZ_CONF_DIR"]) / f"{ctid}.conf"
    text = path.read_text(encoding="utf-8")
    text, count = re.subn(rf"^{key}=.*$", f'{key}="{value}"', text, flags=re.MULTILINE)
    path.write_text(text if count else text + f'{key}="{value}"\n', encoding="utf-8")


def test_clean_node_exits_zero(repo: GitRepo, env: dict[str, str]) -> None:
    code, report, err = drift(repo, env)
    assert code == 0, err
    assert report["heartbeat"] is True and report["summary"].startswith("No drift")


def test_hand_edited_config_is_saved_drift(repo: GitRepo, env: dict[str, str]) -> None:
    edit_conf(env, 103, "CPUUNITS", "750")
    code, report, err = drift(repo, env)
    assert code == 2, err
    assert fields(report) == {(103, "cpuunits"): ("saved", "750", None)}


def test_set_without_save_is_running_drift(repo: GitRepo, env: dict[str, str]) -> None:
    done = vz("vzctl", ["set", "101", "--cpus", "1"], env)
    assert done.returncode == 0, done.stderr
    code, report, err = drift(repo, env)
    assert code == 2, err
    assert fields(report) == {(101, "cpus"): ("running", "2", "1")}
    text = vzgitops(["drift", "--repo", str(repo.path)], env).stdout
    assert "cpus: git 2, saved 2, running 1  (running value only)" in text


def test_stopped_by_hand_and_unmanaged_container(repo: GitRepo, env: dict[str, str]) -> None:
    assert vz("vzctl", ["stop", "101"], env).returncode == 0
    created = vz("vzctl", ["create", "150", "--ostemplate", "debian-12.0-x86_64-minimal"], env)
    assert created.returncode == 0, created.stderr
    code, report, _ = drift(repo, env)
    assert code == 2
    assert fields(report)[(101, "state")][0] == "running"
    assert [u["ctid"] for u in report["drift"]["unmanaged"]] == [150]


def test_adopt_gives_a_branch_whose_plan_is_empty(repo: GitRepo, env: dict[str, str]) -> None:
    edit_conf(env, 103, "CPUUNITS", "750")
    assert vz("vzctl", ["set", "101", "--cpus", "3", "--save"], env).returncode == 0
    head = repo.git("rev-parse", "HEAD")
    code, _, err = drift(repo, env, "--adopt", "--branch", "adopt-drift")
    assert code == 0, err
    assert "adopt-drift" in err and "not pushed" in err
    assert repo.git("rev-parse", "HEAD") == head and repo.git("branch", "--show-current") == "main"
    text = repo.git("show", "adopt-drift:web.yaml")
    assert "# the web server" in text and "cpus: 3" in text
    assert "cpuunits: 750" in repo.git("show", "adopt-drift:spare.yaml")
    done = vzgitops(
        ["plan", "--repo", str(repo.path), "--ref", "adopt-drift", "--detailed-exitcode"], env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No changes." in done.stdout


def test_kernel_rounding_of_cpuunits_is_neither_a_change_nor_drift(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """cpuunits 3000 reads back as 3012 from a running container (weight 500000 // 3000 = 166,
    500000 / 166 = 3012); plan and drift agree that the node matches git."""
    git = GitRepo(tmp_path / "rounding")
    git.write("db.yaml", container_doc("db", 110, cpuunits=3000, state="running"))
    git.commit("db")
    done = vzgitops(["apply", "--repo", str(git.path)], env)
    assert done.returncode == 0, done.stderr
    shown = vz("vzlist", ["-H", "-o", "cpuunits", "110"], env)
    assert shown.stdout.split() == ["3012"], shown.stderr
    planned = vzgitops(["plan", "--repo", str(git.path), "--detailed-exitcode"], env)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    code, report, err = drift(git, env)
    assert code == 0, (err, report)
    assert report["summary"].startswith("No drift")


def test_an_address_added_without_save_is_drift_that_apply_removes(
    tmp_path: Path, env: dict[str, str]
) -> None:
    git = GitRepo(tmp_path / "ips")
    git.write("app.yaml", container_doc("app", 111, ip=["10.0.0.11/24"], state="running"))
    git.commit("app")
    assert vzgitops(["apply", "--repo", str(git.path)], env).returncode == 0
    added = vz("vzctl", ["set", "111", "--ipadd", "10.0.0.99"], env)
    assert added.returncode == 0, added.stderr
    code, report, err = drift(git, env)
    assert code == 2, err
    assert fields(report) == {(111, "ip"): ("running", "10.0.0.11/24", "10.0.0.11, 10.0.0.99")}
    done = vzgitops(["apply", "--repo", str(git.path)], env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "--ipdel 10.0.0.99" in done.stdout
    shown = vz("vzlist", ["-H", "-o", "ip", "111"], env)
    assert shown.stdout.split() == ["10.0.0.11"], shown.stdout
    code, report, err = drift(git, env)
    assert code == 0, (err, report)
