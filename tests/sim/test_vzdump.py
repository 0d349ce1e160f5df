"""The simulated `vzdump` and `vzrestore`: archives, config inside, locks, modes, faults, kill -9."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from tests.conftest import SimNode
from tests.sim.support import conf, create, fault, ok, popen, wait_for_lock
from vzsim.oplog import read_oplog

NAME = re.compile(r"^vzdump-openvz-101-\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d\.tar(\.gz)?$")


def _archives(node: SimNode) -> list[Path]:
    return sorted(p for p in (node.dir / "dump").iterdir() if NAME.match(p.name))


def _dump(node: SimNode, *args: str) -> Path:
    ok(node.run("vzdump", "101", "--maxfiles", "0", *args))
    (archive,) = _archives(node)
    return archive


def _with_file(node: SimNode, start: bool = False) -> None:
    create(node, 101, start=start)
    (node.dir / "private" / "101" / "root" / "note.txt").write_text("hello\n", encoding="utf-8")


def test_a_dump_archives_the_private_area_and_the_config_inside(sim_node: SimNode) -> None:
    _with_file(sim_node)
    archive = _dump(sim_node, "--compress", "gzip")
    assert archive.name.endswith(".tar.gz")
    with tarfile.open(archive) as tar:
        note = tar.extractfile("./root/note.txt")
        vps = tar.extractfile("./etc/vzdump/vps.conf")
        assert note is not None and vps is not None
        assert note.read() == b"hello\n"
        assert vps.read().decode() == conf(sim_node, 101)
    log = archive.with_name(archive.name.removesuffix(".tar.gz") + ".log").read_text()
    assert "INFO: Starting Backup of VM 101 (openvz)" in log
    assert "INFO: backup mode: stop" in log
    assert "INFO: Finished Backup of VM 101 (" in log
    assert [e["verb"] for e in read_oplog(str(sim_node.dir))][-1] == "vzdump"


def test_uncompressed_is_a_plain_tar(sim_node: SimNode) -> None:
    _with_file(sim_node)
    archive = _dump(sim_node)
    assert archive.name.endswith(".tar")
    with tarfile.open(archive, "r:") as tar:
        assert "./root/note.txt" in tar.getnames()


def test_stop_mode_stops_and_restarts_a_running_container(sim_node: SimNode) -> None:
    _with_file(sim_node, start=True)
    done = ok(sim_node.run("vzdump", "101", "--mode", "stop", "--maxfiles", "0"))
    assert "INFO: stopping vm\n" in done.stdout
    assert "INFO: restarting vm\n" in done.stdout
    assert ok(sim_node.run("vzctl", "status", "101")).stdout.endswith("running\n")
    calls = [e["argv"][1:3] for e in read_oplog(str(sim_node.dir)) if e["tool"] == "vzctl"]
    assert ["--skiplock", "stop"] in calls and ["--skiplock", "start"] in calls


def test_snapshot_without_lvm_falls_back_to_suspend_which_the_node_refuses(
    sim_node: SimNode,
) -> None:
    _with_file(sim_node, start=True)
    done = sim_node.run("vzdump", "101")
    assert done.returncode == 255
    assert "INFO: mode failure - unable to detect lvm volume group\n" in done.stdout
    assert "INFO: trying 'suspend' mode instead\n" in done.stdout
    assert "ERROR: Backup of VM 101 failed - command 'vzctl --skiplock chkpnt 101" in done.stdout
    assert "INFO: Backup job finished with errors\n" in done.stdout
    assert _archives(sim_node) == []
    assert ok(sim_node.run("vzctl", "status", "101")).stdout.endswith("running\n")


def test_a_stopped_container_is_dumped_in_any_mode(sim_node: SimNode) -> None:
    _with_file(sim_node)
    done = ok(sim_node.run("vzdump", "101", "--mode", "snapshot", "--maxfiles", "0"))
    assert "INFO: backup mode: stop\n" in done.stdout
    assert len(_archives(sim_node)) == 1


def test_the_vzctl_lock_is_honoured(sim_node: SimNode) -> None:
    _with_file(sim_node)
    holder = subprocess.Popen(["sleep", "300"])
    try:
        (sim_node.dir / "lock" / "101.lck").write_text(f"{holder.pid}\n\n", encoding="ascii")
        done = sim_node.run("vzdump", "101")
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 255
    assert "ERROR: Backup of VM 101 failed - can't lock VM 101\n" in done.stdout
    assert _archives(sim_node) == []


def test_one_job_at_a_time_per_node(sim_node: SimNode) -> None:
    _with_file(sim_node)
    (sim_node.dir / "run").mkdir(exist_ok=True)
    with open(sim_node.dir / "run" / "vzdump.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        done = sim_node.run("vzdump", "101", "--lockwait", "0")
    assert done.returncode == 255
    assert "can't aquire lock" in done.stdout and "(wait = 0)" in done.stdout
    assert _archives(sim_node) == []


def test_maxfiles_purges_older_archives_after_a_successful_dump(sim_node: SimNode) -> None:
    _with_file(sim_node)
    old = sim_node.dir / "dump" / "vzdump-openvz-101-2020_01_01-00_00_00.tar"
    old.write_bytes(b"old")
    old.with_suffix(".log").write_text("old log")
    other = sim_node.dir / "dump" / "vzdump-openvz-102-2020_01_01-00_00_00.tar"
    other.write_bytes(b"other")
    done = ok(sim_node.run("vzdump", "101"))
    assert f"INFO: delete old backup '{old}'\n" in done.stdout
    assert not old.exists() and not old.with_suffix(".log").exists()
    assert other.exists() and len(_archives(sim_node)) == 1


def test_an_injected_fault_fails_the_dump_with_its_code_then_clears(sim_node: SimNode) -> None:
    _with_file(sim_node)
    fault(sim_node, "--verb", "vzdump", "--fail", "1", "--exit", "7")
    failed = sim_node.run("vzdump", "101", "--maxfiles", "0")
    assert failed.returncode == 7
    assert "simulated failure (exit 7)" in failed.stdout
    assert _archives(sim_node) == []
    ok(sim_node.run("vzdump", "101", "--maxfiles", "0"))
    assert len(_archives(sim_node)) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["101", "--bogus"], "Unknown option: bogus\n"),
        (["abc"], "ERROR: strange VM ID 'abc'\n"),
        (["42"], "ERROR: got reserved VM ID '42'\n"),
        (["101", "--compress", "lzo"], "unable to find command 'lzop'\n"),
        (["101", "--mode", "fast"], "unknown backup mode 'fast'\n"),
        ([], "ERROR: no VMID specified\n"),
    ],
)
def test_bad_command_lines_exit_255(sim_node: SimNode, args: list[str], message: str) -> None:
    done = sim_node.run("vzdump", *args)
    assert done.returncode == 255
    assert done.stderr.startswith(message)


def test_an_unknown_container_fails_its_task(sim_node: SimNode) -> None:
    done = sim_node.run("vzdump", "105")
    assert done.returncode == 255
    assert "ERROR: Backup of VM 105 failed - unable to find VM '105'\n" in done.stdout


def test_stdexcludes_drops_temporary_files(sim_node: SimNode) -> None:
    _with_file(sim_node)
    (sim_node.dir / "private" / "101" / "tmp" / "junk").write_text("x")
    (sim_node.dir / "private" / "101" / "var" / "log" / "messages").write_text("x")
    archive = _dump(sim_node, "--stdexcludes")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "./tmp" in names and "./tmp/junk" not in names
    assert "./var/log" in names and "./var/log/messages" not in names
    assert "./root/note.txt" in names


def _wait_for(path_glob: Path, pattern: str) -> None:
    deadline = time.monotonic() + 20
    while not list(path_glob.glob(pattern)):
        assert time.monotonic() < deadline, f"no {pattern} appeared in {path_glob}"
        time.sleep(0.02)


def test_kill_9_during_a_dump_leaves_no_archive_and_a_rerun_converges(
    sim_node: SimNode,
) -> None:
    _with_file(sim_node)
    fault(sim_node, "--verb", "vzdump", "--hang")
    hung = popen(sim_node, "vzdump", "101", "--maxfiles", "0")
    wait_for_lock(sim_node, 101, hung.pid)
    _wait_for(sim_node.dir / "dump", "*.dat")
    hung.send_signal(signal.SIGKILL)
    hung.communicate(timeout=30)
    assert _archives(sim_node) == []
    fault(sim_node, "--clear")
    archive = _dump(sim_node)
    with tarfile.open(archive) as tar:
        assert "./root/note.txt" in tar.getnames()


def test_restore_round_trip_into_a_new_ctid(sim_node: SimNode) -> None:
    _with_file(sim_node)
    ok(sim_node.run("vzctl", "set", "101", "--hostname", "web", "--save"))
    archive = _dump(sim_node, "--compress", "1")
    done = ok(sim_node.run("vzrestore", str(archive), "102"))
    assert done.stdout.endswith(f"INFO: restore openvz backup '{archive}' successful\n")
    private = sim_node.dir / "private" / "102"
    assert (private / "root" / "note.txt").read_text() == "hello\n"
    assert not (private / "etc" / "vzdump").exists()
    restored = conf(sim_node, 102)
    assert 'HOSTNAME="web"' in restored
    assert f'VE_PRIVATE="{sim_node.dir}/private/$VEID"' in restored
    ok(sim_node.run("vzctl", "start", "102"))
    assert ok(sim_node.run("vzctl", "exec", "102", "cat", "/root/note.txt")).stdout == "hello\n"


def test_restore_refuses_an_existing_container_unless_forced(sim_node: SimNode) -> None:
    _with_file(sim_node)
    archive = _dump(sim_node)
    (sim_node.dir / "private" / "101" / "root" / "note.txt").write_text("changed\n")
    (sim_node.dir / "private" / "101" / "root" / "extra").write_text("new\n")
    refused = sim_node.run("vzrestore", str(archive), "101")
    assert refused.returncode == 255
    assert "failed - unable to restore VM '101' - VM already exists\n" in refused.stdout
    assert (sim_node.dir / "private" / "101" / "root" / "note.txt").read_text() == "changed\n"
    forced = ok(sim_node.run("vzrestore", str(archive), "101", "--force"))
    assert "you choose to force overwriting" in forced.stdout
    assert (sim_node.dir / "private" / "101" / "root" / "note.txt").read_text() == "hello\n"
    assert not (sim_node.dir / "private" / "101" / "root" / "extra").exists()


def test_restore_refuses_a_leftover_private_area(sim_node: SimNode) -> None:
    _with_file(sim_node)
    archive = _dump(sim_node)
    (sim_node.dir / "private" / "102").mkdir()
    done = sim_node.run("vzrestore", str(archive), "102")
    assert done.returncode == 255
    assert f"directory '{sim_node.dir}/private/102' already exists" in done.stdout
    assert not (sim_node.dir / "conf" / "102.conf").exists()


def test_restore_renames_the_veth_host_interface(sim_node: SimNode) -> None:
    _with_file(sim_node)
    path = sim_node.dir / "conf" / "101.conf"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('NETIF="ifname=eth0,mac=00:18:51:AA:BB:CC,host_ifname=veth101.0"\n')
    archive = _dump(sim_node)
    ok(sim_node.run("vzrestore", str(archive), "102"))
    assert "host_ifname=veth102.0" in conf(sim_node, 102)


def test_restore_of_a_missing_archive_and_bad_usage(sim_node: SimNode, tmp_path: Path) -> None:
    missing = sim_node.run("vzrestore", str(tmp_path / "nope.tar"), "102")
    assert (missing.returncode, missing.stderr) == (
        255,
        f"ERROR: file '{tmp_path}/nope.tar' does not exist\n",
    )
    usage = sim_node.run("vzrestore", "only-one")
    assert usage.returncode == 255 and usage.stderr.startswith("usage: vzrestore")


def test_a_failed_restore_leaves_nothing_behind(sim_node: SimNode, tmp_path: Path) -> None:
    broken = tmp_path / "vzdump-openvz-101-2020_01_01-00_00_00.tar"
    with tarfile.open(broken, "w") as tar:
        tar.add(str(tmp_path), arcname=".", recursive=False)
    done = sim_node.run("vzrestore", str(broken), "102")
    assert done.returncode == 255
    assert "holds no ./etc/vzdump/vps.conf" in done.stdout
    assert not (sim_node.dir / "private" / "102").exists()
    assert not (sim_node.dir / "conf" / "102.conf").exists()


def test_kill_9_during_a_restore_leaves_no_container(sim_node: SimNode) -> None:
    _with_file(sim_node)
    archive = _dump(sim_node)
    fault(sim_node, "--verb", "vzrestore", "--hang")
    hung = popen(sim_node, "vzrestore", str(archive), "102")
    wait_for_lock(sim_node, 102, hung.pid)
    hung.send_signal(signal.SIGKILL)
    hung.communicate(timeout=30)
    fault(sim_node, "--clear")
    assert not (sim_node.dir / "conf" / "102.conf").exists()
    assert sim_node.run("vzctl", "status", "102").stdout.startswith("CTID 102 deleted")
    ok(sim_node.run("vzrestore", str(archive), "102", "--force"))
    assert (sim_node.dir / "private" / "102" / "root" / "note.txt").read_text() == "hello\n"
    assert os.path.isfile(sim_node.dir / "conf" / "102.conf")
