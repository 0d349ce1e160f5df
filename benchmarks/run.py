"""`make bench`: vzgitops on the simulated node at 10 to 10,000 containers -> table + BENCHMARKS.md.

    .venv/bin/python -m benchmarks.run [--quick] [--runs N] [--sizes 10,100] [--out FILE]

For each size: build a converged fleet (`fleet`), measure no-op `plan`/`apply`, a 1% change, the
simulator's own cost and the admin script (`scenarios`); then `validate` of a 1,000-file
repository and, on the 1,000-container fleet, the controller (`controller_latency`). Every number
is a median of `--runs` runs (5; `--quick`: 3 runs at 10 to 1,000 containers). Targets that are
missed get a CPU profile of an in-process no-op reconcile and the CLI's import times.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import scenarios
from benchmarks.controller_latency import Idle, Latency, idle_cpu, watch_latency, webhook_latency
from benchmarks.fleet import Fleet, build_fleet
from benchmarks.machine import Machine, describe
from benchmarks.profiling import cprofile_top, import_times, memory_phases, stage_times
from benchmarks.report import render_markdown, render_text
from benchmarks.targets import Results, Target, judge

FULL_SIZES = (10, 100, 1000, 10000)
QUICK_SIZES = (10, 100, 1000)
CONTROLLER_SIZE = 1000


@dataclass
class Outcome:
    rows: list[scenarios.Row] = field(default_factory=list)
    latencies: list[Latency] = field(default_factory=list)
    idle: Idle | None = None
    set_wall: float = 0.0
    profiles: dict[int, list[str]] = field(default_factory=dict)
    issues: list[str] = field(default_factory=list)


def parse(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    p.add_argument("--quick", action="store_true", help="3 runs at 10, 100 and 1,000 CTs")
    p.add_argument("--runs", type=int, default=None, help="runs per measurement (5; quick: 3)")
    p.add_argument("--sizes", default=None, help="comma-separated container counts")
    p.add_argument("--validate-files", type=int, default=1000, help="files for validate (1,000)")
    p.add_argument("--idle-seconds", type=float, default=None, help="idle window (60; quick: 15)")
    p.add_argument("--no-controller", action="store_true", help="skip `vzgitops run`")
    p.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"), help="markdown report")
    p.add_argument("--workdir", type=Path, default=None, help="repositories and state (a tmpdir)")
    p.add_argument("--node-root", type=Path, default=None, help="simulated nodes (/dev/shm)")
    args = p.parse_args(argv)
    args.runs = args.runs or (3 if args.quick else 5)
    quick_or_full = QUICK_SIZES if args.quick else FULL_SIZES
    args.sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(quick_or_full)
    args.idle_seconds = args.idle_seconds or (15.0 if args.quick else 60.0)
    return args


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def node_root(args: argparse.Namespace, work: Path) -> Path:
    """Nodes on tmpfs when there is one: building 10,000 containers writes ~300,000 files."""
    if args.node_root is not None:
        return Path(tempfile.mkdtemp(prefix="vzgitops-bench-", dir=args.node_root))
    shm = Path("/dev/shm")  # noqa: S108 - a private mkdtemp under it, not a fixed file name
    if shm.is_dir() and shutil.disk_usage(shm).free > 2 << 30:
        return Path(tempfile.mkdtemp(prefix="vzgitops-bench-", dir=shm))
    return work / "nodes"


def measure_size(fleet: Fleet, runs: int, out: Outcome) -> None:
    say(f"{fleet.size:,} CTs: no-op plan and apply")
    out.rows += scenarios.noop(fleet, runs)
    say(f"{fleet.size:,} CTs: 1% change")
    out.rows += scenarios.one_percent(fleet, runs)[0]
    out.rows += scenarios.simulator(fleet, runs)
    say(f"{fleet.size:,} CTs: admin script ({scenarios.admin_runs(fleet.size, runs)} runs)")
    out.rows.append(scenarios.admin(fleet, runs))
    scenarios.still_converged(fleet)


def measure_controller(fleet: Fleet, args: argparse.Namespace, work: Path, out: Outcome) -> None:
    say(f"controller on {fleet.size:,} CTs: --watch, webhook, idle {args.idle_seconds:.0f} s")
    setting = [r for r in out.rows if r.scenario == "simulator: vzctl set" and r.size == fleet.size]
    out.set_wall = setting[0].result.wall
    out.latencies.append(watch_latency(fleet, args.runs, work, out.issues))
    out.latencies.append(webhook_latency(fleet, args.runs, work, out.issues))
    out.idle = idle_cpu(fleet, args.idle_seconds, work, out.issues)


def _size_of(target: Target) -> int:
    return 10000 if "10,000" in target.name else 1000 if "1,000" in target.name else 0


def profile_misses(fleets: dict[int, Fleet], out: Outcome) -> None:
    """For each size with a missed target: where vzgitops's CPU (and, for RSS, memory) goes."""
    results = Results(out.rows, out.latencies, out.idle, out.set_wall, out.issues)
    missed = [t for t in judge(results) if t.status == "missed" and _size_of(t) in fleets]
    for size in sorted({_size_of(t) for t in missed}):
        fleet = fleets[size]
        args = ["apply", *fleet.source_args]
        say(f"profiling a no-op apply at {size:,} CTs")
        parts = [
            "CPU by step (no profiler):\n" + stage_times(fleet.repo, fleet.state, fleet.env),
            cprofile_top(args, fleet.env),
            import_times(args, fleet.env),
        ]
        if any("RSS" in t.name and _size_of(t) == size for t in missed):
            parts.append(
                "Python allocations by step (tracemalloc):\n" + memory_phases(fleet.repo, fleet.env)
            )
        out.profiles[size] = parts


def measure(args: argparse.Namespace, work: Path, nodes: Path) -> Outcome:
    out = Outcome()
    fleets: dict[int, Fleet] = {}
    controller_size = CONTROLLER_SIZE if CONTROLLER_SIZE in args.sizes else max(args.sizes)
    for size in args.sizes:
        say(f"building a converged fleet of {size:,} containers")
        fleets[size] = build_fleet(work / f"fleet-{size}", nodes / f"fleet-{size}", size)
        measure_size(fleets[size], args.runs, out)
        if size == controller_size and not args.no_controller:
            measure_controller(fleets[size], args, work / f"fleet-{size}", out)
    say(f"validate: {args.validate_files:,} files")
    out.rows.append(scenarios.validate(work, args.validate_files, args.runs))
    profile_misses(fleets, out)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    command = " ".join(
        [".venv/bin/python -m benchmarks.run", *(sys.argv[1:] if argv is None else argv)]
    )
    machine: Machine = describe()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="vzgitops-bench-"))
    nodes = node_root(args, work)
    started = time.monotonic()
    try:
        out = measure(args, work, nodes)
    finally:
        shutil.rmtree(nodes, ignore_errors=True)
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    results = Results(out.rows, out.latencies, out.idle, out.set_wall, out.issues)
    facts = {
        "command": command,
        "nodes": str(nodes.parent),
        "minutes": f"{(time.monotonic() - started) / 60:.1f}",
        "budget": f"{scenarios.ADMIN_CALL_BUDGET:,}",
        "controller": f"{CONTROLLER_SIZE if CONTROLLER_SIZE in args.sizes else max(args.sizes):,}",
    }
    targets = judge(results)
    print(render_text(results, targets, machine, facts))
    args.out.write_text(render_markdown(results, targets, machine, facts, out.profiles))
    say(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
