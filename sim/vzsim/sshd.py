"""A simulated node reachable over a real OpenSSH server on 127.0.0.1 (tests, demo, benchmarks).

`start(node_root, keys)` runs Debian's `/usr/sbin/sshd` in the foreground on a free loopback
port with its own host key, accepting only the public key in `keys` (real key authentication,
no password, no PAM). Sessions get the node's `bin/` first on PATH and `VZGITOPS_VZ_CONF_DIR`
set to its config dir (sshd's `SetEnv`), so `ssh -p PORT 127.0.0.1 vzctl ...` runs that node's
simulated vzctl, as `ssh server vzctl ...` runs the real one on a real node. One sshd per node;
each port is one node. `SHLVL=1` in the session keeps bash from reading the login user's
~/.bashrc for an ssh command (bash does when SHLVL < 2): a node's root has none, this machine's
may (and at ~0.1 s a connection it dominated every call). `write_client_config` gives a node the
ssh client side its `vzmigrate` uses to reach other nodes.

Not imported by the simulated `vzctl`/`vzlist` (they stay light); only by the test fixtures,
the demo and the benchmarks, which run with the whole environment.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = "/run/sshd"  # Debian's sshd refuses to start without it
ACCEPTED = "Accepted publickey for "  # sshd LogLevel VERBOSE lines
SESSION = "Starting session: "
DISCONNECTED = "Disconnected from user "


class SshdUnavailable(RuntimeError):
    """sshd or ssh-keygen is missing, or sshd would not start; the message says which."""


@dataclass(frozen=True)
class ClientKeys:
    """The client side shared by every simulated node: one key pair and an ssh_config file."""

    dir: Path
    identity: Path
    public: str
    config: Path

    @classmethod
    def create(cls, directory: Path) -> ClientKeys:
        directory.mkdir(parents=True, exist_ok=True)
        identity = directory / "id_ed25519"
        if not identity.exists():
            _keygen(identity)
        config = directory / "ssh_config"
        config.write_text(
            "Host *\n"
            f"    IdentityFile {identity}\n"
            "    IdentitiesOnly yes\n"
            "    BatchMode yes\n"
            "    PasswordAuthentication no\n"
            "    KbdInteractiveAuthentication no\n",
            encoding="utf-8",
        )
        public = (directory / "id_ed25519.pub").read_text(encoding="utf-8").strip()
        return cls(directory, identity, public, config)


@dataclass
class Sshd:
    """One running sshd serving one simulated node."""

    node_root: Path
    dir: Path
    port: int
    host_key: str  # "ssh-ed25519 AAAA..." of this server: what a Node pins
    user: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def log(self) -> Path:
        return self.dir / "sshd.log"

    def known_hosts_line(self) -> str:
        return f"[{self.host}]:{self.port} {self.host_key}"

    def accepted(self) -> int:
        """How many connections this server has authenticated so far (from its log)."""
        return self._logged(ACCEPTED)

    def sessions(self) -> int:
        """How many commands (sessions) it has started so far, over any connection."""
        return self._logged(SESSION)

    def disconnected(self) -> int:
        """How many authenticated connections have ended so far."""
        return self._logged(DISCONNECTED)

    def _logged(self, mark: str) -> int:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return 0
        return text.count(mark)

    def start(self, timeout: float = 15.0) -> None:
        """(Re)start the server on its port with its keys; returns once it accepts connections."""
        if self.process is not None and self.process.poll() is None:
            return
        self.process = subprocess.Popen(
            [SSHD, "-D", "-f", str(self.dir / "sshd_config"), "-E", str(self.log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        _wait_listening(self, timeout)

    def stop(self) -> None:
        """Stop the server and every session it started (a dropped connection, for the client)."""
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        _kill_sessions(self.port)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()

    def drop_sessions(self) -> None:
        """Kill every open session (connections drop) and leave the server listening."""
        _kill_sessions(self.port, keep=self.process.pid if self.process else None)


def write_client_config(node_root: Path, keys: ClientKeys, destinations: dict[str, Sshd]) -> Path:
    """NODE/etc/ssh_config (and etc/known_hosts): what the simulated node's `vzmigrate` reads as
    the source's /root/.ssh/config. Each destination is a `Host NAME` alias (address, port,
    user) with its host key pinned; every host uses the shared client key, no password."""
    etc = node_root / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    known = etc / "known_hosts"
    known.write_text("".join(s.known_hosts_line() + "\n" for s in destinations.values()))
    lines = []
    for name, server in destinations.items():
        lines += [f"Host {name}", f"    HostName {server.host}", f"    Port {server.port}"]
        lines += [f"    User {server.user}"]
    lines += ["Host *", f"    IdentityFile {keys.identity}", "    IdentitiesOnly yes"]
    lines += [
        "    BatchMode yes",
        "    PasswordAuthentication no",
        f"    UserKnownHostsFile {known}",
    ]
    lines += ["    StrictHostKeyChecking yes", "    KbdInteractiveAuthentication no"]
    config = etc / "ssh_config"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def available() -> str | None:
    """None when sshd can run here, else why not (the tests that need it fail with this)."""
    for tool in (SSHD, shutil.which("ssh-keygen"), shutil.which("ssh")):
        if tool is None or not os.access(tool, os.X_OK):
            return f"{tool or 'ssh/ssh-keygen'} is missing: install Debian's openssh-server"
    return None


def start(node_root: Path, keys: ClientKeys, directory: Path | None = None) -> Sshd:
    """A running sshd for the simulated node at `node_root` (its files under `directory`)."""
    why = available()
    if why is not None:
        raise SshdUnavailable(why)
    _privsep_dir()
    directory = directory or node_root / "sshd"
    directory.mkdir(parents=True, exist_ok=True)
    host_key = directory / "ssh_host_ed25519_key"
    if not host_key.exists():
        _keygen(host_key)
    (directory / "authorized_keys").write_text(keys.public + "\n", encoding="utf-8")
    last: Exception | None = None
    for _ in range(5):  # a free port can be taken between probing and binding
        server = Sshd(
            node_root=node_root,
            dir=directory,
            port=_free_port(),
            host_key=_public_key(host_key),
            user=getpass.getuser(),
        )
        _write_config(server, host_key)
        try:
            server.start()
            return server
        except SshdUnavailable as exc:
            server.stop()
            last = exc
    raise SshdUnavailable(f"sshd would not start: {last}")


def _write_config(server: Sshd, host_key: Path) -> None:
    root = server.node_root
    path = f"{root / 'bin'}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
    lines = [
        f"Port {server.port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {host_key}",
        f"PidFile {server.dir / 'sshd.pid'}",
        f"AuthorizedKeysFile {server.dir / 'authorized_keys'}",
        f"AllowUsers {server.user}",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "PermitRootLogin prohibit-password",
        "PermitUserEnvironment no",
        "MaxStartups 200:30:400",
        "MaxSessions 64",
        "LogLevel VERBOSE",
        f"SetEnv PATH={path} VZGITOPS_VZ_CONF_DIR={root / 'conf'} SHLVL=1",
    ]
    (server.dir / "sshd_config").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _keygen(path: Path) -> None:
    done = subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vzsim", "-f", str(path)],
        capture_output=True,
        check=False,
        timeout=30,
    )
    if done.returncode != 0:
        raise SshdUnavailable(f"ssh-keygen failed: {done.stderr.decode(errors='replace')}")


def _public_key(private: Path) -> str:
    text = Path(f"{private}.pub").read_text(encoding="utf-8").split()
    return f"{text[0]} {text[1]}"


def _privsep_dir() -> None:
    try:
        os.makedirs(PRIVSEP_DIR, mode=0o755, exist_ok=True)
    except OSError as exc:
        raise SshdUnavailable(f"cannot create {PRIVSEP_DIR}: {exc.strerror}") from exc


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_listening(server: Sshd, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process = server.process
        if process is not None and process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            log = server.log.read_text(errors="replace") if server.log.exists() else ""
            raise SshdUnavailable(f"sshd exited {process.returncode}: {(err + log).strip()}")
        with contextlib.suppress(OSError), socket.create_connection((server.host, server.port), 1):
            return
        time.sleep(0.02)
    raise SshdUnavailable(f"sshd did not listen on port {server.port} within {timeout:g}s")


def _kill_sessions(port: int, keep: int | None = None) -> None:
    """SIGKILL the sshd processes serving `port` (found through /proc), but `keep`."""
    for pid in _session_pids(port):
        if pid == keep:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _session_pids(port: int) -> list[int]:
    """Per-connection sshd processes: children of the listener whose config names `port`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline and cmdline[0].startswith(b"sshd:") and _serves(int(entry), port):
            found.append(int(entry))
    return found


def _serves(pid: int, port: int) -> bool:
    """Whether process `pid` holds a TCP socket on local port `port` (from /proc/net/tcp)."""
    inodes = _socket_inodes(pid)
    if not inodes:
        return False
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[9] in inodes:
            return True
    return False


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    return inodes
