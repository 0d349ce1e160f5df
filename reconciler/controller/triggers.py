"""What wakes the controller: the one queue every trigger source fires into (shell).

Every trigger source (the poll timer, the webhook, the git watch, SIGHUP) only calls
`TriggerQueue.fire`; the controller's loop is the only consumer, so one reconcile runs at a
time, and any number of triggers that arrive during a reconcile coalesce into ONE follow-up.
"""

from __future__ import annotations

import threading

Reason = str  # "startup", "poll", "webhook", "watch", "sighup", "drift", "retry"


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
