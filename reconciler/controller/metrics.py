"""Prometheus metrics and liveness of the controller: `GET /metrics`, `GET /healthz` (shell).

`Metrics` holds the counters and gauges the controller updates; `render` exposes them through
prometheus_client (`generate_latest`, text format 0.0.4) on a private `CollectorRegistry`
with one collector that reads them under the lock: no global registry, no process or platform
collectors, no `_created` series. `CountingRunner` wraps the `Runner` seam so every vzctl call
is counted by verb and exit code without touching the executor. `Health` answers "is the loop
alive": it is not if one cycle has been busy longer than `stuck_after`, or if the loop has
slept well past the time it meant to wake up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.samples import Sample

from reconciler.controller.events import Logger
from reconciler.controller.httpd import BoundedHTTPServer, Listen, QuietHandler
from reconciler.errors import CommandTimeout
from reconciler.node.process import DEFAULT_TIMEOUT, Completed, Runner
from reconciler.plan.model import HELD_KINDS

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
RESULTS = ("success", "failure", "invalid", "held")
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
STUCK_AFTER = 3600.0
LATE_AFTER = 60.0


def _bound(value: float) -> str:
    """A bucket's `le` label as before: `60`, `0.25`."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(eq=False)  # hashable: the registry keys its collectors by identity
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
    suspended_node: int = 0
    suspended_containers: int = 0
    node: str = "default"  # the node the controller applies (the `node` label)
    backup_ages: dict[tuple[int, str], float] = field(default_factory=dict)
    backup_errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _registry: CollectorRegistry = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self)

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

    def suspension(self, node: bool, containers: int) -> None:
        with self._lock:
            self.suspended_node, self.suspended_containers = int(node), containers

    def backups(self, ages: dict[tuple[int, str], float], errors: int) -> None:
        """(ctid, name) -> seconds since the last successful dump; missed or failed ones."""
        with self._lock:
            self.backup_ages, self.backup_errors = dict(ages), errors

    def applied_at(self, at: float) -> None:
        with self._lock:
            self.last_applied = at

    def render(self) -> str:
        """The text exposition format (prometheus_client), one family after another."""
        return generate_latest(self._registry).decode("utf-8")

    def collect(self) -> Iterator[Metric]:
        """The families, read under the lock (prometheus_client's `Collector` protocol); every
        sample carries the `node` label, so the metrics of many nodes' agents can be told apart
        in one Prometheus and one failing node does not hide the others."""
        with self._lock:
            families = [*self._reconcile_families(), *self._call_families()]
            families += [*self._gauges(), self._held_family(), self._suspended_family()]
            families += self._backup_families()
            node = self.node
        for family in families:
            family.samples = [s._replace(labels={**s.labels, "node": node}) for s in family.samples]
        yield from families

    def set_node(self, node: str) -> None:
        with self._lock:
            self.node = node

    def _reconcile_families(self) -> list[Metric]:
        total = CounterMetricFamily(
            "vzgitops_reconciles", "Reconcile cycles by result.", labels=["result"]
        )
        for result, count in sorted(self.reconciles.items()):
            total.add_metric([result], count)
        cumulative = [
            (_bound(b), float(n)) for b, n in zip(BUCKETS, self.duration_buckets, strict=True)
        ]
        duration = HistogramMetricFamily(
            "vzgitops_reconcile_duration_seconds",
            "Duration of reconcile cycles.",
            buckets=[*cumulative, ("+Inf", float(self.duration_count))],
            sum_value=self.duration_sum,
        )
        return [total, duration]

    def _call_families(self) -> list[Metric]:
        calls = CounterMetricFamily(
            "vzgitops_vzctl_calls", "vzctl calls by verb and exit code.", labels=["verb", "code"]
        )
        for (verb, code), count in sorted(self.vzctl_calls.items()):
            calls.add_metric([verb, code], count)
        hooks = CounterMetricFamily(
            "vzgitops_webhook_requests", "Webhook requests by HTTP status.", labels=["code"]
        )
        for code, count in sorted(self.webhooks.items()):
            hooks.add_metric([code], count)
        return [calls, hooks]

    def _gauges(self) -> list[Metric]:
        gauges = (
            ("vzgitops_drifted_containers", "Containers that differ from the live revision.", self.drifted),
            ("vzgitops_unmanaged_containers", "Containers on the node vzgitops does not own.", self.unmanaged),
            ("vzgitops_last_applied_timestamp_seconds", "When a revision was last applied (Unix time).", self.last_applied),
            ("vzgitops_up", "1 while the controller runs.", 1),
        )  # fmt: skip
        return [GaugeMetricFamily(name, text, value=value) for name, text, value in gauges]

    def _held_family(self) -> Metric:
        held = GaugeMetricFamily(
            "vzgitops_held_changes",
            "Changes the latest plan holds back, by kind: the node does not match git.",
            labels=["kind"],
        )
        for kind, count in sorted(self.held.items()):
            held.add_metric([kind], count)
        return held

    def _backup_families(self) -> list[Metric]:
        ages = GaugeMetricFamily(
            "vzgitops_backup_age_seconds",
            "Seconds since the container's last successful scheduled dump.",
            labels=["ctid", "name"],
        )
        for (ctid, name), age in sorted(self.backup_ages.items()):
            ages.add_metric([str(ctid), name], age)
        errors = GaugeMetricFamily(
            "vzgitops_backup_errors",
            "Containers whose last dump failed or that missed one (overdue by a whole period).",
            value=self.backup_errors,
        )
        return [ages, errors]

    def _suspended_family(self) -> Metric:
        family = GaugeMetricFamily(
            "vzgitops_suspended",
            "What 'vzgitops suspend' holds: node (1 or 0) and containers (how many).",
            labels=["scope"],
        )
        family.add_metric(["containers"], self.suspended_containers)
        family.add_metric(["node"], self.suspended_node)
        return family


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


class Exposition(Protocol):
    def render(self) -> str: ...


class MetricsServer(BoundedHTTPServer):
    """`GET /metrics` and `GET /healthz` on `--metrics-listen`."""

    def __init__(self, listen: Listen, metrics: Exposition, health: Health, log: Logger) -> None:
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


@dataclass(eq=False)  # hashable: the registry keys its collectors by identity
class FleetMetrics:
    """One `/metrics` for every node's controller: their families merged by name (each
    sample keeps its `node` label), and the webhook's requests, which are the fleet's (with
    one node, labelled with it; with several, with none)."""

    hub: Metrics
    members: Callable[[], Sequence[Metrics]]
    _registry: CollectorRegistry = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self)

    def render(self) -> str:
        return generate_latest(self._registry).decode("utf-8")

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        members = self.members()
        for metrics in members:
            for family in metrics.collect():
                if family.name == WEBHOOK_FAMILY:
                    continue
                kept = merged.setdefault(family.name, family)
                if kept is not family:
                    kept.samples.extend(family.samples)
        if len(members) == 1:  # one node: its label, as on every other sample
            self.hub.set_node(members[0].node)
        for family in self.hub.collect():
            if family.name == WEBHOOK_FAMILY:
                if len(members) != 1:  # the fleet's, no one node's
                    family.samples = [_unlabelled(s) for s in family.samples]
                merged[family.name] = family
        yield from merged.values()


WEBHOOK_FAMILY = "vzgitops_webhook_requests"


def _unlabelled(sample: Sample) -> Sample:
    return sample._replace(labels={k: v for k, v in sample.labels.items() if k != "node"})
