"""When the next automatic cycle runs: durations, jitter and the `Schedule` (pure).

`jittered` spreads polls by +-10% so a fleet of nodes does not hit the git server together;
`Schedule` decides whether a poll, a drift check or a retry is due.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reconciler.controller.triggers import Reason

_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$")


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def duration(text: str) -> float:
    """`60`, `0.5`, `250ms`, `30s`, `5m`, `1h` -> seconds; for argparse `type=`."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 30s, 5m or 0.5")
    return float(match.group(1)) * _UNITS[match.group(2)]


def jittered(interval: float, unit: float, spread: float = 0.1) -> float:
    """`interval` moved by up to +-`spread` of itself; `unit` is a random number in [0, 1)."""
    return interval * (1.0 + spread * (2.0 * unit - 1.0))


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
