"""The vzctl container lock with real concurrent processes (conc_* and lock_* recordings)."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import SimNode
from tests.sim.support import (
    REC,
    conf,
    create,
    fault,
    ok,
    popen,
    real_cmdline,
    wait_for_lock,
)


def _recorded_err(name: str) -> str:
    return re.sub(r"pid \d+", "pid N", (REC / f"{name}.err").read_text(encoding="utf-8"))


def test_set_during_a_restart_fails_with_9_like_the_recording(sim_node: SimNode) -> None:
    create(sim_node, 101, start=True)
    fault(sim_node, "--verb", "restart", "--latency", "1.5")
    restart = popen(sim_node, "vzctl", "restart", "101")
    wait_for_lock(sim_node, 101, restart.pid)
    before = conf(sim_node)

    done = sim_node.run("vzctl", "set", "101", "--cpus", "1", "--save")

    assert done.returncode == 9
    assert done.stdout == ""
    assert done.stderr.startswith(f"Locked by: pid {restart.pid}, cmdline ")
    err = re.sub(r"pid \d+", "pid N", real_cmdline(done.stderr, sim_node))
    assert err == _recorded_err("conc_B_set_101_during_restart")
    assert conf(sim_node) == before
    # status and exec take no lock (conc_C, conc_D)
    assert ok(sim_node.run("vzctl", "status", "101")).stdout == "CTID 101 exist mounted running\n"
    assert sim_node.run("vzctl", "exec", "101", "true").returncode == 0
    restart.communicate(timeout=30)
    assert restart.returncode == 0
    assert not (sim_node.dir / "lock" / "101.lck").exists()


def test_second_stop_fails_with_9_while_the_first_holds_the_lock(sim_node: SimNode) -> None:
    create(sim_node, 101, start=True)
    fault(sim_node, "--verb", "stop", "--latency", "1.5")
    first = popen(sim_node, "vzctl", "stop", "101")
    wait_for_lock(sim_node, 101, first.pid)

    second = sim_node.run("vzctl", "stop", "101")

    assert second.returncode == 9
    assert re.sub(r"pid \d+", "pid N", real_cmdline(second.stderr, sim_node)) == _recorded_err(
        "conc_F_stop_101_second"
    )
    out, _ = first.communicate(timeout=30)
    assert first.returncode == 0
    assert out == (REC / "conc_E_stop_101_first.out").read_text(encoding="utf-8").split("\n", 1)[1]


def test_a_live_non_vzctl_holder_is_reported_with_its_cmdline(sim_node: SimNode) -> None:
    create(sim_node, 101)
    holder = subprocess.Popen(["sleep", "300"])
    try:
        (sim_node.dir / "lock" / "101.lck").write_text(f"{holder.pid}\n\n", encoding="ascii")
        done = sim_node.run("vzctl", "start", "101")
        status = sim_node.run("vzctl", "status", "101")
        skipped = sim_node.run("vzctl", "--skiplock", "set", "101", "--onboot", "yes", "--save")
    finally:
        holder.kill()
        holder.wait()
    assert (done.returncode, done.stdout) == (9, "")
    assert done.stderr == (
        f"Locked by: pid {holder.pid}, cmdline sleep 300\nContainer already locked\n"
    )
    assert status.returncode == 0
    assert skipped.returncode == 0
    assert 'ONBOOT="yes"' in conf(sim_node)


def test_a_stale_lock_is_removed_and_the_command_proceeds(sim_node: SimNode) -> None:
    create(sim_node, 101)
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock = sim_node.dir / "lock" / "101.lck"
    lock.write_text(f"{dead.pid}\n\n", encoding="ascii")

    done = ok(sim_node.run("vzctl", "set", "101", "--onboot", "no", "--save"))

    assert done.stdout.splitlines()[0] == f"Removing stale lock file {lock}"
    assert not lock.exists()


def test_a_lock_without_a_pid_is_dropped_silently(sim_node: SimNode) -> None:
    create(sim_node, 101)
    (sim_node.dir / "lock" / "101.lck").write_text("garbage\n", encoding="ascii")
    done = ok(sim_node.run("vzctl", "set", "101", "--onboot", "no", "--save"))
    assert "Removing" not in done.stdout
    assert done.stderr == ""


def test_two_concurrent_creates_of_one_ctid_one_gets_9(sim_node: SimNode) -> None:
    fault(sim_node, "--verb", "create", "--latency", "1.5")
    first = popen(sim_node, "vzctl", "create", "150", "--ostemplate", "centos-7-x86_64")
    wait_for_lock(sim_node, 150, first.pid)
    second = sim_node.run("vzctl", "create", "150", "--ostemplate", "centos-7-x86_64")
    assert second.returncode == 9
    first.communicate(timeout=30)
    assert first.returncode == 0
    assert 'OSTEMPLATE="centos-7-x86_64"' in conf(sim_node, 150)


def test_many_racing_writers_leave_a_valid_config(sim_node: SimNode) -> None:
    create(sim_node, 101)
    procs = [
        popen(sim_node, "vzctl", "set", "101", "--cpuunits", str(1000 + i), "--save")
        for i in range(12)
    ]
    codes = [p.communicate(timeout=60) and p.returncode for p in procs]
    assert set(codes) <= {0, 9}
    assert 0 in codes
    units = [ln for ln in conf(sim_node).splitlines() if ln.startswith("CPUUNITS=")]
    assert len(units) == 1
    assert not (sim_node.dir / "lock" / "101.lck").exists()
