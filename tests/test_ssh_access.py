"""`SshAccess` against a real sshd on 127.0.0.1: what observing a node costs in connections and
commands, that `close()` ends the connection, and how a node that cannot be reached fails.

Real OpenSSH client and server, the simulated node's vzlist/tar/stat run by that server.
"""

from __future__ import annotations

import shlex
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.errors import CommandTimeout, HostKeyRefused, NodeUnreachable
from reconciler.node import ssh
from reconciler.node.identity import identity_at
from reconciler.node.observe import observe
from reconciler.node.ssh import SshAccess, SshTarget
from tests.conftest import SshNode

TEMPLATE = "debian-12.0-x86_64-minimal"


def access_to(node: SshNode, *, port: int | None = None, host_key: str | None = None) -> SshAccess:
    server = node.sshd
    target = SshTarget(
        "server", server.host, port or server.port, server.user, host_key or server.host_key,
        None, 2,
    )  # fmt: skip
    return SshAccess(target, ssh_config=node.keys.config)


def _ended(node: SshNode, connections: int) -> bool:
    """Whether `connections` connections have ended, waiting for sshd to log the last one."""
    deadline = time.monotonic() + 20
    while node.sshd.disconnected() < connections and time.monotonic() < deadline:
        time.sleep(0.05)
    return bool(node.sshd.disconnected() == connections)


def _with_tmpdir(node: SshNode, tmpdir: Path) -> None:
    """The node's sshd restarted with TMPDIR=`tmpdir` in its sessions."""
    server = node.sshd
    server.stop()
    config = server.dir / "sshd_config"
    lines = config.read_text().splitlines()
    set_env = [f"{line} TMPDIR={tmpdir}" if line.startswith("SetEnv ") else line for line in lines]
    config.write_text("\n".join(set_env) + "\n")
    server.start()


def test_observing_a_node_is_one_connection_and_two_commands(ssh_node: SshNode) -> None:
    for ctid in ("101", "102"):
        made = ssh_node.node.run("vzctl", "create", ctid, "--ostemplate", TEMPLATE)
        assert made.returncode == 0, made.stderr
    access = access_to(ssh_node)
    observed = observe(access)
    found = {ctid: access.identity(ctid) for ctid in (101, 102)}
    assert str(access.conf_dir) == str(ssh_node.node.dir / "conf")  # learnt with the configs
    workdir = access._workdir()
    access.close()
    assert sorted(observed.containers) == [101, 102]
    private = ssh_node.node.dir / "private"
    assert found == {ctid: identity_at(str(private / str(ctid))) for ctid in (101, 102)}
    assert ssh_node.sshd.accepted() == 1
    assert ssh_node.sshd.sessions() == 2  # vzlist, the config dir and its tar; stat/lsattr
    assert _ended(ssh_node, 1), "close() left the master connection open"
    assert not workdir.exists()


def test_a_second_observation_by_the_same_access_is_one_command(ssh_node: SshNode) -> None:
    """As a controller's cycles do: the private areas the last configs named are sent with the
    next listing, so the identities come back with it, where the configs still name them."""
    for ctid in ("101", "102"):
        made = ssh_node.node.run("vzctl", "create", ctid, "--ostemplate", TEMPLATE)
        assert made.returncode == 0, made.stderr
    private = ssh_node.node.dir / "private"
    access = access_to(ssh_node)
    try:
        observe(access)
        first = {ctid: access.identity(ctid) for ctid in (101, 102)}
        access.close()  # the end of a cycle
        assert ssh_node.sshd.sessions() == 2
        made = ssh_node.node.run("vzctl", "destroy", "101")  # and made again: a new inode
        assert made.returncode == 0, made.stderr
        made = ssh_node.node.run("vzctl", "create", "101", "--ostemplate", TEMPLATE)
        assert made.returncode == 0, made.stderr
        (private / "102").rename(private / "elsewhere")  # the same inode, another path
        moved = ssh_node.node.run(
            "vzctl", "set", "102", "--private", str(private / "elsewhere"), "--save"
        )
        assert moved.returncode == 0, moved.stderr
        observe(access)
        now = {ctid: access.identity(ctid) for ctid in (101, 102)}
        assert now[101] == identity_at(str(private / "101")) != first[101]
        assert now[102] == first[102] == identity_at(str(private / "elsewhere"))
        # 102's config names another path than the listing was sent: asked for on its own
        assert ssh_node.sshd.sessions() == 4
        access.close()
        observe(access)
        assert {ctid: access.identity(ctid) for ctid in (101, 102)} == now
        assert ssh_node.sshd.sessions() == 5  # nothing moved: the listing alone
    finally:
        access.close()
    assert ssh_node.sshd.accepted() == 3  # a connection a cycle


def test_identities_of_more_paths_than_one_command_line_holds_come_in_batches(
    ssh_node: SshNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linux refuses an argument over 128 KiB, and the remote command is one (to ssh here, to
    `sh -c` there): thousands of private areas do not go in one command. Three do not fit a
    budget of two."""
    private = ssh_node.node.dir / "private"
    monkeypatch.setattr(ssh, "COMMAND_BUDGET", 2 * (len(shlex.quote(str(private / "101"))) + 1))
    for ctid in ("101", "102", "103"):
        made = ssh_node.node.run("vzctl", "create", ctid, "--ostemplate", TEMPLATE)
        assert made.returncode == 0, made.stderr
    access = access_to(ssh_node)
    try:
        for cycle in (1, 2):  # the second listing goes without paths: they do not fit either
            observe(access)
            found = {ctid: access.identity(ctid) for ctid in (101, 102, 103)}
            assert found == {c: identity_at(str(private / str(c))) for c in (101, 102, 103)}
            assert ssh_node.sshd.sessions() == cycle * 3  # the listing; two batches of stat
            access.close()
    finally:
        access.close()


@pytest.mark.parametrize("budget", [1, 30, 100, 10_000])
def test_batches_keep_every_path_once_in_order_and_under_the_budget(
    budget: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ssh, "COMMAND_BUDGET", budget)
    paths = {ctid: f"/vz/private/{ctid}" + (" x" if ctid % 3 else "") for ctid in range(1, 40)}
    batches = list(ssh._batches(paths))
    assert [ctid for batch in batches for ctid in batch] == list(paths)
    for batch in batches:
        assert len(batch) == 1 or sum(len(shlex.quote(p)) + 1 for p in batch.values()) <= budget
    assert ssh._fits({1: "/a"}) == (budget >= 3)


def test_a_listing_keeps_vzlist_apart_from_the_configs_sent_with_it(ssh_node: SshNode) -> None:
    made = ssh_node.node.run("vzctl", "create", "101", "--ostemplate", TEMPLATE)
    assert made.returncode == 0, made.stderr
    tmp = ssh_node.node.dir / "tmp"
    tmp.mkdir()
    _with_tmpdir(ssh_node, tmp)
    access = access_to(ssh_node)
    try:
        failed = access.listing(["vzlist", "-a", "-o", "nosuchfield"])
        assert failed.code != 0 and failed.stdout == ""
        assert "nosuchfield" in failed.stderr  # vzlist's own message, not tar's
        assert [ctid for ctid, _ in access.config_texts()] == [101]  # sent with the listing
        assert ssh_node.sshd.sessions() == 1
        listed = access.listing(["vzlist", "-a", "-H", "-o", "ctid"])
        assert (listed.code, listed.stdout.split(), listed.stderr) == (0, ["101"], "")
        access.run(["vzctl", "destroy", "101"])  # what the listing sent is stale now
        assert list(access.config_texts()) == []
        assert ssh_node.sshd.sessions() == 4
        assert list(tmp.iterdir()) == []  # each listing removed what it kept on the node
    finally:
        access.close()


def test_a_node_without_a_writable_tmp_is_observed_in_separate_commands(
    ssh_node: SshNode,
) -> None:
    made = ssh_node.node.run("vzctl", "create", "101", "--ostemplate", TEMPLATE)
    assert made.returncode == 0, made.stderr
    _with_tmpdir(ssh_node, ssh_node.node.dir / "no-such-tmp")
    access = access_to(ssh_node)
    try:
        observed = observe(access)
    finally:
        access.close()
    assert sorted(observed.containers) == [101]
    assert observed.containers[101].status == "stopped"
    assert ssh_node.sshd.sessions() == 3  # the listing that could not start; vzlist; the configs


def test_a_first_command_that_outlasts_its_timeout_is_a_command_timeout(
    ssh_node: SshNode,
) -> None:
    access = access_to(ssh_node)
    try:
        with pytest.raises(CommandTimeout, match=r"node server .*sleep 30: no answer after 1s"):
            access.run(["sleep", "30"], timeout=1)
        assert access.run(["true"]).code == 0  # the master it opened is still there
    finally:
        access.close()
    assert ssh_node.sshd.accepted() == 1
    assert _ended(ssh_node, 1)


def test_a_host_key_that_does_not_match_is_refused_before_anything_is_sent(
    ssh_node: SshNode,
) -> None:
    forged = " ".join(ssh_node.keys.public.split()[:2])  # an ed25519 key, not the server's
    access = access_to(ssh_node, host_key=forged)
    try:
        with pytest.raises(HostKeyRefused, match="node server"):
            access.run(["vzlist", "-a"])
    finally:
        access.close()
    assert ssh_node.sshd.accepted() == 0


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says anything (no ssh banner)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()
        for conn in held:
            conn.close()


@pytest.mark.parametrize(
    ("where", "timeout", "said"),
    [
        ("nothing listening", 60, "cannot be reached over ssh"),
        ("no ssh banner", 60, "cannot be reached over ssh"),  # ssh's ConnectTimeout (2s)
        ("no ssh banner", 1, "no ssh connection after 1s"),  # the first command's own timeout
    ],
)
def test_a_node_that_cannot_be_reached_is_node_unreachable(
    where: str, timeout: float, said: str, ssh_node: SshNode, silent_port: int
) -> None:
    if where == "nothing listening":
        with socket.create_server(("127.0.0.1", 0)) as probe:
            port = int(probe.getsockname()[1])  # closed again: nothing listens there
    else:
        port = silent_port
    access = access_to(ssh_node, port=port)
    try:
        with pytest.raises(NodeUnreachable, match=f"node server .*{said}"):
            access.run(["vzlist", "-a"], timeout=timeout)
    finally:
        access.close()
