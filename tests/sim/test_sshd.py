"""The simulated node over a real sshd: key authentication, pinned host keys, dropped sessions."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import SshNode


def _ssh(node: SshNode, known_hosts: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*node.ssh_argv(known_hosts), *argv], capture_output=True, text=True, timeout=60
    )


def test_vzctl_over_ssh_is_the_nodes_own(ssh_node: SshNode, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(ssh_node.sshd.known_hosts_line() + "\n")
    done = _ssh(
        ssh_node, known, "vzctl", "create", "101", "--ostemplate", "debian-12.0-x86_64-minimal"
    )
    assert done.returncode == 0, done.stderr
    assert (ssh_node.node.dir / "conf" / "101.conf").exists()
    listed = _ssh(ssh_node, known, "vzlist", "-a", "-H", "-o", "ctid,status")
    assert listed.stdout.split() == ["101", "stopped"]
    assert ssh_node.sshd.accepted() == 2


def test_a_host_key_that_does_not_match_is_refused(ssh_node: SshNode, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    forged = " ".join(Path(f"{other}.pub").read_text().split()[:2])
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{ssh_node.sshd.port} {forged}\n")
    done = _ssh(ssh_node, known, "vzlist", "-a")
    assert done.returncode == 255
    assert "HOST IDENTIFICATION HAS CHANGED" in done.stderr
    assert ssh_node.sshd.accepted() == 0


def test_a_key_the_server_does_not_know_is_refused(ssh_node: SshNode, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    known = tmp_path / "known_hosts"
    known.write_text(ssh_node.sshd.known_hosts_line() + "\n")
    argv = ssh_node.ssh_argv(known)
    argv[argv.index("-F") + 1] = "/dev/null"
    done = subprocess.run(
        [*argv, "-o", f"IdentityFile={stranger}", "-o", "BatchMode=yes", "true"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 255
    assert "Permission denied" in done.stderr


def test_dropped_sessions_end_the_command_and_the_server_still_listens(
    ssh_node: SshNode, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(ssh_node.sshd.known_hosts_line() + "\n")
    running = subprocess.Popen(
        [*ssh_node.ssh_argv(known), "sleep", "30"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(500):
            if ssh_node.sshd.accepted() == 1:
                break
            subprocess.run(["sleep", "0.02"], check=True)
        ssh_node.sshd.drop_sessions()
        assert running.wait(timeout=20) == 255
    finally:
        running.kill()
        running.wait()
    assert _ssh(ssh_node, known, "true").returncode == 0
