"""Sizes on the simulated node: a refused size never reaches vzctl; rounded sizes converge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support import GitRepo, container_doc, listing, mutating_calls, vzgitops

RUNNING: dict[str, Any] = {"config": "vswap-256m", "ram": "1G", "swap": "512M", "state": "running"}


def _apply(repo: GitRepo, env: dict[str, str]) -> Any:
    return vzgitops(["apply", "--repo", str(repo.path)], env)


@pytest.mark.parametrize(
    ("ram", "message"),
    [
        (0.5, "db.yaml:9:8: spec.ram: '0.5' has no unit"),
        ("0.5K", "db.yaml:9:8: spec.ram: '0.5K' (4K as vzctl stores it) is less than 16M"),
        (524288, "db.yaml:9:8: spec.ram: '524288' has no unit"),
    ],
)
def test_a_refused_ram_never_reaches_vzctl_on_a_running_container(
    sim_node: Any, env: dict[str, str], tmp_path: Path, ram: object, message: str
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("db.yaml", container_doc("db", 120, **RUNNING))
    repo.commit("a running database")
    first = _apply(repo, env)
    assert first.returncode == 0, first.stdout + first.stderr
    before = len(mutating_calls(sim_node.dir))

    repo.write("db.yaml", container_doc("db", 120, **{**RUNNING, "ram": ram}))
    repo.commit("shrink it")
    refused = _apply(repo, env)

    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert message in refused.stdout + refused.stderr
    assert mutating_calls(sim_node.dir)[before:] == []
    assert listing(env)[120]["physpages"]["limit"] == 262144  # still 1G


ROUNDED: dict[str, Any] = {
    "ram": "100.3M",  # 105172787.2 bytes: vzctl keeps whole bytes, then rounds up to pages
    "swap": "0.5K",  # one page
    "diskspace": "10.3G:10.7G",  # down to whole KiB
    "iolimit": "unlimited",  # vzctl's 0; LONG_MAX bytes/s is refused by vzctl (exit 21)
}


def test_sizes_that_round_apply_as_vzctl_stores_them_and_plan_empty(
    env: dict[str, str], tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("db.yaml", container_doc("db", 121, **{**RUNNING, **ROUNDED}))
    repo.commit("sizes that round")
    applied = _apply(repo, env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    planned = vzgitops(["plan", "--repo", str(repo.path), "--detailed-exitcode"], env)
    assert planned.returncode == 0, planned.stdout + planned.stderr

    repo.write("db.yaml", container_doc("db", 121, **{**RUNNING, **ROUNDED, "iolimit": "1.5M"}))
    repo.commit("a fractional I/O limit")
    changed = _apply(repo, env)
    assert changed.returncode == 0, changed.stdout + changed.stderr
    again = vzgitops(["plan", "--repo", str(repo.path), "--detailed-exitcode"], env)
    assert again.returncode == 0, again.stdout + again.stderr
