"""The targets of issue 7 (set for a 2-core machine), judged from the measured rows (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.controller_latency import Idle, Latency
from benchmarks.measure import Summary, ms
from benchmarks.scenarios import COLD, Row

NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class Target:
    name: str
    status: str  # met | missed | not measured
    measured: str


@dataclass(frozen=True)
class Results:
    rows: Sequence[Row]
    latencies: Sequence[Latency] = ()
    idle: Idle | None = None
    set_wall: float = 0.0
    issues: Sequence[str] = ()

    def get(self, scenario: str, size: int) -> Summary | None:
        for row in self.rows:
            if row.scenario == scenario and row.size == size:
                return row.result
        return None


def _judge(name: str, ok: bool | None, measured: str) -> Target:
    status = NOT_MEASURED if ok is None else ("met" if ok else "missed")
    return Target(name, status, measured if ok is not None else "-")


def noop_1000(results: Results, command: str) -> Target:
    r = results.get(f"no-op {command}", 1000)
    name = f"no-op `{command}`, 1,000 CTs: < 0.3 s vzgitops CPU, 1 vzlist, 0 vzctl"
    if r is None:
        return _judge(name, None, "")
    ok = r.cpu < 0.3 and r.vzlist == 1 and r.vzctl == 0
    measured = f"{ms(r.cpu)} CPU, {r.vzlist} vzlist, {r.vzctl} vzctl"
    cold = results.get(f"no-op {command}, {COLD}", 1000)
    if cold is not None:
        measured += f" (first run at a new tree, nothing cached: {ms(cold.cpu)})"
    return _judge(name, ok, measured)


def noop_10000(results: Results, command: str) -> Target:
    r = results.get(f"no-op {command}", 10000)
    name = f"no-op `{command}`, 10,000 CTs: < 3 s vzgitops CPU"
    return _judge(name, None if r is None else r.cpu < 3.0, "" if r is None else ms(r.cpu))


def linear(results: Results, command: str) -> Target:
    small, big = results.get(f"no-op {command}", 1000), results.get(f"no-op {command}", 10000)
    name = f"no-op `{command}` linear: 10x CTs (1,000 -> 10,000) at most 12x CPU time"
    if small is None or big is None:
        return _judge(name, None, "")
    ratio, wall = big.cpu / small.cpu, big.wall / small.wall
    return _judge(name, ratio <= 12.0, f"{ratio:.1f}x CPU ({wall:.1f}x wall)")


def rss_10000(results: Results) -> Target:
    """Over every vzgitops run at 10,000 containers (no-op and 1% change)."""
    found = [row for row in results.rows if row.size == 10000 and _is_vzgitops(row.scenario)]
    name = "peak RSS of vzgitops at 10,000 CTs < 150 MB"
    if not found:
        return _judge(name, None, "")
    worst = max(found, key=lambda row: row.result.maxrss_kib)
    peak = worst.result.maxrss_kib / 1024
    return _judge(name, peak < 150, f"{peak:.0f} MB ({worst.scenario})")


def _is_vzgitops(scenario: str) -> bool:
    return scenario.startswith(("no-op", "1% change"))


def one_per_change(results: Results) -> Target:
    rows = [r for r in results.rows if r.scenario == "1% change: apply"]
    name = "1% change: exactly one vzctl call per changed container"
    ok = all(r.result.vzctl == max(1, r.size // 100) for r in rows) if rows else None
    return _judge(name, ok, ", ".join(f"{r.result.vzctl} at {r.size:,}" for r in rows))


def latency(results: Results) -> Target:
    name = "commit-to-applied < 2 s excluding vzctl's own work (--watch, webhook)"
    if not results.latencies:
        return _judge(name, None, "")
    worst = max(lat.to_set - results.set_wall for lat in results.latencies)
    shown = ", ".join(
        f"{lat.trigger} {ms(lat.to_set - results.set_wall)}" for lat in results.latencies
    )
    return _judge(name, worst < 2.0, shown)


def idle(results: Results) -> Target:
    name = "controller idle CPU < 1% of a core"
    if results.idle is None:
        return _judge(name, None, "")
    i = results.idle
    share = (i.own_cpu + i.children_cpu) / i.seconds * 100
    return _judge(name, share < 1.0, f"{share:.2f}% over {i.seconds:.0f} s (with children)")


def judge(results: Results) -> list[Target]:
    targets = [noop_1000(results, "apply"), noop_1000(results, "plan")]
    targets += [noop_10000(results, "apply"), noop_10000(results, "plan")]
    targets += [linear(results, "apply"), linear(results, "plan"), rss_10000(results)]
    return [*targets, one_per_change(results), latency(results), idle(results)]
