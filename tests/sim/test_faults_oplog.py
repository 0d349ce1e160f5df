"""Fault injection (`vzgitops sim fault`) and the operation log (`oplog`, `read_oplog`)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.conftest import SimNode, make_sim_node
from tests.sim.support import conf, create, fault, ok, popen, wait_for_lock
from vzsim.cli import main as sim_main
from vzsim.faults import uniform
from vzsim.oplog import read_oplog


def test_fail_n_then_succeed_with_the_lock_messages(sim_node: SimNode) -> None:
    create(sim_node, 101)
    fault(sim_node, "--verb", "set", "--ctid", "101", "--fail", "2", "--exit", "9")
    before = conf(sim_node)
    results = [sim_node.run("vzctl", "set", "101", "--cpus", "2", "--save") for _ in range(3)]
    assert [r.returncode for r in results] == [9, 9, 0]
    assert results[0].stderr.splitlines()[-1] == "Container already locked"
    assert results[0].stderr.startswith("Locked by: pid ")
    assert 'CPUS="2"' not in before
    assert 'CPUS="2"' in conf(sim_node)


def test_a_failed_call_changes_nothing_and_other_codes_are_reported(sim_node: SimNode) -> None:
    create(sim_node, 101)
    fault(sim_node, "--verb", "start", "--fail", "1", "--exit", "3")
    done = sim_node.run("vzctl", "start", "101")
    assert done.returncode == 3
    assert "simulated failure (exit 3)" in done.stderr
    assert ok(sim_node.run("vzctl", "status", "101")).stdout == "CTID 101 exist unmounted down\n"


def test_rules_match_by_ctid_and_verb(sim_node: SimNode) -> None:
    create(sim_node, 101)
    create(sim_node, 102)
    fault(sim_node, "--verb", "set", "--ctid", "101", "--fail", "5", "--exit", "9")
    assert sim_node.run("vzctl", "set", "102", "--onboot", "yes", "--save").returncode == 0
    assert sim_node.run("vzctl", "start", "101").returncode == 0
    assert sim_node.run("vzctl", "set", "101", "--onboot", "yes", "--save").returncode == 9


def test_wildcard_rule_also_fails_vzlist(sim_node: SimNode) -> None:
    fault(sim_node, "--verb", "*", "--fail", "1", "--exit", "1")
    assert sim_node.run("vzlist", "-a").returncode == 1
    assert sim_node.run("vzlist", "-a").returncode == 0


def test_latency_holds_the_container_lock(sim_node: SimNode) -> None:
    create(sim_node, 101)
    fault(sim_node, "--verb", "start", "--latency", "1.5")
    slow = popen(sim_node, "vzctl", "start", "101")
    wait_for_lock(sim_node, 101, slow.pid)
    assert sim_node.run("vzctl", "set", "101", "--onboot", "yes", "--save").returncode == 9
    slow.communicate(timeout=30)
    assert slow.returncode == 0


def test_a_hung_call_killed_leaves_a_stale_lock(sim_node: SimNode) -> None:
    create(sim_node, 101)
    fault(sim_node, "--verb", "stop", "--hang")
    hung = popen(sim_node, "vzctl", "stop", "101")
    wait_for_lock(sim_node, 101, hung.pid)
    assert hung.poll() is None, "the hung stop exited while holding the lock"
    hung.send_signal(signal.SIGKILL)
    hung.communicate(timeout=30)
    fault(sim_node, "--clear")
    done = ok(sim_node.run("vzctl", "start", "101"))
    assert done.stdout.startswith("Removing stale lock file ")


def _failures(node: SimNode, calls: int) -> list[int]:
    return [
        node.run("vzctl", "set", "101", "--onboot", "yes", "--save").returncode
        for _ in range(calls)
    ]


def test_fail_rate_is_a_deterministic_sequence_per_seed(
    sim_node: SimNode,
) -> None:
    other = make_sim_node(sim_node.dir.parent / "other")
    for node in (sim_node, other):
        create(node, 101)
        fault(node, "--verb", "set", "--fail-rate", "0.3", "--exit", "9", "--seed", "7")
    first, second = _failures(sim_node, 30), _failures(other, 30)
    expected = [9 if uniform(7, n) < 0.3 else 0 for n in range(30)]
    assert first == second == expected
    assert 0 < first.count(9) < 30


def test_clear_removes_every_rule(sim_node: SimNode) -> None:
    fault(sim_node, "--verb", "vzlist", "--fail", "3", "--exit", "2")
    fault(sim_node, "--clear")
    assert sim_node.run("vzlist", "-a").returncode == 0


def test_truncate_cuts_the_listing_after_n_bytes(sim_node: SimNode) -> None:
    create(sim_node, 101)
    create(sim_node, 102)
    whole = ok(sim_node.run("vzlist", "-a", "-H", "-o", "ctid,status")).stdout
    assert whole == "       101 stopped\n       102 stopped\n"
    fault(sim_node, "--verb", "vzlist", "--truncate", "33")
    for argv in (["-a", "-H", "-o", "ctid,status"], ["-a", "-j", "-o", "ctid"]):
        cut = ok(sim_node.run("vzlist", *argv))
        assert len(cut.stdout) == 33 and cut.stderr == ""
    assert cut.stdout.startswith('[\n  {\n    "ctid": 101\n  },')
    assert sim_node.run("vzlist", "-a", "-H", "-o", "ctid,status").stdout == whole[:33]
    assert read_oplog(str(sim_node.dir))[-1]["rc"] == 0
    fault(sim_node, "--clear")
    assert ok(sim_node.run("vzlist", "-a", "-H", "-o", "ctid,status")).stdout == whole


@pytest.mark.parametrize(
    "args",
    [
        ["--verb", "vzlist", "--truncate", "-1"],
        ["--verb", "set", "--truncate", "10"],
        ["--verb", "set", "--fail", "1"],
        ["--verb", "bogus", "--fail", "1", "--exit", "9"],
        ["--verb", "set", "--fail-rate", "1.5", "--exit", "9"],
        ["--verb", "set", "--exit", "300", "--fail", "1"],
        ["--fail", "1", "--exit", "9"],
    ],
)
def test_bad_fault_usage_exits_64(sim_node: SimNode, args: list[str]) -> None:
    assert sim_main(["fault", str(sim_node.dir), *args]) == 64


def test_fault_on_a_directory_that_is_not_a_node(tmp_path: Path) -> None:
    assert sim_main(["fault", str(tmp_path), "--clear"]) == 1


def test_oplog_counts_mutating_vzctl_calls_and_every_vzlist(sim_node: SimNode) -> None:
    create(sim_node, 101)
    ok(sim_node.run("vzctl", "start", "101"))
    ok(sim_node.run("vzctl", "status", "101"))
    ok(sim_node.run("vzctl", "exec", "101", "true"))
    ok(sim_node.run("vzlist", "-a"))
    assert sim_node.run("vzctl", "start", "999").returncode == 14
    assert sim_node.run("vzctl", "set", "101", "--cpus", "x").returncode == 21
    log = read_oplog(str(sim_node.dir))
    assert [(e["tool"], e["verb"], e["ctid"], e["rc"]) for e in log] == [
        ("vzctl", "create", 101, 0),
        ("vzctl", "start", 101, 0),
        ("vzlist", "vzlist", None, 0),
        ("vzctl", "start", 999, 14),
        ("vzctl", "set", 101, 21),
    ]
    assert log[0]["argv"][0] == str(sim_node.bin / "vzctl")
    assert log[0]["argv"][1:3] == ["create", "101"]
    assert all(isinstance(e["ts"], float) for e in log)


def test_oplog_lines_stay_whole_under_concurrency_and_odd_arguments(sim_node: SimNode) -> None:
    create(sim_node, 101)
    odd = 'a "quoted"\\ value\twith\nnewline é'
    procs = [popen(sim_node, "vzlist", "-a") for _ in range(8)]
    procs += [popen(sim_node, "vzctl", "set", "101", "--description", odd, "--save")]
    for proc in procs:
        proc.communicate(timeout=60)
    lines = (sim_node.dir / "oplog.jsonl").read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]
    assert len(entries) == 10
    assert next(e for e in entries if e["verb"] == "set")["argv"][-2] == odd


def test_oplog_command_prints_text_and_json(
    sim_node: SimNode, capsys: pytest.CaptureFixture[str]
) -> None:
    assert read_oplog(str(sim_node.dir)) == []
    create(sim_node, 101)
    assert sim_main(["oplog", str(sim_node.dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == read_oplog(str(sim_node.dir))
    assert sim_main(["oplog", str(sim_node.dir)]) == 0
    assert " vzctl create 101 rc=0 " in capsys.readouterr().out
