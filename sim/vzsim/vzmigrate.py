"""The simulated `vzmigrate` (vzctl 4.x bin/vzmigrate.in): `main(argv, state_dir)`.

`DIR/bin/vzmigrate` calls this in a fresh process on the source node; it really reaches the
destination over ssh (`vzsim.migssh`). The steps, messages and exit codes are 4.x's
(../shared/openvz/REFERENCE.md section 10.1; `reconciler.vzexit.VzmigrateExit`): lock
`LOCKDIR/CTID.lck` with O_EXCL (exit 20 if it exists, dead pid or not: vzmigrate has no
stale-lock detection; the next locking vzctl call on the container removes a stale one), the
checks of `vzsim.migration` (`--dry-run` stops after them), then the config goes over (scp;
`vzctl set --private --root --save` and `--applyconfig_map name` there), the private area is
synced (rsync) with the container running, a running container is stopped (8) and synced
again, started on the destination (7), and destroyed on the source (`-r yes`) or its config
renamed to CTID.conf.migrated (`-r no`). A failure undoes what was done, in reverse, as the
script's undo_* chain: the destination loses the config, root and private area (the private
area stays with `--keep-dst`), the source container is started (or mounted) again.

What the simulated node cannot do, it says: no vzquota (the quota steps are skipped), no
checkpointing (`--online` stops the container for the second pass and starts it on the
destination). Faults (`vzgitops sim fault --verb migrate [--step S]`): without a step the call
fails before the lock; `before-copy` fails after the checks, `after-copy` after the last sync
(as a failed start: everything is undone), `after-start` after the destination started it, where
the script has nothing to undo: the process ends as if killed (source config, private area and
lock file left behind). `--hang` at a step says so on stderr and sleeps there until killed.
"""

from __future__ import annotations

import os
import sys
import time

from vzsim import faults, lock, migrateopts, oplog
from vzsim.layout import Node
from vzsim.migration import Crash, E, Fail, Migration, check, error
from vzsim.migssh import LinkError
from vzsim.output import raw_bytes_ok

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

ACT_SCRIPTS = ("start", "stop", "mount", "umount", "premount", "postumount")


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
        error(f"CT {m.veid} already locked by PID {pid}")
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
        error(f"unexpected PID {pid} in {path} (expecting {os.getpid()})")
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
        error(f"simulated failure{where} (exit {decision.fail}) injected by `vzgitops sim fault`")
    return decision.fail


def _copy(m: Migration, files: Sequence[str], what: str) -> None:
    done = m.link.scp(files, m.remote.conf_dir + "/")
    m.shown(done.stdout, done.stderr)
    if done.returncode != 0:
        raise Fail(E.COPY, f"Failed to copy {what}")


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
        raise Fail(E.APPLY_CONFIG, "Failed to apply config on destination node")
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
        raise Fail(E.COPY, "Failed to make container root directory")
    m.undo.append(lambda: _remote_quiet(m, "rm", "-rf", m.remote.root))
    m.debug("Creating remote container private dir")
    made = m.remote_ok("mkdir", "-p", m.remote.private)
    if not m.opts.keep_dst:
        m.undo.append(lambda: _remote_quiet(m, "rm", "-rf", m.remote.private))
    if not made:
        raise Fail(E.COPY, "Failed to make container private area directory")


def _sync(m: Migration, first: bool) -> None:
    private = m.cfg.path("VE_PRIVATE") or ""
    options = ["--sparse", *m.opts.rsync] if first else list(m.opts.rsync)
    done = m.link.rsync(options, [private + "/"], m.remote.private + "/", quiet=False)
    if done.returncode not in (0, 24):  # 24: files vanished while copying
        raise Fail(E.COPY, "Failed to sync container private areas")


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
            raise Fail(
                E.STOP_SOURCE, f"Failed to {'suspend' if m.opts.online else 'stop'} container"
            )
        m.undo.append(lambda: _restart_source(m, "start"))
    elif m.mounted:
        m.info("Unmounting container")
        if m.vzctl("umount", ct) != 0:
            raise Fail(E.STOP_SOURCE, "Failed to umount container")
        m.undo.append(lambda: _restart_source(m, "mount"))


def _restart_source(m: Migration, verb: str) -> None:
    """undo_stop(): the source container as it was."""
    m.vzctl(verb, str(m.veid))


def _start_remote(m: Migration) -> None:
    if m.running:
        m.info("Starting container")
        if not m.remote_ok("vzctl", "start", str(m.veid)):
            raise Fail(E.START_VPS, "Failed to start container")
    elif m.mounted:
        m.info("Mounting container")
        if not m.remote_ok("vzctl", "mount", str(m.veid)):
            raise Fail(E.START_VPS, "Failed to mount container")


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
    check(m)
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
        error(message)
    while m.undo:
        m.undo.pop()()
    return failure.code


def _run(m: Migration) -> int:
    if not _lock_ct(m):
        return E.LOCKED
    rc = 0
    m.link.open_master()
    try:
        _migrate(m)
    except Fail as failure:
        rc = _rollback(m, failure)
    except (LinkError, OSError) as exc:  # a path ssh cannot carry; a missing ssh, scp, rsync
        rc = _rollback(m, Fail(E.COPY, str(exc)))
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
        error(f"Can't read global config file {node.vz_conf}")
        return E.NOEXIST
    m = Migration(node, opts)
    m.veid = _veid(node, opts.ct)
    if m.veid < 0:
        return E.NOEXIST
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
