"""Prometheus metrics and liveness of the controller: `GET /metrics`, `GET /healthz` (shell).

`Metrics` holds the counters and gauges the controller updates and renders them in the
Prometheus text exposition format 0.0.4 (pure `render`). `CountingRunner` wraps the `Runner`
seam so every vzctl call is counted by verb and exit code without touching the executor.
`Health` answers "is the loop alive": it is not if one cycle has been busy longer than
`stuck_after`, or if the loop has slept well past the time it meant to wake up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

from reconciler.errors import CommandTimeout
from reconciler.events import Logger
from reconciler.httpd import BoundedHTTPServer, Listen, QuietHandler
from reconciler.plan.model import HELD_KINDS
from reconciler.process import DEFAULT_TIMEOUT, Completed, Runner

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
RESULTS = ("success", "failure", "invalid", "held")
CONTENT_TYPE = "text/plain; version=0.0.4"
STUCK_AFTER = 3600.0
LATE_AFTER = 60.0


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: Sequence[tuple[str, str]]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass
class Metrics:
    """The controller's metrics; every method is safe to call from any thread."""

    reconciles: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESULTS, 0))
    duration_buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    duration_sum: float = 0.0
    duration_count: int = 0
    vzctl_calls: dict[tuple[str, str], int] = field(default_factory=dict)
    webhooks: dict[str, int] = field(default_factory=dict)
    drifted: int = 0
    unmanaged: int = 0
    held: dict[str, int] = field(default_factory=lambda: dict.fromkeys(HELD_KINDS, 0))
    last_applied: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reconciled(self, result: str, seconds: float) -> None:
        with self._lock:
            self.reconciles[result] = self.reconciles.get(result, 0) + 1
            self.duration_sum += seconds
            self.duration_count += 1
            for index, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self.duration_buckets[index] += 1

    def vzctl_call(self, verb: str, code: str) -> None:
        with self._lock:
            key = (verb, code)
            self.vzctl_calls[key] = self.vzctl_calls.get(key, 0) + 1

    def webhook_answer(self, code: int) -> None:
        with self._lock:
            self.webhooks[str(code)] = self.webhooks.get(str(code), 0) + 1

    def observed(self, drifted: int, unmanaged: int) -> None:
        with self._lock:
            self.drifted, self.unmanaged = drifted, unmanaged

    def held_changes(self, kinds: Sequence[str]) -> None:
        """The held changes of the latest plan, one kind per item."""
        with self._lock:
            self.held = dict.fromkeys(HELD_KINDS, 0)
            for kind in kinds:
                self.held[kind] = self.held.get(kind, 0) + 1

    def applied_at(self, at: float) -> None:
        with self._lock:
            self.last_applied = at

    def render(self) -> str:
        """The text exposition format, one family after another."""
        with self._lock:
            lines = self._reconcile_lines() + self._call_lines() + self._gauge_lines()
            lines += self._held_lines()
        return "\n".join(lines) + "\n"

    def _reconcile_lines(self) -> list[str]:
        name = "vzgitops_reconcile_duration_seconds"
        lines = [
            "# HELP vzgitops_reconciles_total Reconcile cycles by result.",
            "# TYPE vzgitops_reconciles_total counter",
            *(
                f"vzgitops_reconciles_total{_labels([('result', r)])} {n}"
                for r, n in sorted(self.reconciles.items())
            ),
            f"# HELP {name} Duration of reconcile cycles.",
            f"# TYPE {name} histogram",
        ]
        for bound, count in zip(BUCKETS, self.duration_buckets, strict=True):
            lines.append(f'{name}_bucket{{le="{_number(bound)}"}} {count}')
        lines.append(f'{name}_bucket{{le="+Inf"}} {self.duration_count}')
        lines.append(f"{name}_sum {_number(self.duration_sum)}")
        lines.append(f"{name}_count {self.duration_count}")
        return lines

    def _call_lines(self) -> list[str]:
        lines = [
            "# HELP vzgitops_vzctl_calls_total vzctl calls by verb and exit code.",
            "# TYPE vzgitops_vzctl_calls_total counter",
        ]
        for (verb, code), count in sorted(self.vzctl_calls.items()):
            lines.append(
                f"vzgitops_vzctl_calls_total{_labels([('verb', verb), ('code', code)])} {count}"
            )
        lines += [
            "# HELP vzgitops_webhook_requests_total Webhook requests by HTTP status.",
            "# TYPE vzgitops_webhook_requests_total counter",
        ]
        for code, count in sorted(self.webhooks.items()):
            lines.append(f"vzgitops_webhook_requests_total{_labels([('code', code)])} {count}")
        return lines

    def _gauge_lines(self) -> list[str]:
        gauges = (
            ("vzgitops_drifted_containers", "Containers that differ from the live revision.", self.drifted),
            ("vzgitops_unmanaged_containers", "Containers on the node vzgitops does not own.", self.unmanaged),
            ("vzgitops_last_applied_timestamp_seconds", "When a revision was last applied (Unix time).", self.last_applied),
            ("vzgitops_up", "1 while the controller runs.", 1),
        )  # fmt: skip
        lines: list[str] = []
        for name, help_text, value in gauges:
            lines += [
                f"# HELP {name} {help_text}",
                f"# TYPE {name} gauge",
                f"{name} {_number(value)}",
            ]
        return lines

    def _held_lines(self) -> list[str]:
        name = "vzgitops_held_changes"
        return [
            f"# HELP {name} Changes the latest plan holds back, by kind: the node does not match git.",
            f"# TYPE {name} gauge",
            *(f"{name}{_labels([('kind', k)])} {n}" for k, n in sorted(self.held.items())),
        ]


@dataclass(frozen=True)
class CountingRunner:
    """A `Runner` that counts vzctl calls in `metrics` and delegates to `inner`."""

    inner: Runner
    metrics: Metrics

    def __call__(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        counted = bool(argv) and argv[0] == "vzctl"
        verb = argv[1] if len(argv) > 1 else "none"
        try:
            done = self.inner(argv, timeout=timeout)
        except CommandTimeout:
            if counted:
                self.metrics.vzctl_call(verb, "timeout")
            raise
        if counted:
            self.metrics.vzctl_call(verb, str(done.code))
        return done


@dataclass
class Health:
    """Liveness of the loop, from the monotonic clock; thread-safe."""

    clock: Callable[[], float] = time.monotonic
    stuck_after: float = STUCK_AFTER
    late_after: float = LATE_AFTER
    _busy_since: float | None = None
    _wake_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def busy(self) -> None:
        with self._lock:
            self._busy_since, self._wake_at = self.clock(), None

    def idle(self, seconds: float) -> None:
        with self._lock:
            self._busy_since, self._wake_at = None, self.clock() + seconds

    def healthy(self) -> tuple[bool, str]:
        now = self.clock()
        with self._lock:
            busy, wake = self._busy_since, self._wake_at
        if busy is not None and now - busy > self.stuck_after:
            return False, f"one reconcile has been running for {now - busy:.0f} s"
        if wake is not None and now > wake + self.late_after:
            return False, f"the loop should have woken {now - wake:.0f} s ago"
        return True, "ok"


class MetricsServer(BoundedHTTPServer):
    """`GET /metrics` and `GET /healthz` on `--metrics-listen`."""

    def __init__(self, listen: Listen, metrics: Metrics, health: Health, log: Logger) -> None:
        self.metrics = metrics
        self.health = health
        super().__init__(listen, _MetricsHandler, log, "metrics")


class _MetricsHandler(QuietHandler):
    def do_GET(self) -> None:
        server = cast(MetricsServer, self.server)
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self.respond(200, server.metrics.render().encode(), CONTENT_TYPE)
        elif path == "/healthz":
            ok, why = server.health.healthy()
            self.respond(200 if ok else 503, (why + "\n").encode())
        else:
            self.respond(404, b"not found\n")

    do_HEAD = do_GET
