"""The measured scenarios, each on a converged fleet; every one checks what it measures.

A scenario returns `Row`s of medians; it fails loudly when the behaviour is wrong (a no-op that
calls vzctl, a 1% change that is not one `vzctl set` per changed container, a plan that is not
empty afterwards), so the numbers are never of something that did not happen.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.fleet import Fleet, ctids, make_repository
from benchmarks.measure import Oplog, Sample, Summary, run_process, run_vzgitops, summarize
from reconciler.node.observe import VZLIST_ARGV
from reconciler.revcache import DIRNAME

ADMIN_SCRIPT = Path(__file__).with_name("admin_set_all.py")
ADMIN_CALL_BUDGET = 2000  # vzctl calls per size for the admin script (10,000 CTs: one run)


@dataclass(frozen=True)
class Row:
    scenario: str
    size: int
    result: Summary


def repeat(runs: int, once: Callable[[], Sample]) -> list[Sample]:
    return [once() for _ in range(runs)]


def expect(samples: Sequence[Sample], vzctl: int, what: str) -> None:
    """The behaviour being timed: exactly `vzctl` vzctl calls (vzlist calls are only counted)."""
    for sample in samples:
        if sample.vzctl != vzctl:
            raise RuntimeError(
                f"{what}: {sample.vzctl} vzctl calls "
                f"({', '.join(sample.vzctl_verbs[:5])}...), expected {vzctl}"
            )


COLD = "first run at a tree"


def noop(fleet: Fleet, runs: int) -> list[Row]:
    """`vzgitops plan` and `apply` on a node that already matches git (exit 0: no changes).

    First with the state directory's cached desired state removed before every run (what the
    first run after a commit pays: every blob read, parsed and validated), then as a node
    reconciled every minute runs: the tree validated by the run before."""
    oplog = Oplog(fleet.node)
    rows = []
    for cold in (True, False):
        for command in ("plan", "apply"):
            argv = [command, *fleet.source_args, "--detailed-exitcode"]
            samples = [_noop_once(fleet, argv, oplog, cold) for _ in range(runs)]
            name = f"no-op {command}" + (f", {COLD}" if cold else "")
            rows.append(Row(name, fleet.size, summarize(samples)))
    return rows


def _noop_once(fleet: Fleet, argv: list[str], oplog: Oplog, cold: bool) -> Sample:
    if cold:
        shutil.rmtree(fleet.state / DIRNAME, ignore_errors=True)
    return run_vzgitops(argv, fleet.env, oplog).check(0)


def chosen_one_percent(size: int) -> list[int]:
    count = max(1, size // 100)
    return ctids(size)[:: size // count][:count]


def one_percent(fleet: Fleet, runs: int) -> tuple[list[Row], list[Sample]]:
    """Commit cpus 1<->2 on 1% of the containers, then `plan` and `apply` it."""
    chosen = chosen_one_percent(fleet.size)
    oplog = Oplog(fleet.node)
    plans, applies = [], []
    for _ in range(runs):
        fleet.change_cpus(chosen, 3 - fleet.cpus[chosen[0]])
        plans.append(run_vzgitops(["plan", *fleet.source_args, "--detailed-exitcode"],
                                  fleet.env, oplog).check(2))  # fmt: skip
        applies.append(run_vzgitops(["apply", *fleet.source_args, "--detailed-exitcode"],
                                    fleet.env, oplog).check(2))  # fmt: skip
        if set(applies[-1].vzctl_verbs) != {"set"}:
            raise RuntimeError(f"1% change ran {applies[-1].vzctl_verbs[:5]}, not only vzctl set")
    expect(plans, 0, "1% change: plan")
    expect(applies, len(chosen), "1% change: apply (one vzctl set per changed container)")
    note = f"{len(chosen)} changed"
    return [Row("1% change: plan", fleet.size, summarize(plans, note)),
            Row("1% change: apply", fleet.size, summarize(applies, note))], applies  # fmt: skip


def validate(root: Path, files: int, runs: int) -> Row:
    """`vzgitops validate` of a repository of `files` one-container files (no node involved)."""
    repo = root / f"validate-{files}"
    make_repository(repo, files)
    samples = repeat(
        runs, lambda: run_vzgitops(["validate", "--repo", str(repo)], os.environ).check(0)
    )
    return Row(f"validate ({files:,} files)", files, summarize(samples))


def simulator(fleet: Fleet, runs: int) -> list[Row]:
    """The simulator's own cost: one vzlist as observe runs it, one no-change vzctl set."""
    oplog = Oplog(fleet.node)
    listing = repeat(runs, lambda: run_process(VZLIST_ARGV, fleet.env, oplog).check(0))
    ctid = ctids(fleet.size)[0]
    argv = ["vzctl", "set", str(ctid), "--cpus", str(fleet.cpus[ctid]), "--save"]
    setting = repeat(runs, lambda: run_process(argv, fleet.env, oplog).check(0))
    return [Row("simulator: vzlist -a -j -o", fleet.size, summarize(listing)),
            Row("simulator: vzctl set", fleet.size, summarize(setting))]  # fmt: skip


def admin_runs(size: int, runs: int) -> int:
    return max(1, min(runs, ADMIN_CALL_BUDGET // size))


def admin(fleet: Fleet, runs: int) -> Row:
    """The alternative script: one `vzctl set` with every option per container, every run."""
    argv = [sys.executable, str(ADMIN_SCRIPT), str(fleet.repo)]
    oplog = Oplog(fleet.node)
    samples = repeat(
        admin_runs(fleet.size, runs), lambda: run_process(argv, fleet.env, oplog).check(0)
    )
    expect(samples, fleet.size, "admin script")
    return Row("admin script: set everything", fleet.size, summarize(samples))


def still_converged(fleet: Fleet) -> None:
    run_vzgitops(["plan", *fleet.source_args, "--detailed-exitcode"], fleet.env).check(0)
