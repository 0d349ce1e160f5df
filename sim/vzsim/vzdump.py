"""The simulated `vzdump` (vzdump 1.2 for OpenVZ): `main(argv, state_dir)`.

`DIR/bin/vzdump` calls this in a fresh process. Per ../shared/openvz/REFERENCE.md section 11
and the vzdump 1.2 job flow: one job at a time per node (the global lock `DIR/run/vzdump.lock`,
waited on for `--lockwait` minutes), then per container: the vzctl lock `LOCKDIR/CTID.lck`
(so a dump and a vzctl call on the same container exclude each other), the backup mode, the
archive written as `.dat` and renamed, `--maxfiles` purge, the log `BASENAME.log`, and
`INFO:`/`ERROR:` lines on stdout. What a simfs node without LVM or checkpointing cannot do,
it refuses as vzdump would there: `snapshot` of a running container reports the mode failure
and falls back to `suspend`, whose `vzctl chkpnt --suspend` the node does not support. The
container lock is tried 5 times 0.1 s apart (vzdump's LockFile::Simple: 30 times 2 s apart),
so tests never wait a minute. Exit status 0, or 255 ("job errors") if any container failed,
or the exit code of a fault injected with `vzgitops sim fault --verb vzdump`.
"""

from __future__ import annotations

import os
import sys
import time

from vzsim import dumpfile, dumpopts, faults, kernel, lock, oplog
from vzsim.layout import Node
from vzsim.output import raw_bytes_ok

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

_LOCK_TRIES, _LOCK_DELAY = 5, 0.1
_STDEXCLUDES = ("./tmp/", "./var/tmp/")


class TaskError(Exception):
    """One container's backup failed; `code` is an injected fault's exit status, if any."""

    def __init__(self, message: str, code: int = 255) -> None:
        super().__init__(message)
        self.code = code


class Task:
    """One container's backup: its names, its log lines, what to undo."""

    def __init__(self, job: Job, veid: int) -> None:
        self.job, self.veid = job, veid
        self.started = time.time()
        base = os.path.join(job.dumpdir, dumpfile.basename(veid, self.started))
        self.archive = base + dumpfile.extension(job.opts.compress)
        self.tmp, self.logfile = base + ".dat", base + ".log"
        self.lines: list[str] = []
        self.locked = self.restart = False

    def info(self, message: str) -> None:
        self.say("INFO:", message)

    def say(self, tag: str, message: str) -> None:
        stamp = time.strftime("%b %d %H:%M:%S", time.localtime())
        for line in message.splitlines():
            self.lines.append(f"{stamp} {tag} {line}\n")
            self.job.out(f"{tag} {line}")


class Job:
    """One vzdump invocation."""

    def __init__(self, node: Node, opts: dumpopts.Options, argv: list[str]) -> None:
        self.node, self.opts, self.argv = node, opts, argv
        self.dumpdir = opts.dumpdir or node.dump_dir

    def out(self, line: str) -> None:
        if not self.opts.quiet:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def vzctl(self, task: Task, *args: str) -> int:
        """Run the node's own vzctl with --skiplock (vzdump holds the lock); log its output."""
        import subprocess

        argv = [os.path.join(self.node.root, "bin", "vzctl"), "--skiplock", *args]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        for line in (done.stdout + done.stderr).splitlines():
            task.info(line)
        return done.returncode


def _vmlist(node: Node) -> list[int]:
    """read_vz_list(): the CTIDs with a `CTID.conf` of at least three digits."""
    try:
        names = os.listdir(node.conf_dir)
    except OSError:
        return []
    ids = [n[: -len(".conf")] for n in names if n.endswith(".conf")]
    return sorted(int(i) for i in ids if i.isdigit() and len(i) >= 3)


def _status(node: Node, veid: int) -> tuple[bool, str]:
    record = kernel.load(node, veid)
    running = kernel.is_running(record)
    mounted = "mounted" if record is not None else "unmounted"
    return running, f"CTID {veid} exist {mounted} {'running' if running else 'down'}"


def _fault(task: Task) -> faults.Decision:
    decision = faults.decide(task.job.node.faults_path, "vzdump", task.veid) or faults.Decision()
    if decision.fail is not None:
        raise TaskError(
            f"simulated failure (exit {decision.fail}) injected by `vzgitops sim fault`",
            decision.fail,
        )
    return decision


def _lock(task: Task) -> None:
    """lock_vm(): the vzctl lock file, retried a few times, else "can't lock VM N"."""
    quiet: Callable[[int, str], None] = lambda level, message: None  # noqa: E731
    for attempt in range(_LOCK_TRIES):
        if lock.acquire(task.job.node.lock_dir, task.veid, quiet) == lock.ACQUIRED:
            task.locked = True
            return
        if attempt + 1 < _LOCK_TRIES:
            time.sleep(_LOCK_DELAY)
    raise TaskError(f"can't lock VM {task.veid}")


def _mode(task: Task, running: bool) -> str:
    mode = task.job.opts.mode if running else "stop"
    if mode == "snapshot":
        task.info("mode failure - unable to detect lvm volume group")
        task.info("trying 'suspend' mode instead")
        mode = "suspend"
    task.info(f"backup mode: {mode}")
    return mode


def _quiesce(task: Task, mode: str, running: bool) -> None:
    """Stop (or suspend) a running container before the archive is made."""
    if not running:
        return
    if mode == "stop":
        task.info("stopping vm")
        rc = task.job.vzctl(task, "stop", str(task.veid))
        if rc:
            raise TaskError(
                f"command 'vzctl --skiplock stop {task.veid}' failed with exit code {rc}"
            )
        task.restart = True
        return
    task.info("suspend vm")
    rc = task.job.vzctl(task, "chkpnt", str(task.veid), "--suspend")
    raise TaskError(
        f"command 'vzctl --skiplock chkpnt {task.veid} --suspend' failed with exit code {rc}"
    )


def _config_files(node: Node, veid: int) -> dict[str, bytes]:
    files = {}
    for suffix in ("conf", *dumpfile.SCRIPT_EXT):
        try:
            with open(os.path.join(node.conf_dir, f"{veid}.{suffix}"), "rb") as fh:
                files[f"vps.{suffix}"] = fh.read()
        except FileNotFoundError:
            continue
    return files


def _excluded(opts: dumpopts.Options) -> Callable[[str], bool]:
    def check(name: str) -> bool:
        if not opts.stdexcludes:
            return False
        if name.startswith(_STDEXCLUDES) or (name.startswith("./var/log/") and name.count("/") > 2):
            return True
        return name.startswith("./var/run/") and name.endswith("pid")

    return check


def _private(task: Task) -> str:
    config = task.job.node.config(task.veid)
    private = config.path("VE_PRIVATE") if config is not None else None
    if not private or not os.path.isdir(private):
        raise TaskError(f"private area of VM {task.veid} not found ({private})")
    return private


def _archive(task: Task, decision: faults.Decision) -> None:
    job = task.job
    task.info(f"creating archive '{task.archive}'")
    dumpfile.write(
        task.tmp,
        _private(task),
        _config_files(job.node, task.veid),
        job.opts.compress,
        _excluded(job.opts),
        lambda: _delay(decision),
    )
    os.rename(task.tmp, task.archive)
    task.info(f"archive file size: {_format_size(os.path.getsize(task.archive))}")


def _delay(decision: faults.Decision) -> None:
    if decision.latency:
        time.sleep(decision.latency)
    while decision.hang:
        time.sleep(3600)


def _format_size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size // 1024}KB"
    if size < 1024**3:
        return f"{size // (1024 * 1024)}MB"
    return f"{size / 1024**3:.2f}GB"


def _purge(task: Task) -> None:
    """--maxfiles N: keep the N newest archives of the container, this one included."""
    keep = task.job.opts.maxfiles
    if not keep:
        return
    older = []
    for name in os.listdir(task.job.dumpdir):
        found = dumpfile.ARCHIVE.match(name)
        path = os.path.join(task.job.dumpdir, name)
        if found and int(found.group(1)) == task.veid and path != task.archive:
            older.append((found.groups()[1:7], path))
    older.sort(reverse=True)
    while older and len(older) >= keep:
        path = older.pop()[1]
        task.info(f"delete old backup '{path}'")
        kernel.remove_file(path)
        kernel.remove_file(dumpfile.ARCHIVE_SUFFIX.sub(".log", path))


def _backup(task: Task) -> None:
    node, veid = task.job.node, task.veid
    if not os.path.exists(node.conf_path(veid)):
        raise TaskError(f"unable to find VM '{veid}'")
    task.info(f"Starting Backup of VM {veid} (openvz)")
    running, text = _status(node, veid)
    task.info(f"status = {text}")
    decision = _fault(task)
    _lock(task)
    mode = _mode(task, running)
    _quiesce(task, mode, running)
    _archive(task, decision)
    _purge(task)


def _cleanup(task: Task) -> None:
    if task.locked:
        lock.release(task.job.node.lock_dir, task.veid)
    kernel.remove_file(task.tmp)
    if task.restart:
        task.info("restarting vm")
        if task.job.vzctl(task, "start", str(task.veid)) == 0:
            task.info(f"vm is online again after {int(time.time() - task.started)} seconds")


def _run_task(job: Job, veid: int) -> int:
    """exec_backup_task(): 0, or the exit status the failure asks for."""
    task = Task(job, veid)
    rc = 0
    try:
        _backup(task)
    except (TaskError, OSError) as exc:
        rc = exc.code if isinstance(exc, TaskError) else 255
        task.say("ERROR:", f"Backup of VM {veid} failed - {exc}")
    finally:
        _cleanup(task)
    if not rc:
        elapsed = int(time.time() - task.started)
        stamp = f"{elapsed // 3600:02d}:{elapsed // 60 % 60:02d}:{elapsed % 60:02d}"
        task.info(f"Finished Backup of VM {veid} ({stamp})")
    _write_log(task)
    return rc


def _write_log(task: Task) -> None:
    try:
        with open(task.logfile, "w", encoding="utf-8") as fh:
            fh.writelines(task.lines)
    except OSError:
        return


def _global_lock(job: Job) -> int | None:
    """getlock(): flock DIR/run/vzdump.lock; None when held, else the exit status."""
    import fcntl
    import signal

    path = os.path.join(job.node.run_dir, "vzdump.lock")
    os.makedirs(job.node.run_dir, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return None
    except BlockingIOError:
        pass
    if not job.opts.lockwait:
        job.out(f"ERROR: can't aquire lock '{path}' (wait = 0)")
        return 255
    job.out("INFO: trying to get global lock - waiting...")
    signal.signal(signal.SIGALRM, lambda *_: None)
    signal.alarm(job.opts.lockwait * 60)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except InterruptedError:
        job.out(f"ERROR: can't aquire lock '{path}' - got timeout")
        return 255
    finally:
        signal.alarm(0)
    job.out("INFO: got global lock")
    return None


def _targets(job: Job) -> list[int]:
    if job.opts.all:
        return [v for v in _vmlist(job.node) if v not in job.opts.exclude]
    return sorted(job.opts.vmids)


def _run(job: Job) -> int:
    if not os.path.isdir(job.dumpdir):
        sys.stderr.write(f"dumpdir '{job.dumpdir}' does not exist\n")
        return 255
    held = _global_lock(job)
    if held is not None:
        return held
    job.out(f"INFO: starting new backup job: vzdump {' '.join(job.argv[1:])}")
    first_error = 0
    for veid in _targets(job):
        rc = _run_task(job, veid)
        oplog.append(job.node.oplog_path, "vzdump", "vzdump", veid, list(job.argv), rc)
        first_error = first_error or rc
    verdict = "with errors" if first_error else "successfully"
    job.out(f"INFO: Backup job finished {verdict}")
    if first_error:
        sys.stderr.write("job errors\n")
    return first_error


def main(argv: list[str], state_dir: str) -> int:
    """Run one simulated vzdump job; returns its exit status."""
    raw_bytes_ok()
    opts = dumpopts.parse(list(argv[1:]))
    if isinstance(opts, int):
        return opts
    return _run(Job(Node(state_dir), opts, list(argv)))
