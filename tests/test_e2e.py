"""End to end: real git repositories, the real vzgitops command, the simulated node's real processes."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import VZGITOPS, GitRepo, container_doc, listing, mutating_calls, vz, vzgitops


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


THREE = {
    "web.yaml": container_doc(
        "web",
        101,
        hostname="web.lan",
        ip=["192.168.10.101"],
        ram="1G",
        swap="256M",
        cpus=2,
        cpulimit=200,
        diskspace="10G",
        onboot=True,
    ),
    "db.yaml": container_doc(
        "db",
        102,
        hostname="db.lan",
        ip=["192.168.10.102"],
        ram="4G",
        swap="1G",
        cpus=4,
        cpuunits=2000,
        diskspace="50G:55G",
        state="running",
    ),
    "spare.yaml": container_doc(
        "spare",
        103,
        ostemplate="centos-6-x86",
        hostname="spare.lan",
        ram="512M",
        state="stopped",
        description="kept for later",
    ),
}


def commit_files(repo: GitRepo, files: dict[str, str], message: str = "containers") -> str:
    for name, text in files.items():
        repo.write(name, text)
    return repo.commit(message)


def test_three_containers_apply_and_converge(
    sim_node: Any, env: dict[str, str], repo: GitRepo
) -> None:
    sha = commit_files(repo, THREE)
    done = vzgitops(["apply", "--repo", str(repo.path)], env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "converged" in done.stdout
    # the plan is shown once, before the calls; the report after them says what each came to
    assert done.stdout.count("hostname: web.lan") == 1
    assert done.stdout.count("container 101 (web): create") == 1
    assert done.stdout.index("hostname: web.lan") < done.stdout.index("applied: container 101")
    assert done.stdout.rstrip().endswith("Apply: 3 applied, 0 failed; converged.")
    nodes = listing(env)
    assert {ct: nodes[ct]["status"] for ct in nodes} == {
        101: "running",
        102: "running",
        103: "stopped",
    }
    assert nodes[101]["hostname"] == "web.lan" and nodes[101]["ip"] == ["192.168.10.101"]
    assert nodes[102]["cpuunits"] == 2000 and nodes[102]["cpus"] == 4
    assert (
        nodes[102]["physpages"]["limit"] == 1048576
        and nodes[102]["diskspace"]["hardlimit"] == 55 * 1048576
    )
    assert nodes[103]["ostemplate"] == "centos-6-x86" and nodes[103]["physpages"]["limit"] == 131072
    again = vzgitops(["plan", "--repo", str(repo.path), "--detailed-exitcode"], env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Plan: 0 to create, 0 to change, 0 to destroy." in again.stdout
    assert sha[:12] in again.stdout


def test_changing_cpus_is_exactly_one_set_call(
    sim_node: Any, env: dict[str, str], repo: GitRepo
) -> None:
    commit_files(repo, THREE)
    assert vzgitops(["apply", "--repo", str(repo.path)], env).returncode == 0
    before = len(mutating_calls(sim_node.dir))
    commit_files(repo, {"web.yaml": THREE["web.yaml"].replace("cpus: 2", "cpus: 3")}, "web: 3 cpus")
    planned = vzgitops(["plan", "--repo", str(repo.path), "--detailed-exitcode"], env)
    assert (
        planned.returncode == 2
        and "Plan: 0 to create, 1 to change, 0 to destroy." in planned.stdout
    )
    assert vzgitops(["apply", "--repo", str(repo.path)], env).returncode == 0
    calls = mutating_calls(sim_node.dir)[before:]
    assert [c["argv"][1:] for c in calls] == [["set", "101", "--cpus", "3", "--save"]]
    assert listing(env)[101]["cpus"] == 3


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        (container_doc("web", 101, bogus=1), "web.yaml:8:3: spec.bogus"),
        (
            "apiVersion: vzgitops/v1\nkind: Container\nmetadata: {name: web}\nspec:\n  ostemplate: centos-6-x86\n",
            "web.yaml:4",
        ),
    ],
    ids=["unknown-field", "missing-ctid"],
)
def test_bad_input_is_rejected_and_nothing_is_applied(
    sim_node: Any, env: dict[str, str], repo: GitRepo, text: str, expect: str
) -> None:
    commit_files(repo, {"good.yaml": container_doc("good", 110), "web.yaml": text})
    done = vzgitops(["apply", "--repo", str(repo.path)], env)
    assert done.returncode == 1
    assert expect in done.stderr
    assert mutating_calls(sim_node.dir) == []
    assert listing(env) == {}


def test_hand_made_containers_are_never_touched(
    sim_node: Any, env: dict[str, str], repo: GitRepo
) -> None:
    assert (
        vz(
            "vzctl",
            ["create", "150", "--ostemplate", "debian-12.0-x86_64-minimal", "--name", "handmade"],
            env,
        ).returncode
        == 0
    )
    commit_files(repo, THREE)
    done = vzgitops(
        ["apply", "--repo", str(repo.path), "--yes", "--prune", "--allow-mass-destroy"], env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "150" in done.stdout and "unmanaged" in done.stdout
    assert not [
        c
        for c in mutating_calls(sim_node.dir)
        if c["argv"][2:3] == ["150"] and c["argv"][1] != "create"
    ]
    assert listing(env)[150]["status"] == "stopped"


def test_removing_most_containers_is_refused(
    sim_node: Any, env: dict[str, str], repo: GitRepo
) -> None:
    commit_files(repo, THREE)
    assert vzgitops(["apply", "--repo", str(repo.path)], env).returncode == 0
    repo.remove("web.yaml")
    repo.remove("db.yaml")
    repo.commit("remove two")
    done = vzgitops(["apply", "--repo", str(repo.path), "--yes", "--prune"], env)
    assert "refusing to destroy 2 of 3" in done.stdout
    assert set(listing(env)) == {101, 102, 103}


def test_absent_container_is_destroyed_with_prune(
    sim_node: Any, env: dict[str, str], repo: GitRepo
) -> None:
    files = {
        **THREE,
        **{f"c{i}.yaml": container_doc(f"c{i}", 110 + i, state="stopped") for i in range(8)},
    }
    commit_files(repo, files)
    assert vzgitops(["apply", "--repo", str(repo.path)], env).returncode == 0
    commit_files(
        repo,
        {"web.yaml": THREE["web.yaml"].replace("cpulimit: 200", "cpulimit: 200\n  state: absent")},
        "retire web",
    )
    held = vzgitops(["apply", "--repo", str(repo.path)], env)
    assert "destroying needs pruning" in held.stdout and 101 in listing(env)
    done = vzgitops(["apply", "--repo", str(repo.path), "--yes", "--prune"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 101 not in listing(env)
    assert (sim_node.dir / "conf" / "101.conf.destroyed").exists()


def test_import_then_plan_shows_no_changes(
    sim_node: Any, env: dict[str, str], repo: GitRepo
) -> None:
    for argv in (
        [
            "create",
            "201",
            "--ostemplate",
            "ubuntu-22.04-x86_64",
            "--hostname",
            "mail.lan",
            "--ipadd",
            "10.1.0.5",
            "--name",
            "mail",
        ],
        [
            "set",
            "201",
            "--ram",
            "768M",
            "--swap",
            "128M",
            "--cpus",
            "2",
            "--onboot",
            "yes",
            "--nameserver",
            "10.1.0.1",
            "--save",
        ],
        ["start", "201"],
        ["create", "202", "--ostemplate", "centos-7-x86_64"],
        [
            "set",
            "202",
            "--diskspace",
            "3G:4G",
            "--numproc",
            "300:400",
            "--description",
            "no name here",
            "--save",
        ],
    ):
        assert vz("vzctl", argv, env).returncode == 0, argv
    done = vzgitops(["import", "--out", str(repo.path)], env)
    assert done.returncode == 0, done.stderr
    repo.commit("import")
    assert vzgitops(["validate", "--repo", str(repo.path)], env).returncode == 0
    planned = vzgitops(["plan", "--repo", str(repo.path), "--detailed-exitcode"], env)
    assert planned.returncode == 0, planned.stdout + planned.stderr


def test_flaky_locks_converge(sim_node: Any, env: dict[str, str], repo: GitRepo) -> None:
    for verb in ("create", "set", "start"):
        args = ["--verb", verb, "--fail-rate", "0.3", "--exit", "9", "--seed", "7"]
        fault = vzgitops(["sim", "fault", str(sim_node.dir), *args], env)
        assert fault.returncode == 0, fault.stderr
    commit_files(repo, THREE)
    retry = ["--retry-attempts", "12", "--retry-backoff", "0.01"]
    done = vzgitops(["apply", "--repo", str(repo.path), *retry], env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert any(c["rc"] == 9 for c in mutating_calls(sim_node.dir))
    assert set(listing(env)) == {101, 102, 103}


def test_permanent_error_is_tried_once(sim_node: Any, env: dict[str, str], repo: GitRepo) -> None:
    commit_files(repo, THREE)
    assert vzgitops(["apply", "--repo", str(repo.path)], env).returncode == 0
    assert (
        vzgitops(
            [
                "sim",
                "fault",
                str(sim_node.dir),
                "--verb",
                "set",
                "--ctid",
                "101",
                "--fail",
                "5",
                "--exit",
                "21",
            ],
            env,
        ).returncode
        == 0
    )
    commit_files(
        repo,
        {
            "web.yaml": THREE["web.yaml"].replace("cpus: 2", "cpus: 3"),
            "db.yaml": THREE["db.yaml"].replace("cpus: 4", "cpus: 5"),
        },
    )
    before = len(mutating_calls(sim_node.dir))
    done = vzgitops(["apply", "--repo", str(repo.path)], env)
    assert done.returncode == 1
    assert "container 101: vzctl set failed (exit 21)" in done.stdout
    calls = mutating_calls(sim_node.dir)[before:]
    assert len([c for c in calls if c["argv"][1:3] == ["set", "101"]]) == 1
    assert listing(env)[102]["cpus"] == 5


def test_two_applies_at_once_exactly_one_mutates(
    sim_node: Any, env: dict[str, str], repo: GitRepo
) -> None:
    slow = ["sim", "fault", str(sim_node.dir), "--verb", "create", "--latency", "1.5"]
    assert vzgitops(slow, env).returncode == 0
    commit_files(repo, THREE)
    argv = [*VZGITOPS, "apply", "--repo", str(repo.path)]
    first = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    while not (Path(env["VZGITOPS_STATE_DIR"]) / "intents" / "101.json").exists():
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.05)
    second = vzgitops(["apply", "--repo", str(repo.path)], env)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    assert second.returncode == 75
    assert "node lock" in second.stderr and "held by pid" in second.stderr
    creates = [c for c in mutating_calls(sim_node.dir) if c["argv"][1] == "create"]
    assert len(creates) == 3


def test_saved_plan_applies_only_while_current(
    sim_node: Any, env: dict[str, str], repo: GitRepo, tmp_path: Path
) -> None:
    commit_files(repo, THREE)
    saved = tmp_path / "plan.json"
    planned = vzgitops(["plan", "--repo", str(repo.path), "--out", str(saved)], env)
    assert planned.returncode == 0 and saved.exists()
    assert vz("vzctl", ["create", "101", "--ostemplate", "centos-6-x86"], env).returncode == 0
    stale = vzgitops(["apply", "--repo", str(repo.path), "--plan-file", str(saved)], env)
    assert stale.returncode == 1 and "stale" in stale.stderr
    assert mutating_calls(sim_node.dir)[-1]["argv"][1:3] == ["create", "101"]
    assert vz("vzctl", ["destroy", "101"], env).returncode == 0
    fresh = vzgitops(["apply", "--repo", str(repo.path), "--plan-file", str(saved)], env)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert set(listing(env)) == {101, 102, 103}


def test_corrupt_inventory_stops_until_moved_away_then_is_rebuilt_and_never_prunes(
    sim_node: Any, env: dict[str, str], repo: GitRepo
) -> None:
    files = {
        **THREE,
        **{f"c{i}.yaml": container_doc(f"c{i}", 110 + i, state="stopped") for i in range(8)},
    }
    commit_files(repo, files)
    assert vzgitops(["apply", "--repo", str(repo.path)], env).returncode == 0
    inventory = Path(env["VZGITOPS_STATE_DIR"]) / "inventory.json"
    inventory.write_text("{ this is not json")
    repo.remove("spare.yaml")
    commit_files(
        repo, {"web.yaml": THREE["web.yaml"].replace("cpus: 2", "cpus: 1")}, "drop spare, web 1 cpu"
    )
    refused = vzgitops(["apply", "--repo", str(repo.path), "--yes", "--prune"], env)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"{inventory} cannot be read" in refused.stderr and "move it away" in refused.stderr
    assert listing(env)[101]["cpus"] == 2
    inventory.rename(inventory.with_name("inventory.broken"))
    done = vzgitops(["apply", "--repo", str(repo.path), "--yes", "--prune"], env)
    assert done.returncode == 4, done.stdout + done.stderr  # the destroy of 103 is held
    assert "rebuilt" in done.stdout
    nodes = listing(env)
    assert 103 in nodes
    assert nodes[101]["cpus"] == 1
    confirmed = vzgitops(["adopt", "--confirm"], env)
    assert confirmed.returncode == 0, confirmed.stderr
    pruned = vzgitops(["apply", "--repo", str(repo.path), "--yes", "--prune"], env)
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert 103 not in listing(env)
