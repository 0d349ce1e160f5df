"""Trigger sources on their own threads: signals and the git watch (shell).

- `SignalTriggers` turns SIGHUP/SIGTERM/SIGINT into calls on a plain thread: the C-level handler
  only writes the signal number into a pipe (`signal.set_wakeup_fd`), so no Python lock is ever
  taken inside a signal handler.
- `GitWatch` watches a local repository's git directory with watchfiles.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from reconciler.controller.events import Logger

WATCHED = frozenset({"refs", "packed-refs", "HEAD", "objects", "FETCH_HEAD"})


def _ignore(signum: int, frame: FrameType | None) -> None:
    """Installed as the Python-level handler; the work happens on `SignalTriggers`' thread."""


class SignalTriggers:
    """SIGHUP -> `on_hup()`, SIGTERM/SIGINT -> `on_stop()`, both called on a worker thread.

    Must be started from the main thread (signal handlers can only be installed there).
    """

    def __init__(self, on_hup: Callable[[], None], on_stop: Callable[[str], None]) -> None:
        self._on_hup = on_hup
        self._on_stop = on_stop
        self._handlers: dict[int, Callable[[], None]] = {
            signal.SIGHUP: lambda: self._on_hup(),
            signal.SIGTERM: lambda: self._on_stop("SIGTERM"),
            signal.SIGINT: lambda: self._on_stop("SIGINT"),
        }
        self._previous: dict[int, object] = {}
        self._pipe: tuple[int, int] | None = None
        self._old_wakeup = -1
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vzgitops-signals", daemon=True)

    def start(self) -> None:
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)
        self._pipe = (read_fd, write_fd)
        self._old_wakeup = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        for signum in self._handlers:
            self._previous[signum] = signal.signal(signum, _ignore)
        self._thread.start()

    def _run(self) -> None:
        assert self._pipe is not None
        read_fd = self._pipe[0]
        while not self._closed.is_set():
            ready, _, _ = select.select([read_fd], [], [], 0.2)
            if not ready:
                continue
            with contextlib.suppress(BlockingIOError, InterruptedError):
                for signum in os.read(read_fd, 64):
                    handler = self._handlers.get(signum)
                    if handler is not None:
                        handler()

    def close(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]
        signal.set_wakeup_fd(self._old_wakeup)
        self._closed.set()
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                os.write(self._pipe[1], b"\0")  # wake the thread; signal 0 has no handler
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        if self._pipe is not None:
            for fd in self._pipe:
                os.close(fd)
            self._pipe = None


def watched_dirs(git_dir: Path) -> tuple[Path, ...]:
    """`git_dir` and, for a linked worktree, the common directory its branches and objects are
    written to (named by its `commondir` file): a commit there moves no ref of its own."""
    common = git_dir / "commondir"
    if not common.is_file():
        return (git_dir,)
    shared = (git_dir / common.read_text(encoding="utf-8", errors="replace").strip()).resolve()
    return (git_dir,) if shared == git_dir else (git_dir, shared)


def watch_roots(dirs: tuple[Path, ...]) -> list[Path]:
    """The directories to watch: those not already inside another one (pure)."""
    return [d for d in dirs if not any(o != d and d.is_relative_to(o) for o in dirs)]


def is_git_change(git_dir: Path, changed: str) -> bool:
    """Whether a changed path can move a ref: refs/, packed-refs, HEAD or objects/ (pure)."""
    try:
        parts = Path(changed).relative_to(git_dir).parts
    except ValueError:
        return False
    return bool(parts) and parts[0] in WATCHED


class GitWatch:
    """Calls `on_change()` whenever the git directory's refs or objects change (for a linked
    worktree, its own HEAD and the shared branches and objects)."""

    def __init__(self, git_dir: Path, on_change: Callable[[], None], log: Logger) -> None:
        self._dirs = watched_dirs(git_dir)
        self._on_change = on_change
        self._log = log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vzgitops-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        import watchfiles

        def wanted(_: watchfiles.Change, path: str) -> bool:
            return any(is_git_change(git_dir, path) for git_dir in self._dirs)

        try:
            for _changes in watchfiles.watch(
                *watch_roots(self._dirs),
                watch_filter=wanted,
                debounce=400,
                step=50,
                stop_event=self._stop,
                rust_timeout=500,
                yield_on_timeout=False,
                raise_interrupt=False,
            ):
                self._on_change()
        except Exception as exc:  # a dead watcher must not kill the controller; polls go on
            self._log("error", "watch.failed", error=f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=3)
