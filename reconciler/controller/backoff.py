"""What the controller does after a failure (pure).

- `Backoff` is the capped exponential delay after errors (1 s .. 5 min by default);
- `Failures` decides from the last error's class whether to back off, hold a tip that needs a
  person, or park a permanent failure;
- `ContainerBackoff` spaces out drift corrections of one container so fighting a human who keeps
  changing it by hand never loops hot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.errors import Disposition


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
