"""A container lock left by a process that died (shell; called when settling a move).

vzctl 4.x locks a container with `LOCKDIR/CTID.lck` holding the locker's pid, and removes a
stale one (its process gone) when it next takes the lock (REFERENCE section 6). vzmigrate takes
the same lock without that check: killed, it leaves the file, and every later vzmigrate of the
container exits 20 (locked) although nothing holds it. Before moving again a container whose
move was interrupted, its lock file is removed when, and only when, the pid in it does not run.
Every step is one argument list through the node's access (no shell).
"""

from __future__ import annotations

from reconciler.node.access import NodeAccess
from reconciler.node.facts import vz_conf_setting

DEFAULT_LOCKDIR = "/vz/lock"


def lock_dir(access: NodeAccess) -> str:
    """LOCKDIR of the node's vz.conf (beside its config directory), else /vz/lock."""
    value = vz_conf_setting(access.run, access.conf_dir, "LOCKDIR")
    return value if value.startswith("/") else DEFAULT_LOCKDIR


def clear_stale_lock(access: NodeAccess, ctid: int) -> bool:
    """Remove container `ctid`'s lock file if the process that took it is gone; whether it did."""
    path = f"{lock_dir(access)}/{ctid}.lck"
    held = access.run(("cat", "--", path), timeout=60)
    first = held.stdout.split("\n", 1)[0].strip() if held.code == 0 else ""
    if not first.isdigit():
        return False
    if _alive(access, first):
        return False  # the locker runs: a real lock
    return access.run(("rm", "-f", "--", path), timeout=60).code == 0


def _alive(access: NodeAccess, pid: str) -> bool:
    """Whether process `pid` runs on the node: /proc/PID/stat exists and its state is not
    zombie or dead (a killed process is a zombie until its parent reaps it)."""
    done = access.run(("cat", f"/proc/{pid}/stat"), timeout=60)
    if done.code != 0:
        return False
    state = done.stdout.rpartition(")")[2].split()[:1]
    return state not in (["Z"], ["X"], [])
