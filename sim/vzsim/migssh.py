"""How the simulated `vzmigrate` reaches the destination node: ssh, scp and rsync, as argument
lists.

`NODE/etc/ssh_config` plays the source node's /root/.ssh/config (identity, known hosts, host
aliases; `vzsim.sshd.write_client_config` writes it for tests, the demo and the benchmarks);
without it ssh reads no config at all. Every remote command is an argument list; ssh hands it to
the remote shell as one line, so each word is quoted here (what 4.x's shell script leaves to
luck). `--ssh=OPTS` words go to every ssh and, through `rsync -e`, to rsync's. `--ssh-mux`
opens one master connection (`ssh -M -f -N`, as 4.x's option) that every later call reuses.
"""

from __future__ import annotations

import os
import subprocess

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

# 4.x: RSYNC_OPTIONS="-aHAX --delete --numeric-ids", plus --sparse on the first pass for simfs.
RSYNC = ("rsync", "-aHAX", "--delete", "--numeric-ids")
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_")


class LinkError(Exception):
    """A value cannot be passed to the remote side safely."""


def quote(word: str) -> str:
    """The word as one word of a POSIX shell command line (shlex.quote, without importing re)."""
    if word and set(word) <= _SAFE:
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


def _rsync_word(word: str) -> str:
    """One word of rsync's `-e` command, which rsync splits on spaces and single/double quotes."""
    if "'" in word or '"' in word or "\\" in word or any(ord(c) < 32 for c in word):
        raise LinkError(f"cannot pass {word!r} to rsync -e")
    return f"'{word}'" if " " in word else word


class Link:
    """ssh/scp/rsync to `[user@]host`. 4.x always connects as `root@host`; without a user the
    simulator leaves it to the ssh config (`User`, as write_client_config writes it) or to ssh's
    default, the user running vzmigrate (root on a node), so tests also run as another user."""

    def __init__(self, node_root: str, host: str, ssh_opts: Sequence[str], mux: bool) -> None:
        config = os.path.join(node_root, "etc", "ssh_config")
        self.dest = host
        self.ssh = ["ssh", "-F", config if os.path.isfile(config) else "/dev/null"]
        self.ssh += ["-o", "BatchMode=yes", *ssh_opts]
        self.socket = ""
        if mux:
            # 4.x's /tmp/.vzmigrate-ssh-PID-HOST-CTID: a node's own dir can be too long a path
            # for a unix socket (108 bytes)
            name = f".vzmigrate-ssh-{os.getpid()}-{host.rpartition('@')[2]}"
            self.socket = os.path.join("/tmp", name)  # noqa: S108
            self.ssh += ["-o", f"ControlPath={self.socket}"]
        self.opening: subprocess.Popen[bytes] | None = None
        self.master = False

    def open_master(self) -> None:
        """--ssh-mux: start the master connection (`-f`: its first process exits once logged
        in); vzmigrate checks the source container meanwhile. 4.x starts it in the background
        too; a master that fails only means every call connects anew."""
        if not self.socket:
            return
        self.opening = subprocess.Popen(
            [*self.ssh, "-M", "-f", "-N", "-o", "ControlPersist=no", self.dest],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_master(self) -> None:
        if self.opening is not None:
            self.master = self.opening.wait() == 0
            self.opening = None

    def close_master(self) -> None:
        self.wait_master()
        if not self.master:
            return
        subprocess.run(
            [*self.ssh, "-O", "exit", self.dest],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        self.master = False
        try:  # noqa: SIM105 - contextlib would cost import time on every simulated call
            os.unlink(self.socket)
        except OSError:
            pass

    def run(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """Run one command on the destination; its output captured."""
        return self.collect(self.spawn(argv))

    def spawn(self, argv: Sequence[str]) -> subprocess.Popen[str]:
        """Start one command on the destination (reads that do not depend on each other run
        side by side over one --ssh-mux connection); `collect` waits for it."""
        return subprocess.Popen(
            [*self.ssh, self.dest, *(quote(a) for a in argv)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    @staticmethod
    def collect(started: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
        out, err = started.communicate()
        return subprocess.CompletedProcess(started.args, started.returncode, out, err)

    def scp(self, sources: Sequence[str], target: str) -> subprocess.CompletedProcess[str]:
        """scp local files to the destination's `target` (4.x's config and action scripts).
        `-O`: the scp protocol 4.x's scp spoke (OpenSSH 9 otherwise speaks SFTP); the port
        option is `-P` there, as the script's `sed 's/-p/-P/1'` makes it."""
        options = list(self.ssh[1:])
        for i, word in enumerate(options):
            if word.startswith("-p"):
                options[i] = "-P" + word[2:]
                break
        argv = ["scp", "-O", "-q", *options, *sources, f"{self.dest}:{target}"]
        return subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
        )

    def rsync(
        self, options: Sequence[str], sources: Sequence[str], target: str, quiet: bool
    ) -> subprocess.CompletedProcess[str]:
        """rsync local `sources` to the destination's `target` over this link's ssh."""
        shell = " ".join(_rsync_word(w) for w in self.ssh)
        argv = [*RSYNC, *options, "-e", shell, *sources, f"{self.dest}:{target}"]
        return subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=quiet,
            text=True,
            check=False,
        )
