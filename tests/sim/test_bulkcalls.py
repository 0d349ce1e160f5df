"""bulkcalls.run_calls leaves a node exactly as the same real vzctl processes do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import make_sim_node
from vzsim import kernel
from vzsim.bulkcalls import CallFailed, run_calls
from vzsim.layout import Node

CALLS = [
    ["create", "101", "--ostemplate", "debian-12.0-x86_64-minimal", "--ipadd", "10.0.0.5",
     "--hostname", "web.lan", "--name", "web"],
    ["set", "101", "--ram", "512M", "--swap", "256M", "--diskspace", "10G", "--cpus", "2",
     "--cpuunits", "1000", "--cpulimit", "100", "--nameserver", "10.0.0.1", "--searchdomain",
     "lan", "--onboot", "yes", "--description", "a web server", "--save"],
    ["start", "101"],
    ["create", "102", "--ostemplate", "centos-7-x86_64", "--ipadd", "10.0.0.6", "--name", "db"],
]  # fmt: skip


def _entry(root: Path, path: Path) -> object:
    """What one path holds, with the node's own directory masked."""
    mask = str(root)
    if path.is_symlink():
        return ("link", os.readlink(path).replace(mask, "<node>"))
    if path.is_dir():
        return ("dir", path.stat().st_mode)
    if path.parent.name == "run" and path.name.endswith(".state"):
        record = dict(kernel.load(Node(str(root)), int(path.name.split(".")[0])) or {})
        record.pop("started", None)  # the start time: the one thing two starts cannot share
        return ("kernel", repr(record).replace(mask, "<node>"))
    return ("file", path.stat().st_mode, path.read_bytes().replace(mask.encode(), b"<node>"))


def _snapshot(root: Path) -> dict[str, object]:
    return {
        str(path.relative_to(root)): _entry(root, path)
        for path in sorted(root.rglob("*"))
        if path.name != "oplog.jsonl"
    }


def test_a_bulk_made_node_matches_one_made_by_vzctl_processes(tmp_path: Path) -> None:
    real = make_sim_node(tmp_path / "real")
    bulk = make_sim_node(tmp_path / "bulk")
    for argv in CALLS:
        done = real.run("vzctl", *argv)
        assert done.returncode == 0, done.stderr
    assert run_calls(str(bulk.dir), CALLS) == len(CALLS)
    assert _snapshot(bulk.dir) == _snapshot(real.dir)
    assert (real.dir / "oplog.jsonl").exists()
    assert not (bulk.dir / "oplog.jsonl").exists()


def test_a_failing_call_stops_with_its_output_and_leaves_the_oplog_alone(tmp_path: Path) -> None:
    node = make_sim_node(tmp_path / "node")
    assert node.run("vzctl", "start", "101").returncode != 0
    before = (node.dir / "oplog.jsonl").read_bytes()
    with pytest.raises(CallFailed, match=r"vzctl start 101 exited \d+: .*does not exist"):
        run_calls(str(node.dir), [["start", "101"], CALLS[0]])
    assert (node.dir / "oplog.jsonl").read_bytes() == before
    assert not (node.dir / "conf" / "101.conf").exists()
