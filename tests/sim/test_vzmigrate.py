"""The simulated vzmigrate between two simulated nodes, the destination behind a real sshd.

The source ("laptop") reaches the destination through `NODE/etc/ssh_config` (the alias
`server`: address, port, user, pinned host key, the shared client key), as a real node's
/root/.ssh/config. What a failed or killed migration leaves behind is what 4.x's script leaves
(bin/vzmigrate.in: its undo_* chain, and no stale-lock detection of its own).
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SimNode, SshNode, make_sim_node, make_ssh_node
from tests.sim.support import conf, create, fault, ok
from vzsim.oplog import read_oplog
from vzsim.sshd import write_client_config

SECRET = "data that must survive the move\n"


@dataclass(frozen=True)
class Pair:
    laptop: SimNode
    server: SshNode

    @property
    def dst(self) -> SimNode:
        return self.server.node

    def migrate(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.laptop.run("vzmigrate", *args)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(self.laptop.bin / "vzmigrate"), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.laptop.env,
        )


@pytest.fixture
def pair(tmp_path: Path, ssh_keys: Any) -> Iterator[Pair]:
    laptop = make_sim_node(tmp_path / "laptop")
    server = make_ssh_node(tmp_path / "server", ssh_keys)
    write_client_config(laptop.dir, ssh_keys, {"server": server.sshd})
    try:
        yield Pair(laptop, server)
    finally:
        server.sshd.stop()


def _with_file(node: SimNode, ctid: int = 101, *args: str, start: bool = False) -> None:
    create(node, ctid, *args, start=start)
    (node.dir / "private" / str(ctid) / "root" / "notes.txt").write_text(SECRET)


def _status(node: SimNode, ctid: int = 101) -> str:
    return ok(node.run("vzctl", "status", str(ctid))).stdout.strip()


def _untouched(pair: Pair, status: str = "CTID 101 exist unmounted down") -> None:
    """The source still has the container as it was, unlocked; the destination has nothing."""
    assert _status(pair.laptop) == status
    assert (pair.laptop.dir / "private" / "101" / "root" / "notes.txt").read_text() == SECRET
    assert list((pair.laptop.dir / "lock").iterdir()) == []
    assert _status(pair.dst).startswith("CTID 101 deleted")
    assert not (pair.dst.dir / "conf" / "101.conf").exists()
    assert not (pair.dst.dir / "private" / "101").exists()


def test_a_stopped_container_moves_with_its_files_and_name(pair: Pair) -> None:
    _with_file(pair.laptop, 101, "--name", "web")
    done = ok(pair.migrate("--ssh-mux", "server", "101"))
    assert done.stdout.splitlines() == [
        "Locked CT 101",
        "Starting migration of CT 101 to server",
        "Remote VE_PRIVATE path differs from local 101.conf",
        f"Using {pair.dst.dir}/private/101 for syncing",
        "Remote VE_ROOT path differs from local 101.conf",
        f"Using {pair.dst.dir}/root/101 for syncing",
        "Preparing remote node",
        "Syncing private",
        "Cleaning up",
    ]
    assert _status(pair.dst) == "CTID 101 exist unmounted down"
    assert (pair.dst.dir / "private" / "101" / "root" / "notes.txt").read_text() == SECRET
    assert f'VE_PRIVATE="{pair.dst.dir}/private/101"' in conf(pair.dst)
    assert (pair.dst.dir / "names" / "web").resolve() == pair.dst.dir / "conf" / "101.conf"
    assert _status(pair.laptop) == "CTID 101 deleted unmounted down"
    assert (pair.laptop.dir / "conf" / "101.conf.destroyed").exists()
    assert not (pair.laptop.dir / "names" / "web").exists()
    assert list((pair.laptop.dir / "lock").iterdir()) == []
    ok(pair.dst.run("vzctl", "start", "web"))
    ok(pair.dst.run("vzctl", "stop", "101"))
    ok(pair.dst.run("vzctl", "destroy", "101"))


def test_a_running_container_is_stopped_copied_and_started_on_the_destination(pair: Pair) -> None:
    _with_file(pair.laptop, 101, start=False)
    ok(pair.laptop.run("vzctl", "set", "101", "--ipadd", "10.1.2.3", "--save"))
    ok(pair.laptop.run("vzctl", "start", "101"))
    user, port = pair.server.sshd.user, str(pair.server.sshd.port)
    done = ok(pair.migrate(f"--ssh=-p {port}", f"{user}@127.0.0.1", "101"))
    lines = done.stdout.splitlines()
    assert lines.index("Syncing private") < lines.index("Stopping container")
    assert lines[-2:] == ["Starting container", "Cleaning up"]
    assert _status(pair.dst) == "CTID 101 exist mounted running"
    listed = ok(pair.dst.run("vzlist", "-H", "-o", "ctid,status,ip")).stdout.split()
    assert listed == ["101", "running", "10.1.2.3"]
    assert (pair.dst.dir / "private" / "101" / "root" / "notes.txt").read_text() == SECRET
    assert ok(pair.laptop.run("vzlist", "-a", "-H")).stdout == ""
    log = read_oplog(str(pair.laptop.dir))
    calls = [(e["tool"], e["verb"], e["rc"]) for e in log if e["tool"] != "vzlist"]
    assert calls[-3:] == [("vzctl", "stop", 0), ("vzctl", "destroy", 0),
                          ("vzmigrate", "migrate", 0)]  # fmt: skip


def test_online_keeps_the_container_running_until_the_second_pass(pair: Pair) -> None:
    _with_file(pair.laptop, 101, start=True)
    done = ok(pair.migrate("--ssh-mux", "--online", "server", "101"))
    assert "Starting live migration of CT 101 to server" in done.stdout
    assert "Live migrating container..." in done.stdout
    assert "cannot checkpoint" in done.stdout
    assert _status(pair.dst) == "CTID 101 exist mounted running"


def test_remove_area_no_keeps_the_source_as_ctid_conf_migrated(pair: Pair) -> None:
    _with_file(pair.laptop)
    ok(pair.migrate("--ssh-mux", "-r", "no", "server", "101"))
    assert _status(pair.dst) == "CTID 101 exist unmounted down"
    assert not (pair.laptop.dir / "conf" / "101.conf").exists()
    assert (pair.laptop.dir / "conf" / "101.conf.migrated").exists()
    assert (pair.laptop.dir / "private" / "101" / "root" / "notes.txt").read_text() == SECRET


def test_dry_run_checks_and_copies_nothing(pair: Pair) -> None:
    _with_file(pair.laptop)
    done = ok(pair.migrate("--ssh-mux", "--dry-run", "server", "101"))
    assert "Checking migration of CT 101 to server" in done.stdout
    _untouched(pair)


def test_a_ctid_the_destination_has_exits_9(pair: Pair) -> None:
    _with_file(pair.laptop)
    create(pair.dst, 101)
    done = pair.migrate("--ssh-mux", "server", "101")
    assert done.returncode == 9
    assert done.stderr == "Error: CT #101 already exists on destination node\n"
    assert _status(pair.laptop) == "CTID 101 exist unmounted down"
    assert list((pair.laptop.dir / "lock").iterdir()) == []


def test_a_container_the_source_lacks_exits_10(pair: Pair) -> None:
    done = pair.migrate("server", "101")
    assert (done.returncode, done.stderr) == (10, "Error: CT #101 doesn't exist\n")
    assert pair.migrate("server", "web").returncode == 10


def test_an_ip_a_running_destination_container_holds_exits_12(pair: Pair) -> None:
    _with_file(pair.laptop, 101, "--ipadd", "10.1.2.3")
    create(pair.dst, 102, "--ipadd", "10.1.2.3", start=True)
    done = pair.migrate("--ssh-mux", "server", "101")
    assert done.returncode == 12
    assert done.stderr == "Error: IP address(es) already in use on destination node\n"
    assert list((pair.laptop.dir / "lock").iterdir()) == []


def test_a_locked_container_exits_20_even_when_the_holder_is_dead(pair: Pair) -> None:
    """4.x's lock_ct() is O_EXCL with no stale check; vzctl's own lock removes a stale file."""
    _with_file(pair.laptop)
    holder = subprocess.Popen(["sleep", "60"])
    lock = pair.laptop.dir / "lock" / "101.lck"
    try:
        lock.write_text(f"{holder.pid}\n")
        done = pair.migrate("server", "101")
        assert done.returncode == 20
        assert done.stderr == f"Error: CT 101 already locked by PID {holder.pid}\n"
    finally:
        holder.kill()
        holder.wait()
    assert pair.migrate("server", "101").returncode == 20
    assert lock.read_text() == f"{holder.pid}\n"
    assert ok(pair.laptop.run("vzctl", "mount", "101")).stdout.startswith("Removing stale lock")
    ok(pair.laptop.run("vzctl", "umount", "101"))
    ok(pair.migrate("--ssh-mux", "server", "101"))


def test_an_unreachable_destination_exits_4(pair: Pair) -> None:
    _with_file(pair.laptop)
    pair.server.sshd.stop()
    done = pair.migrate("server", "101")
    assert done.returncode == 4
    assert done.stderr.endswith(
        "Error: Can't connect to destination address using public key\n"
        "Error: Please put your public key to destination node\n"
    )
    assert list((pair.laptop.dir / "lock").iterdir()) == []


def test_online_of_a_stopped_container_exits_2(pair: Pair) -> None:
    _with_file(pair.laptop)
    done = pair.migrate("--online", "server", "101")
    assert done.returncode == 2
    assert done.stderr == "Error: Can't perform live migration of a stopped container\n"


def test_no_remote_ve_private_exits_19(pair: Pair) -> None:
    _with_file(pair.laptop)
    vzconf = pair.dst.dir / "vz.conf"
    vzconf.write_text("".join(ln for ln in vzconf.read_text().splitlines(True)
                              if not ln.startswith("VE_PRIVATE=")))  # fmt: skip
    done = pair.migrate("--ssh-mux", "server", "101")
    assert (done.returncode, done.stderr) == (
        19,
        "Error: Failed to get remote VE_ROOT/VE_PRIVATE\n",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Invalid usage: not enough parameters"),
        (("-r", "maybe", "server", "101"), "Invalid usage: bad argument for -r: maybe"),
        (("--ssh=-o ProxyCommand=sh;id", "server", "101"), "Invalid usage: --ssh options"),
        (("-oops", "server", "101"), "Invalid usage"),
        (("server", "10 1"), "Invalid usage: bad CTID"),
    ],
)
def test_bad_usage_exits_1(pair: Pair, args: tuple[str, ...], message: str) -> None:
    done = pair.migrate("-v", *args)
    assert done.returncode == 1
    assert message in done.stderr


def test_a_failure_after_the_copy_undoes_it_and_a_rerun_moves_it(pair: Pair) -> None:
    _with_file(pair.laptop, 101, start=True)
    fault(pair.laptop, "--verb", "migrate", "--step", "after-copy", "--fail", "1", "--exit", "7")
    done = pair.migrate("--ssh-mux", "server", "101")
    assert done.returncode == 7
    assert "simulated failure at after-copy (exit 7)" in done.stderr
    _untouched(pair, "CTID 101 exist mounted running")
    ok(pair.migrate("--ssh-mux", "server", "101"))
    assert _status(pair.dst) == "CTID 101 exist mounted running"
    assert (pair.dst.dir / "private" / "101" / "root" / "notes.txt").read_text() == SECRET


def test_keep_dst_keeps_the_synced_private_area_after_a_failure(pair: Pair) -> None:
    _with_file(pair.laptop)
    fault(pair.laptop, "--verb", "migrate", "--step", "after-copy", "--fail", "1", "--exit", "6")
    assert pair.migrate("--ssh-mux", "--keep-dst", "server", "101").returncode == 6
    assert (pair.dst.dir / "private" / "101" / "root" / "notes.txt").read_text() == SECRET
    assert not (pair.dst.dir / "conf" / "101.conf").exists()
    ok(pair.migrate("--ssh-mux", "server", "101"))


def test_a_fault_before_copy_or_before_the_lock_changes_nothing(pair: Pair) -> None:
    _with_file(pair.laptop)
    fault(pair.laptop, "--verb", "migrate", "--step", "before-copy", "--fail", "1", "--exit", "6")
    fault(pair.laptop, "--verb", "migrate", "--fail", "1", "--exit", "4")
    first = pair.migrate("--ssh-mux", "server", "101")
    assert (first.returncode, first.stdout) == (4, "")
    assert pair.migrate("--ssh-mux", "server", "101").returncode == 6
    _untouched(pair)


def test_a_crash_after_the_start_leaves_both_copies_and_the_lock(pair: Pair) -> None:
    """Past a started destination the script has nothing to undo: a death there leaves the
    container running on the destination, stopped on the source, and the lock file."""
    _with_file(pair.laptop, 101, start=True)
    fault(pair.laptop, "--verb", "migrate", "--step", "after-start", "--fail", "1", "--exit", "9")
    assert pair.migrate("--ssh-mux", "server", "101").returncode == 9
    assert _status(pair.dst) == "CTID 101 exist mounted running"
    assert _status(pair.laptop) == "CTID 101 exist unmounted down"
    assert (pair.laptop.dir / "lock" / "101.lck").exists()
    assert pair.migrate("server", "101").returncode == 20


def test_kill_9_while_hung_after_the_copy_leaves_the_destination_half_made(pair: Pair) -> None:
    _with_file(pair.laptop, 101, start=True)
    fault(pair.laptop, "--verb", "migrate", "--step", "after-copy", "--hang")
    hung = pair.popen("--ssh-mux", "server", "101")
    assert hung.stderr is not None
    assert "hanging at after-copy" in hung.stderr.readline()
    hung.send_signal(signal.SIGKILL)
    hung.communicate(timeout=30)
    fault(pair.laptop, "--clear")
    assert _status(pair.laptop) == "CTID 101 exist unmounted down"
    assert _status(pair.dst) == "CTID 101 exist unmounted down"
    assert (pair.dst.dir / "private" / "101" / "root" / "notes.txt").read_text() == SECRET
    assert pair.migrate("server", "101").returncode == 20
    ok(pair.laptop.run("vzctl", "start", "101"))  # removes the stale lock
    assert pair.migrate("--ssh-mux", "server", "101").returncode == 9
    ok(pair.dst.run("vzctl", "destroy", "101"))
    ok(pair.migrate("--ssh-mux", "server", "101"))
    assert _status(pair.dst) == "CTID 101 exist mounted running"


def test_step_needs_the_migrate_verb(sim_node: SimNode) -> None:
    from vzsim.cli import main

    assert main(["fault", str(sim_node.dir), "--verb", "stop", "--step", "after-copy"]) == 64
