"""The vzctl 4.x per-container lock (src/lib/lock.c), plus a small fcntl helper.

`LOCKDIR/CTID.lck` holds `"<pid>\\n\\n"` and is created atomically by link(2) of a temporary
file. A lock naming a live pid makes vzctl fail at once (exit 9); a dead pid is a stale lock,
removed with a message. The simulator keeps the same file format, so real processes (a
`sleep`, another simulated vzctl, a dead pid) interact with it exactly as on a node.
"""

from __future__ import annotations

import fcntl
import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

LOCKED, ACQUIRED, FAILED = 1, 0, -1


def lock_path(lock_dir: str, veid: int) -> str:
    return os.path.join(lock_dir, f"{veid}.lck")


def _read_pid(path: str) -> int:
    """-1 if unreadable, 0 if the content is not a number, else the pid."""
    try:
        with open(path, "rb") as fh:
            text = fh.read(4096).decode("ascii", "replace")
    except OSError:
        return -1
    digits = text.strip().split("\n", 1)[0].strip()
    return int(digits) if digits.lstrip("-").isdigit() else 0


def _cmdline(pid: int) -> str:
    """/proc/PID/cmdline with the NUL separators shown as spaces, as vzctl prints it."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            raw = fh.read(4095)
    except OSError:
        return ""
    if raw.endswith(b"\0"):
        raw = raw[:-1]
    return raw.replace(b"\0", b" ").decode("utf-8", "replace")


def acquire(lock_dir: str, veid: int, say: Callable[[int, str], None]) -> int:
    """vps_lock(): ACQUIRED, LOCKED (message printed) or FAILED; never waits on a live holder."""
    os.makedirs(lock_dir, exist_ok=True)
    path = lock_path(lock_dir, veid)
    tmp = f"{path}{os.getpid()}.{time.monotonic_ns() % 1000000:06d}"
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write(f"{os.getpid()}\n\n")
    try:
        return _link_loop(tmp, path, say)
    finally:
        _unlink(tmp)


def _link_loop(tmp: str, path: str, say: Callable[[int, str], None]) -> int:
    for _ in range(3):
        try:
            os.link(tmp, path)
            return ACQUIRED
        except FileExistsError:
            pass
        pid = _read_pid(path)
        if pid < 0:
            time.sleep(0.5)
        elif pid == 0:
            _unlink(path)
        elif os.path.exists(f"/proc/{pid}"):
            say(-1, f"Locked by: pid {pid}, cmdline {_cmdline(pid)}")
            return LOCKED
        else:
            say(0, f"Removing stale lock file {path}")
            _unlink(path)
    return FAILED


def release(lock_dir: str, veid: int) -> None:
    """vps_unlock(): remove the lock file."""
    _unlink(lock_path(lock_dir, veid))


def _unlink(path: str) -> None:
    try:  # noqa: SIM105 - contextlib would cost import time on every simulated call
        os.unlink(path)
    except OSError:
        pass


class flocked:
    """Hold an exclusive fcntl lock on `path` (created if missing) for the block."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> None:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.lockf(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)
