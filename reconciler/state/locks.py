"""The file locks of a state directory: node, controller and suspension locks (shell).

`node.lock` is held by the one process that may mutate the node; `controller.lock` by
`vzgitops run` for its whole life (one controller per state directory; manual applies take only
`node.lock`, between the controller's cycles); `suspended.lock` serialises suspend and resume.
Each is a kernel file lock (flock), with its holder written into the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator

from reconciler.errors import LockHeld, StateUnusable
from reconciler.state.files import StateRoot


@contextlib.contextmanager
def node_lock(state: StateRoot, *, wait: bool = False, what: str = "vzgitops") -> Iterator[None]:
    """The single-writer lock: flock on `node.lock`; the holder is written into the file."""
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with _file_lock(
        state,
        "node.lock",
        wait=wait,
        holder=f"pid {os.getpid()} ({what}, since {since})",
        held="the node lock {path} is held by {holder}; wait for it or pass --wait-lock",
    ):
        yield


@contextlib.contextmanager
def controller_lock(state: StateRoot) -> Iterator[None]:
    """Held by `vzgitops run` while it runs; a second controller gets `LockHeld` (exit 75)."""
    with _file_lock(
        state,
        "controller.lock",
        wait=False,
        holder=f"pid {os.getpid()} (vzgitops run)",
        held="another vzgitops run controls {root}: {path} is held by {holder}; stop it first",
    ):
        yield


@contextlib.contextmanager
def suspension_lock(state: StateRoot) -> Iterator[None]:
    """Serialises `suspend`/`resume` (read, change, write `suspended.json`); not the node lock,
    so suspending works while the controller applies."""
    with _file_lock(
        state,
        "suspended.lock",
        wait=True,
        holder=f"pid {os.getpid()} (vzgitops suspend/resume)",
        held="{path} is held by {holder}",
    ):
        yield


@contextlib.contextmanager
def _file_lock(
    state: StateRoot, name: str, *, wait: bool, holder: str, held: str
) -> Iterator[None]:
    """flock on `name` in the state directory, with `holder` written into the file for whoever
    finds it held (`held` is their message, with {path}, {root} and {holder} filled in)."""
    state.ensure()
    path = state.root / name
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        what = name.removesuffix(".lock")
        raise StateUnusable(f"cannot open the {what} lock {path}: {exc.strerror or exc}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            found = os.pread(fd, 512, 0).decode(errors="replace").strip() or "another process"
            raise LockHeld(held.format(path=path, root=state.root, holder=found)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{holder}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
