"""Observation fails closed: what the tool cannot read stops the node's plan, with no vzctl call.

Each test applies two containers to a simulated node (so vzgitops owns them), then breaks what
observation reads: the config directory, one `CTID.conf`, one private area, vzlist's output. Plan,
apply and drift must then exit 1 with a message naming the directory and the containers, and the
node's oplog must show no mutating vzctl call after the break.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import SimNode
from tests.sim.support import fault
from tests.support import GitRepo, container_doc, mutating_calls, vzgitops

TWO = {
    "web.yaml": container_doc("web", 101, hostname="web.lan", ram="1G", state="running"),
    "db.yaml": container_doc("db", 102, hostname="db.lan", ram="2G", state="stopped"),
}
COMMANDS = (["plan"], ["apply", "--prune", "--allow-mass-destroy"], ["drift"])


@pytest.fixture
def env(sim_node: SimNode, tmp_path: Path) -> dict[str, str]:
    environ = {**sim_node.env, "VZGITOPS_STATE_DIR": str(tmp_path / "state")}
    repo = GitRepo(tmp_path / "repo")
    for name, text in TWO.items():
        repo.write(name, text)
    repo.commit("two containers")
    done = vzgitops(["apply", "--repo", str(repo.path)], environ)
    assert done.returncode == 0, done.stdout + done.stderr
    return environ


def refused(
    env: dict[str, str], sim_node: SimNode, tmp_path: Path, *extra: str
) -> list[tuple[str, str]]:
    """Runs plan, apply and drift; each must exit 1 without a mutating vzctl call.

    Returns the (stdout, stderr) of each."""
    before = len(mutating_calls(sim_node.dir))
    outputs = []
    for command in COMMANDS:
        done = vzgitops([*command, "--repo", str(tmp_path / "repo"), *extra], env)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        outputs.append((done.stdout, done.stderr))
    assert mutating_calls(sim_node.dir)[before:] == []
    return outputs


def test_a_wrong_conf_dir_names_the_directory_and_the_containers(
    env: dict[str, str], sim_node: SimNode, tmp_path: Path
) -> None:
    wrong = tmp_path / "elsewhere"
    wrong.mkdir()
    for stdout, stderr in refused(env, sim_node, tmp_path, "--vz-conf-dir", str(wrong)):
        assert str(wrong) in stderr and "101, 102" in stderr, stderr
        assert "allowRecreate" not in stdout + stderr
        assert "Plan:" not in stdout


def test_a_missing_conf_dir_is_an_error(
    env: dict[str, str], sim_node: SimNode, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-dir"
    for _, stderr in refused(env, sim_node, tmp_path, "--vz-conf-dir", str(missing)):
        assert f"the container config directory {missing} does not exist" in stderr, stderr


def test_a_deleted_config_of_a_listed_container_is_an_error(
    env: dict[str, str], sim_node: SimNode, tmp_path: Path
) -> None:
    (sim_node.dir / "conf" / "101.conf").unlink()  # 101 runs: vzlist still lists it
    conf_dir = sim_node.dir / "conf"
    for stdout, stderr in refused(env, sim_node, tmp_path):
        assert "container 101" in stderr and f"no readable 101.conf in {conf_dir}" in stderr
        assert "102" not in stderr.replace(str(conf_dir), ""), stderr  # the path may hold 102
        assert "allowRecreate" not in stdout + stderr


def test_an_unreadable_config_names_the_file(
    env: dict[str, str], sim_node: SimNode, tmp_path: Path
) -> None:
    conf = sim_node.dir / "conf" / "102.conf"
    conf.unlink()
    conf.mkdir()  # root reads through chmod 000: a directory in its place cannot be read
    for _, stderr in refused(env, sim_node, tmp_path):
        assert f"cannot read {conf} (container 102)" in stderr, stderr


def test_a_removed_private_area_is_an_error_not_a_recreate(
    env: dict[str, str], sim_node: SimNode, tmp_path: Path
) -> None:
    shutil.rmtree(sim_node.dir / "private" / "102")
    for stdout, stderr in refused(env, sim_node, tmp_path):
        assert "container 102" in stderr and "vzlist does not list" in stderr, stderr
        assert str(sim_node.dir / "conf") in stderr
        assert "create" not in stdout


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (0, "containers 101, 102 but vzlist does not list them"),
        (25, "container 102 but vzlist does not list it"),
        (33, "vzlist -H printed '102 sto', not a CTID and a status"),
    ],
    ids=["empty", "after-a-line", "inside-a-status"],
)
def test_a_truncated_listing_is_an_error(
    env: dict[str, str], sim_node: SimNode, tmp_path: Path, cut: int, message: str
) -> None:
    """The JSON cut short is unusable, so the `ctid,status` table is read: cut short too."""
    fault(sim_node, "--verb", "vzlist", "--truncate", str(cut))
    for _, stderr in refused(env, sim_node, tmp_path):
        assert message in stderr and "nothing is planned for this node" in stderr, stderr
