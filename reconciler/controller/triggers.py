"""What wakes the controller, and when it may run again (shell around small pure parts).

Every trigger source (the poll timer, the webhook, the git watch, SIGHUP) only calls
`TriggerQueue.fire`; the controller's loop is the only consumer, so one reconcile runs at a
time, and any number of triggers that arrive during a reconcile coalesce into ONE follow-up.

- `jittered` spreads polls by +-10% so a fleet of nodes does not hit the git server together.
- `Backoff` is the capped exponential delay after errors (1 s .. 5 min by default);
  `Failures` decides from the last error's class whether to back off, hold a tip that needs a
  person, or park a permanent failure;
  `ContainerBackoff` spaces out drift corrections of one container so fighting a human who keeps
  changing it by hand never loops hot.
- `SignalTriggers` turns SIGHUP/SIGTERM/SIGINT into calls on a plain thread: the C-level handler
  only writes the signal number into a pipe (`signal.set_wakeup_fd`), so no Python lock is ever
  taken inside a signal handler.
- `GitWatch` watches a local repository's git directory with watchfiles.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from reconciler.controller.events import Logger
from reconciler.errors import Disposition

Reason = str  # "startup", "poll", "webhook", "watch", "sighup", "drift", "retry"
_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
WATCHED = frozenset({"refs", "packed-refs", "HEAD", "objects", "FETCH_HEAD"})


def duration(text: str) -> float:
    """`60`, `0.5`, `250ms`, `30s`, `5m`, `1h` -> seconds; for argparse `type=`."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 30s, 5m or 0.5")
    return float(match.group(1)) * _UNITS[match.group(2)]


def jittered(interval: float, unit: float, spread: float = 0.1) -> float:
    """`interval` moved by up to +-`spread` of itself; `unit` is a random number in [0, 1)."""
    return interval * (1.0 + spread * (2.0 * unit - 1.0))


class TriggerQueue:
    """A coalescing set of pending reasons: many `fire`s between two `take`s make one batch."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._pending: set[Reason] = set()
        self._woken = False
        self.fired = 0

    def fire(self, reason: Reason) -> None:
        with self._cond:
            self._pending.add(reason)
            self.fired += 1
            self._cond.notify_all()

    def wake(self) -> None:
        """Wake the waiter without a reason (it then checks whether it should stop)."""
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def take(self, timeout: float | None) -> frozenset[Reason]:
        """The pending reasons (cleared), waiting up to `timeout` seconds for one to arrive.

        A `wake` that came before this call is remembered and ends the wait at once, so a stop
        signal that lands between the caller's stop check and this call is never lost."""
        with self._cond:
            if not self._pending and not self._woken and (timeout is None or timeout > 0):
                self._cond.wait(timeout)
            self._woken = False
            taken = frozenset(self._pending)
            self._pending.clear()
            return taken


@dataclass
class Backoff:
    """Capped exponential delay: initial, 2x, 4x, ... up to `maximum`; `reset` after success."""

    initial: float = 1.0
    maximum: float = 300.0
    failures: int = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * (2.0 ** min(self.failures, 60)))
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


PERMANENT_RETRY = 3600.0  # a permanent apply failure is tried again after this long at most


@dataclass
class Failures:
    """What the class of the last failure allows next (pure; monotonic seconds).

    retry-later: back off. needs-human: no retry timer, and the tip it happened at is not
    tried again until a new revision or SIGHUP. permanent: no retry timer, and the live
    revision is not re-applied for `park` seconds unless SIGHUP comes first.
    """

    backoff: Backoff
    park: float = PERMANENT_RETRY
    kind: Disposition = "retry-later"
    parked_until: float | None = None
    held_tip: str | None = None

    def failed(self, kind: Disposition, now: float, tip: str | None = None) -> None:
        self.kind = kind
        self.held_tip = tip if kind == "needs-human" else None
        self.parked_until = now + self.park if kind == "permanent" else None

    def retry_in(self) -> float | None:
        """After a failed cycle: the backoff delay, or None when retrying cannot help."""
        if self.kind == "retry-later":
            return self.backoff.next_delay()
        self.backoff.reset()
        return None

    def succeeded(self) -> None:
        self.backoff.reset()
        self.kind, self.parked_until, self.held_tip = "retry-later", None, None

    def holding(self, tip: str, sighup: bool) -> bool:
        """The tip needed a person and nothing has changed since."""
        return self.kind == "needs-human" and self.held_tip == tip and not sighup

    def parked(self, now: float, sighup: bool) -> bool:
        """A permanent failure of the live revision, not yet due again."""
        return self.parked_until is not None and now < self.parked_until and not sighup


@dataclass
class ContainerBackoff:
    """Per-container spacing of drift corrections: the n-th consecutive one waits base*2^(n-1)."""

    base: float
    maximum: float = 3600.0
    _corrections: dict[int, tuple[int, float]] = field(default_factory=dict)

    def ready(self, ctid: int, now: float) -> bool:
        entry = self._corrections.get(ctid)
        return entry is None or now >= entry[1]

    def not_before(self, ctid: int) -> float | None:
        entry = self._corrections.get(ctid)
        return entry[1] if entry else None

    def corrected(self, ctid: int, now: float) -> None:
        count = self._corrections.get(ctid, (0, 0.0))[0]
        wait = min(self.maximum, self.base * (2.0 ** min(count, 60)))
        self._corrections[ctid] = (count + 1, now + wait)

    def settled(self, ctid: int) -> None:
        """The container matched git at a check: its next correction is immediate again."""
        self._corrections.pop(ctid, None)

    def keep_only(self, ctids: set[int]) -> None:
        for ctid in set(self._corrections) - ctids:
            del self._corrections[ctid]


# ---- signals ---------------------------------------------------------------------------------


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


# ---- watching a local repository -------------------------------------------------------------


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


# ---- the schedule ----------------------------------------------------------------------------


@dataclass
class Schedule:
    """When the next automatic cycle runs (pure; monotonic seconds).

    Polls repeat every `interval` (jittered by the caller); drift checks every `drift_interval`
    (0: never). After a failure only the retry timer runs, so errors back off instead of
    being retried at the poll rate; external triggers still start a cycle at once.
    """

    next_poll: float
    next_drift: float | None
    drift_interval: float
    retry_at: float | None = None

    def next_due(self) -> tuple[str, float]:
        """The next automatic action and its time: retry, poll or drift-check."""
        if self.retry_at is not None:
            return "retry", self.retry_at
        if self.next_drift is not None and self.next_drift < self.next_poll:
            return "drift-check", self.next_drift
        return "poll", self.next_poll

    def due(self, now: float) -> frozenset[Reason]:
        if self.retry_at is not None:
            return frozenset({"retry"}) if now >= self.retry_at else frozenset()
        reasons = {"poll"} if now >= self.next_poll else set()
        if self.drift_due(now):
            reasons.add("drift")
        return frozenset(reasons)

    def drift_due(self, now: float) -> bool:
        return self.next_drift is not None and now >= self.next_drift

    def done(self, now: float, poll_in: float, retry_in: float | None, drift_checked: bool) -> None:
        """Record a finished cycle: the next poll, the retry (after a failure), the next check."""
        self.next_poll = now + poll_in
        self.retry_at = None if retry_in is None else now + retry_in
        if drift_checked and self.drift_interval > 0:
            self.next_drift = now + self.drift_interval
