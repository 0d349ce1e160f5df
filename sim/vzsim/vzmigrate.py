"""The simulated `vzmigrate` (vzctl 4.x bin/vzmigrate.in): `main(argv, state_dir)`.

`DIR/bin/vzmigrate` calls this in a fresh process on the source node; it really reaches the
destination over ssh (`vzsim.migssh`). The steps, messages and exit codes are 4.x's
(../shared/openvz/REFERENCE.md section 10.1): lock `LOCKDIR/CTID.lck` with O_EXCL (exit 20 if
it exists, dead pid or not: vzmigrate has no stale-lock detection, the next vzctl call on the
container removes a stale one), the container must exist (10), connect (4), the destination's
vzctl must run (14) and not know the CTID (9), its vz.conf must give VE_ROOT/VE_PRIVATE (19),
the container's IPs must not be on a running container there (12); `--dry-run` stops there.
Then the config goes over (scp; `vzctl set --private --root --save` and `--applyconfig_map
name` there), the private area is synced (rsync) with the container running, a running container is
stopped (8) and synced again, started on the destination (7), and destroyed on the source
(`-r yes`) or its config renamed to CTID.conf.migrated (`-r no`). A failure undoes what was done,
in reverse, as the script's undo_* chain: the destination loses the config, root and private
area (the private area stays with `--keep-dst`), the source container is started again.

What the simulated node cannot do, it says: no vzquota (the quota steps are skipped), no
checkpointing (`--online` stops the container for the second pass and starts it on the
destination). Faults (`vzgitops sim fault --verb migrate [--step S]`): without a step the call
fails before the lock; `before-copy` fails after the checks, `after-copy` after the last sync
(as a failed start: everything is undone), `after-start` after the destination started it, where
the script has nothing to undo: the process ends as if killed (source config, private area and
lock file left behind). `--hang` at a step sleeps there until killed.
"""

from __future__ import annotations

import os
import sys
import time

from vzsim import ctconf, faults, lock, migrateopts, oplog
from vzsim.layout import Node
from vzsim.migssh import Link, LinkError
from vzsim.output import raw_bytes_ok

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

ERR_STOPPED, ERR_CONNECT, ERR_COPY, ERR_START, ERR_STOP = 2, 4, 6, 7, 8
ERR_EXISTS, ERR_NOEXIST, ERR_IP_IN_USE, ERR_OVZ, ERR_APPLY = 9, 10, 12, 14, 15
ERR_REMOTE_CONFIG, ERR_LOCKED = 19, 20
ACT_SCRIPTS = ("start", "stop", "mount", "umount", "premount", "postumount")


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
        """The source node's own vzctl, with --skiplock (vzmigrate holds the lock)."""
        import subprocess

        argv = [os.path.join(self.node.root, "bin", "vzctl"), "--skiplock", *args]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        self.shown(done.stdout, done.stderr)
        return done.returncode

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


def _error(message: str) -> None:
    sys.stderr.write(f"Error: {message}\n")
    sys.stderr.flush()


def _veid(node: Node, given: str) -> int:
    """A CTID, or the one `vzlist -o ctid -H NAME` names (its error on stderr); -1 if none."""
    if given.isdigit():
        return int(given)
    import subprocess

    argv = [os.path.join(node.root, "bin", "vzlist"), "-o", "ctid", "-H", given]
    done = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=False)
    found = done.stdout.strip()
    return int(found) if found.isdigit() else -1


def _lock_ct(m: Migration) -> bool:
    """lock_ct(): `echo $$ > LOCKDIR/CTID.lck` under noclobber."""
    path = lock.lock_path(m.node.lock_dir, m.veid)
    os.makedirs(m.node.lock_dir, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        pid = _read(path).strip()
        _error(f"CT {m.veid} already locked by PID {pid}")
        return False
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{os.getpid()}\n")
    m.info(f"Locked CT {m.veid}")
    return True


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def _unlock(m: Migration) -> None:
    """undo_lock(): remove the lock file if it still names this process."""
    path = lock.lock_path(m.node.lock_dir, m.veid)
    pid = _read(path).strip()
    if pid != str(os.getpid()):
        _error(f"unexpected PID {pid} in {path} (expecting {os.getpid()})")
        return
    lock.release(m.node.lock_dir, m.veid)


def _fault(m: Migration, step: str | None) -> int | None:
    """The exit status an injected `migrate` fault asks for here (after its delay), or None."""
    decision = faults.decide(m.node.faults_path, "migrate", m.veid, step)
    if decision is None:
        return None
    if decision.latency:
        time.sleep(decision.latency)
    where = f" at {step}" if step else ""
    if decision.hang:
        sys.stderr.write(f"vzmigrate: hanging{where} (injected by `vzgitops sim fault`)\n")
        sys.stderr.flush()
    while decision.hang:
        time.sleep(3600)
    if decision.fail is not None:
        _error(f"simulated failure{where} (exit {decision.fail}) injected by `vzgitops sim fault`")
    return decision.fail


def _check_source(m: Migration) -> None:
    import subprocess

    argv = [os.path.join(m.node.root, "bin", "vzctl"), "--skiplock", "--quiet", "status"]
    done = subprocess.run([*argv, str(m.veid)], capture_output=True, text=True, check=False)
    m.state = done.stdout.split()
    if m.state[2:3] != ["exist"]:
        raise Fail(ERR_NOEXIST, f"CT #{m.veid} doesn't exist")
    if m.opts.online and not m.running:
        raise Fail(ERR_STOPPED, "Can't perform live migration of a stopped container")
    verb = "Checking" if m.opts.dry_run else "Starting"
    kind = "live migration" if m.opts.online else "migration"
    m.info(f"{verb} {kind} of CT {m.veid} to {m.opts.host}")


def _check_connect(m: Migration) -> None:
    m.link.open_master()
    if not m.remote_ok("/bin/true"):
        raise Fail(
            ERR_CONNECT,
            "Can't connect to destination address using public key",
            "Please put your public key to destination node",
        )


def _check_destination(m: Migration) -> None:
    """`vzctl --quiet status CTID` there: OpenVZ must answer (14) without the CTID (9)."""
    done = m.link.run(["vzctl", "--quiet", "status", str(m.veid)])
    words = done.stdout.split()
    if done.returncode != 0 or words[:2] != ["CTID", str(m.veid)]:
        m.shown(done.stdout, done.stderr)
        raise Fail(
            ERR_OVZ, "OpenVZ is not running on the target machine", "Can't continue migration"
        )
    if words[2:3] == ["exist"]:
        raise Fail(ERR_EXISTS, f"CT #{m.veid} already exists on destination node")


def _remote_paths(m: Migration) -> None:
    """The destination's conf dir (its VZGITOPS_VZ_CONF_DIR: the sim's /etc/vz/conf) and its
    vz.conf's VE_ROOT/VE_PRIVATE for this CTID (19 when they cannot be read)."""
    m.debug("Getting remote VE_ROOT and VE_PRIVATE")
    where = m.link.run(["printenv", "VZGITOPS_VZ_CONF_DIR"])
    conf_dir = where.stdout.strip()
    vzconf = m.link.run(["cat", os.path.join(os.path.dirname(conf_dir), "vz.conf")])
    values = ctconf.Config(m.veid, ctconf.parse_config(vzconf.stdout, "vz.conf", None))
    root, private = values.path("VE_ROOT"), values.path("VE_PRIVATE")
    if not conf_dir or vzconf.returncode != 0 or not root or not private:
        raise Fail(ERR_REMOTE_CONFIG, "Failed to get remote VE_ROOT/VE_PRIVATE")
    m.remote.conf_dir, m.remote.root, m.remote.private = conf_dir, root, private
    for key, there in (("VE_PRIVATE", private), ("VE_ROOT", root)):
        if m.cfg.path(key) != there:
            m.info(f"Remote {key} path differs from local {m.veid}.conf")
            m.info(f"Using {there} for syncing")


def _check_ips(m: Migration) -> None:
    """The container's addresses must not be on a running container there (/proc/vz/veip)."""
    ips = [ip.partition("/")[0] for ip in m.cfg.ips()]
    if not ips:
        return
    m.debug(f"Checking IPs on destination node: {' '.join(ips)}")
    done = m.link.run(["vzlist", "-H", "-o", "ip"])
    used = {ip.partition("/")[0] for ip in done.stdout.split()}
    if used.intersection(ips):
        raise Fail(ERR_IP_IN_USE, "IP address(es) already in use on destination node")


def _check(m: Migration) -> None:
    _check_source(m)
    _check_connect(m)
    _check_destination(m)
    cfg = m.node.config(m.veid)
    m.cfg = cfg if cfg is not None else m.cfg
    _remote_paths(m)
    _check_ips(m)


def _copy(m: Migration, files: Sequence[str], what: str) -> None:
    done = m.link.scp(files, m.remote.conf_dir + "/")
    m.shown(done.stdout, done.stderr)
    if done.returncode != 0:
        raise Fail(ERR_COPY, f"Failed to copy {what}")


def _copy_config(m: Migration) -> None:
    m.info("Preparing remote node")
    m.debug("Copying config file")
    conf = m.node.conf_path(m.veid)
    remote_conf = os.path.join(m.remote.conf_dir, f"{m.veid}.conf")
    _copy(m, [conf], "config file")
    m.undo.append(lambda: _undo_conf(m, remote_conf))
    ct = str(m.veid)
    m.remote_ok("vzctl", "set", ct, "--private", m.remote.private, "--root", m.remote.root,
                "--save")  # fmt: skip
    done = m.link.run(["vzctl", "set", ct, "--applyconfig_map", "name", "--save"])
    m.shown(done.stdout, done.stderr)
    if done.returncode not in (0, 20, 21):  # 20/21: a vzctl without the option
        raise Fail(ERR_APPLY, "Failed to apply config on destination node")
    scripts = [f"{conf[: -len('.conf')]}.{s}" for s in ACT_SCRIPTS]
    scripts = [s for s in scripts if os.path.isfile(s)]
    if scripts:
        m.debug("Copying action scripts")
        _copy(m, scripts, "action scripts")
        gone = [os.path.join(m.remote.conf_dir, os.path.basename(s)) for s in scripts]
        m.undo.append(lambda: _remote_quiet(m, "rm", "-f", *gone))


def _undo_conf(m: Migration, remote_conf: str) -> None:
    _remote_quiet(m, "vzctl", "set", str(m.veid), "--name", "", "--save")
    _remote_quiet(m, "rm", "-f", remote_conf)


def _remote_quiet(m: Migration, *argv: str) -> None:
    m.link.run(argv)


def _make_dirs(m: Migration) -> None:
    m.debug("Creating remote container root dir")
    if not m.remote_ok("mkdir", "-p", m.remote.root):
        raise Fail(ERR_COPY, "Failed to make container root directory")
    m.undo.append(lambda: _remote_quiet(m, "rm", "-rf", m.remote.root))
    m.debug("Creating remote container private dir")
    made = m.remote_ok("mkdir", "-p", m.remote.private)
    if not m.opts.keep_dst:
        m.undo.append(lambda: _remote_quiet(m, "rm", "-rf", m.remote.private))
    if not made:
        raise Fail(ERR_COPY, "Failed to make container private area directory")


def _sync(m: Migration, first: bool) -> None:
    private = m.cfg.path("VE_PRIVATE") or ""
    options = ["--sparse", *m.opts.rsync] if first else list(m.opts.rsync)
    done = m.link.rsync(options, [private + "/"], m.remote.private + "/", quiet=False)
    if done.returncode not in (0, 24):  # 24: files vanished while copying
        raise Fail(ERR_COPY, "Failed to sync container private areas")


def _quiesce(m: Migration) -> None:
    """Stop (or, for a mounted one, unmount) the source container for the last pass."""
    ct = str(m.veid)
    if m.running:
        if m.opts.online:
            m.info("Live migrating container...")
            m.info("The simulated kernel cannot checkpoint: stopping the container instead")
        else:
            m.info("Stopping container")
        if m.vzctl("stop", ct) != 0:
            raise Fail(ERR_STOP, f"Failed to {'suspend' if m.opts.online else 'stop'} container")
        m.undo.append(lambda: _restart_source(m, "start"))
    elif m.mounted:
        m.info("Unmounting container")
        if m.vzctl("umount", ct) != 0:
            raise Fail(ERR_STOP, "Failed to umount container")
        m.undo.append(lambda: _restart_source(m, "mount"))


def _restart_source(m: Migration, verb: str) -> None:
    """undo_stop(): the source container as it was."""
    m.vzctl(verb, str(m.veid))


def _start_remote(m: Migration) -> None:
    if m.running:
        m.info("Starting container")
        if not m.remote_ok("vzctl", "start", str(m.veid)):
            raise Fail(ERR_START, "Failed to start container")
    elif m.mounted:
        m.info("Mounting container")
        if not m.remote_ok("vzctl", "mount", str(m.veid)):
            raise Fail(ERR_START, "Failed to mount container")


def _at(m: Migration, step: str, crash: bool = False) -> None:
    code = _fault(m, step)
    if code is not None:
        raise Crash(code) if crash else Fail(code)


def _finish(m: Migration) -> None:
    m.info("Cleaning up")
    if m.opts.remove_area:
        m.debug("Destroying container")
        m.vzctl("destroy", str(m.veid))
    else:
        conf = m.node.conf_path(m.veid)
        os.replace(conf, conf + ".migrated")


def _migrate(m: Migration) -> None:
    _check(m)
    if m.opts.dry_run:
        return
    _at(m, "before-copy")
    _copy_config(m)
    _make_dirs(m)
    m.info("Syncing private")
    _sync(m, first=True)
    _quiesce(m)
    if m.running:
        m.debug("Syncing private (2nd pass)")
        _sync(m, first=False)
    _at(m, "after-copy")
    _start_remote(m)
    m.undo.clear()  # the script has no undo past a started destination
    _at(m, "after-start", crash=True)
    _finish(m)


def _rollback(m: Migration, failure: Fail) -> int:
    for message in failure.messages:
        _error(message)
    while m.undo:
        m.undo.pop()()
    return failure.code


def _run(m: Migration) -> int:
    if not _lock_ct(m):
        return ERR_LOCKED
    rc = 0
    try:
        _migrate(m)
    except Fail as failure:
        rc = _rollback(m, failure)
    except LinkError as exc:
        rc = _rollback(m, Fail(ERR_COPY, str(exc)))
    except Crash as crash:
        return crash.code
    finally:
        m.link.close_master()
    _unlock(m)
    return rc


def _main(argv: list[str], state_dir: str, call: list[int]) -> int:
    opts = migrateopts.parse(list(argv[1:]))
    if isinstance(opts, int):
        return opts
    node = Node(state_dir)
    if not os.access(node.vz_conf, os.R_OK):
        _error(f"Can't read global config file {node.vz_conf}")
        return ERR_NOEXIST
    m = Migration(node, opts)
    m.veid = _veid(node, opts.ct)
    if m.veid < 0:
        return ERR_NOEXIST
    call.append(m.veid)
    code = _fault(m, None)
    return code if code is not None else _run(m)


def main(argv: list[str], state_dir: str) -> int:
    """Run one simulated vzmigrate; returns its exit status."""
    raw_bytes_ok()
    call: list[int] = []
    rc = _main(argv, state_dir, call)
    log = os.path.join(state_dir, "oplog.jsonl")
    oplog.append(log, "vzmigrate", "migrate", call[0] if call else None, list(argv), rc)
    return rc
