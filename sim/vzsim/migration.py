"""One run of the simulated `vzmigrate`: its state, and the checks before anything moves.

`vzsim.vzmigrate` builds a `Migration` and runs `check` (4.x's order, ../shared/openvz/
REFERENCE.md section 10.1): the container exists on the source (10) and, for `--online`, runs
(2); the destination answers over ssh (4), its vzctl runs (14) and does not know the CTID (9);
its vz.conf gives VE_ROOT/VE_PRIVATE (19, read through `cat`: the sim's /etc/vz/vz.conf sits
beside the conf dir its sessions get as VZGITOPS_VZ_CONF_DIR); the container's IPs are not on a
running container there (12, from its vzlist: the sim's /proc/vz/veip). A failed step raises
`Fail` with 4.x's exit code and messages.
"""

from __future__ import annotations

import os
import sys

from reconciler.vzexit import VzmigrateExit
from vzsim import ctconf, migrateopts
from vzsim.layout import Node
from vzsim.migssh import Link

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable

    Done = subprocess.CompletedProcess[str]

E = VzmigrateExit


class Fail(Exception):
    """A step failed: exit with `code` after undoing what was done."""

    def __init__(self, code: int, *messages: str) -> None:
        super().__init__(messages[0] if messages else "")
        self.code, self.messages = code, messages


class Crash(Exception):
    """An injected `after-start` fault: end now, undoing nothing, the lock file left behind."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Remote:
    """What vzmigrate learns about the destination."""

    def __init__(self) -> None:
        self.conf_dir = self.root = self.private = ""


class Migration:
    """One vzmigrate run of one container."""

    def __init__(self, node: Node, opts: migrateopts.Options) -> None:
        self.node, self.opts = node, opts
        self.veid = -1
        self.link = Link(node.root, opts.host, opts.ssh, opts.ssh_mux)
        self.state: list[str] = []
        self.cfg = ctconf.Config(0, {})
        self.remote = Remote()
        self.undo: list[Callable[[], None]] = []

    def info(self, message: str) -> None:
        sys.stdout.write(message + "\n")
        sys.stdout.flush()

    def debug(self, message: str) -> None:
        if self.opts.verbose:
            self.info(f"   {message}")

    def shown(self, out: str, err: str) -> None:
        """logexec 2: a command's output, printed in verbose mode only."""
        if self.opts.verbose:
            sys.stdout.write(out)
            sys.stderr.write(err)

    def vzctl(self, *args: str) -> int:
        """The source node's own vzctl, with --skiplock (vzmigrate holds the lock); its output
        shown in verbose mode."""
        rc, out, err = self.local_vzctl("--skiplock", *args)
        self.shown(out, err)
        return rc

    def local_vzctl(self, *args: str) -> tuple[int, str, str]:
        """`bin/vzctl ARGS` run in this process: the same code and oplog line as the executable,
        without a process start (on a busy 2-core machine the largest fixed cost of a move)."""
        import io

        from vzsim import vzctl

        out, err, saved = io.StringIO(), io.StringIO(), (sys.stdout, sys.stderr)
        sys.stdout, sys.stderr = out, err
        try:
            rc = vzctl.main([os.path.join(self.node.root, "bin", "vzctl"), *args], self.node.root)
        finally:
            sys.stdout, sys.stderr = saved
        return rc, out.getvalue(), err.getvalue()

    def remote_ok(self, *argv: str) -> bool:
        done = self.link.run(argv)
        self.shown(done.stdout, done.stderr)
        return done.returncode == 0

    @property
    def running(self) -> bool:
        return self.state[4:5] == ["running"]

    @property
    def mounted(self) -> bool:
        return self.state[3:4] == ["mounted"]


def error(message: str) -> None:
    sys.stderr.write(f"Error: {message}\n")
    sys.stderr.flush()


def _check_source(m: Migration) -> None:
    m.state = m.local_vzctl("--skiplock", "--quiet", "status", str(m.veid))[1].split()
    if m.state[2:3] != ["exist"]:
        raise Fail(E.NOEXIST, f"CT #{m.veid} doesn't exist")
    if m.opts.online and not m.running:
        raise Fail(E.VPS_IS_STOPPED, "Can't perform live migration of a stopped container")
    verb = "Checking" if m.opts.dry_run else "Starting"
    kind = "live migration" if m.opts.online else "migration"
    m.info(f"{verb} {kind} of CT {m.veid} to {m.opts.host}")


def _check_connect(m: Migration) -> None:
    m.link.wait_master()
    if not m.remote_ok("/bin/true"):
        raise Fail(
            E.CANT_CONNECT,
            "Can't connect to destination address using public key",
            "Please put your public key to destination node",
        )


def _check_destination(m: Migration, status: Done) -> None:
    """`vzctl --quiet status CTID` there: OpenVZ must answer (14) without the CTID (9)."""
    words = status.stdout.split()
    if status.returncode != 0 or words[:2] != ["CTID", str(m.veid)]:
        m.shown(status.stdout, status.stderr)
        raise Fail(
            E.OVZ_NOT_RUNNING,
            "OpenVZ is not running on the target machine",
            "Can't continue migration",
        )
    if words[2:3] == ["exist"]:
        raise Fail(E.EXISTS, f"CT #{m.veid} already exists on destination node")


def _remote_paths(m: Migration, where: Done) -> None:
    """The destination's conf dir (its VZGITOPS_VZ_CONF_DIR: the sim's /etc/vz/conf) and its
    vz.conf's VE_ROOT/VE_PRIVATE for this CTID (19 when they cannot be read)."""
    m.debug("Getting remote VE_ROOT and VE_PRIVATE")
    conf_dir = where.stdout.strip()
    vzconf = m.link.run(["cat", os.path.join(os.path.dirname(conf_dir), "vz.conf")])
    values = ctconf.Config(m.veid, ctconf.parse_config(vzconf.stdout, "vz.conf", None))
    root, private = values.path("VE_ROOT"), values.path("VE_PRIVATE")
    if not conf_dir or vzconf.returncode != 0 or not root or not private:
        raise Fail(E.CANT_READ_REMOTE_CONFIG, "Failed to get remote VE_ROOT/VE_PRIVATE")
    m.remote.conf_dir, m.remote.root, m.remote.private = conf_dir, root, private
    for key, there in (("VE_PRIVATE", private), ("VE_ROOT", root)):
        if m.cfg.path(key) != there:
            m.info(f"Remote {key} path differs from local {m.veid}.conf")
            m.info(f"Using {there} for syncing")


def _check_ips(m: Migration, ips: list[str], listed: Done | None) -> None:
    """The container's addresses must not be on a running container there (/proc/vz/veip)."""
    if listed is None:
        return
    m.debug(f"Checking IPs on destination node: {' '.join(ips)}")
    used = {ip.partition("/")[0] for ip in listed.stdout.split()}
    if used.intersection(ips):
        raise Fail(E.IP_IN_USE, "IP address(es) already in use on destination node")


def check(m: Migration) -> None:
    """4.x's checks in 4.x's order; the destination's three reads run side by side."""
    _check_source(m)
    _check_connect(m)
    cfg = m.node.config(m.veid)
    m.cfg = cfg if cfg is not None else m.cfg
    ips = [ip.partition("/")[0] for ip in m.cfg.ips()]
    status = m.link.spawn(["vzctl", "--quiet", "status", str(m.veid)])
    where = m.link.spawn(["printenv", "VZGITOPS_VZ_CONF_DIR"])
    listed = m.link.spawn(["vzlist", "-H", "-o", "ip"]) if ips else None
    try:
        _check_destination(m, m.link.collect(status))
        _remote_paths(m, m.link.collect(where))
        _check_ips(m, ips, m.link.collect(listed) if listed else None)
    finally:
        for started in (status, where, listed):
            if started is not None:
                started.communicate()
