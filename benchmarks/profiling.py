"""Where the time goes, for a target that is missed: cProfile and `python -X importtime`.

    python -m benchmarks.profiling LIMIT ARGS...    # vzgitops ARGS in-process under cProfile
    python -m benchmarks.profiling --memory REPO    # Python allocations per step of a plan
    python -m benchmarks.profiling --stages REPO STATE   # CPU time per step of a plan

The profile uses CPU time (`time.process_time`) as its clock, so waiting for vzlist does not show
up as vzgitops's own cost; it covers the imports too (the profiler starts before the CLI module
is imported) but inflates it several times over, so `stage_times` first gives the CPU time of each
step without a profiler. `import_times` runs the CLI under `-X importtime` and sums what it reports;
`memory_phases` shows which step of a plan holds how much memory, for a missed peak-RSS target.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import pstats
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from benchmarks.measure import SELFUSAGE

ROOT = Path(__file__).resolve().parents[1]
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def _in_fresh_process(
    args: Sequence[str], env: Mapping[str, str], what: str, ok: tuple[int, ...] = (0,)
) -> str:
    """`python -m benchmarks.profiling ARGS` in its own process; its output, or RuntimeError."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.profiling", *args],
        env=dict(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in ok:
        raise RuntimeError(f"{what} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def cprofile_top(args: Sequence[str], env: Mapping[str, str], limit: int = 15) -> str:
    """Top `limit` functions by cumulative CPU time of `vzgitops ARGS` in a fresh process."""
    what = f"profiling vzgitops {' '.join(args)}"
    return _trim(_in_fresh_process([str(limit), *args], env, what, ok=(0, 2)))


def _trim(report: str) -> str:
    """The pstats table without its blank and header lines, paths shortened to the repository."""
    lines = [line.replace(str(ROOT) + "/", "") for line in report.splitlines() if line.strip()]
    return "\n".join(line for line in lines if not line.lstrip().startswith(("Ordered", "List")))


def import_times(args: Sequence[str], env: Mapping[str, str], limit: int = 10) -> str:
    """Total import time of `vzgitops ARGS` and the slowest top-level imports (cumulative)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(SELFUSAGE), "/dev/null", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    entries = [m.groups() for m in map(_IMPORT_LINE.match, done.stderr.splitlines()) if m]
    total = sum(int(own) for own, _, _, _ in entries) / 1000
    top = sorted(((int(cum), name) for _, cum, pad, name in entries if len(pad) == 1), reverse=True)
    lines = [f"total import time: {total:.0f} ms (sum of every module's own time)"]
    lines += [f"  {cum / 1000:7.1f} ms  {name}" for cum, name in top[:limit]]
    return "\n".join(lines)


def memory_phases(repo: Path, env: Mapping[str, str]) -> str:
    """Python allocations (tracemalloc) kept after, and at most during, each step of a plan."""
    what = f"measuring memory of {repo}"
    return _in_fresh_process(["--memory", str(repo)], env, what).rstrip()


def stage_times(repo: Path, state: Path, env: Mapping[str, str]) -> str:
    """CPU time of each step of a no-op plan, measured without a profiler."""
    what = f"timing the steps of a plan of {repo}"
    return _in_fresh_process(["--stages", str(repo), str(state)], env, what).rstrip()


def _stages(repo: str, state: str) -> None:
    """The steps of a no-op `plan` as the CLI runs them, each timed; the cached desired state
    (the steady state) and what the first run at a tree does instead are both shown."""
    clock = time.process_time
    mark = [clock()]

    def step(name: str) -> None:
        now = clock()
        print(f"{name:<68} {(now - mark[0]) * 1000:7.0f} ms")
        mark[0] = clock()

    import gc

    from reconciler import apply, cli, reconcile, report  # noqa: F401 - as apply does
    from reconciler.cli.steps import conf_dir
    from reconciler.node.observe import VZLIST_ARGV, listed_values, read_saved
    from reconciler.node.observe import _build as build_observed
    from reconciler.node.process import SubprocessRunner
    from reconciler.plan import Policy, plan
    from reconciler.revcache import DesiredCache
    from reconciler.source import LocalSource
    from reconciler.state import StateDir

    gc.set_threshold(cli.BATCH_GC_THRESHOLD, *gc.get_threshold()[1:])  # as the CLI runs
    step(f"Python start-up and imports (after {mark[0] * 1000:.0f} ms)")
    source = LocalSource(repo)
    commit = source.locate(None)
    step("locate the commit and its tree (git rev-parse, cat-file)")
    cached = DesiredCache(Path(state)).get(commit, source.limits)
    step("desired state from the cache" + ("" if cached else " (a miss: nothing cached)"))
    from reconciler.spec.load import load_desired

    step("  first run at a tree instead: import the YAML reader and checks")
    revision = source.read_at(commit)
    step("  first run at a tree instead: read the blobs (ls-tree, cat-file)")
    desired = load_desired(revision.files)
    step("  first run at a tree instead: YAML, pydantic, cross-document checks")
    listed = SubprocessRunner()(VZLIST_ARGV)
    step("observe: run vzlist (this process's side)")
    values = listed_values(listed.stdout)
    step("observe: parse vzlist's JSON")
    saved = read_saved(conf_dir(None))
    step("observe: read every CTID.conf into saved values")
    observed = build_observed(values, saved, True, ())
    step("observe: assemble the observed state")
    result = plan(desired.containers, observed, StateDir(Path(state)).load_inventory(), Policy())
    step("plan")
    report.render(report.build_report(result), "text")
    step("report")


def _memory(repo: str) -> None:
    import tracemalloc

    from reconciler.cli.steps import conf_dir
    from reconciler.node.access import LocalAccess
    from reconciler.node.observe import observe
    from reconciler.node.process import SubprocessRunner
    from reconciler.plan import Inventory, Policy, plan
    from reconciler.source import read_revision
    from reconciler.spec.load import load_desired

    def step(name: str) -> None:
        kept, peak = tracemalloc.get_traced_memory()
        print(f"{name:<36} kept {kept / 2**20:6.1f} MiB   peak during it {peak / 2**20:6.1f} MiB")
        tracemalloc.reset_peak()

    tracemalloc.start()
    revision = read_revision(repo)
    step("read the revision (git blobs)")
    desired = load_desired(revision.files)
    step("load and validate the desired state")
    observed = observe(LocalAccess(SubprocessRunner(), conf_dir(None)))
    step("observe (vzlist JSON, CTID.conf)")
    plan(desired.containers, observed, Inventory(owned=frozenset(observed.containers)), Policy())
    step("plan")


def main() -> int:
    if sys.argv[1] == "--memory":
        _memory(sys.argv[2])
        return 0
    if sys.argv[1] == "--stages":
        _stages(sys.argv[2], sys.argv[3])
        return 0
    limit, args = int(sys.argv[1]), sys.argv[2:]
    profiler = cProfile.Profile(time.process_time)
    with contextlib.redirect_stdout(io.StringIO()):
        profiler.enable()
        from reconciler.cli import main as vzgitops

        code = vzgitops(args)
        profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(limit)
    return code


if __name__ == "__main__":
    sys.exit(main())
