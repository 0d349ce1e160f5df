"""The results as tables (plain text for the terminal, markdown for BENCHMARKS.md) and targets.

Pure: rows and machine facts in, text out. Each target is judged from the same rows the table
shows, as met, missed or not measured (when the sizes it needs were not run).
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.controller_latency import Idle, Latency
from benchmarks.machine import Machine
from benchmarks.measure import ms
from benchmarks.scenarios import Row
from benchmarks.targets import Results, Target

Cells = list[str]


def _whose(scenario: str) -> str:
    if scenario.startswith("simulator"):
        return "the simulated tool"
    if scenario.startswith("admin"):
        return "script + its vzctl"
    return "vzgitops only"


def row_cells(row: Row) -> Cells:
    r = row.result
    vzgitops = _whose(row.scenario) == "vzgitops only"
    children = f"{ms(r.git_cpu)} / {ms(r.sim_cpu)}" if vzgitops else "-"
    return [row.scenario, f"{row.size:,}", str(r.runs), ms(r.wall), ms(r.cpu), _whose(row.scenario),
            children, f"{r.maxrss_kib / 1024:.0f} MB" if vzgitops else "-", str(r.vzlist), str(r.vzctl), r.note]  # fmt: skip


MAIN_HEADERS = ["scenario", "CTs", "runs", "wall", "CPU", "CPU of", "git / vzlist+vzctl CPU",
                "peak RSS", "vzlist", "vzctl", "note"]  # fmt: skip


def comparison(rows: Sequence[Row]) -> list[Cells]:
    """vzgitops apply beside the admin script, per size and scenario."""
    by = {(r.scenario, r.size): r.result for r in rows}
    out = []
    for (scenario, size), alt in sorted(by.items(), key=lambda kv: kv[0][1]):
        if scenario != "admin script: set everything":
            continue
        for ours in ("no-op apply", "1% change: apply"):
            mine = by.get((ours, size))
            if mine is not None:
                out.append([f"{size:,}", ours, ms(mine.wall), str(mine.vzctl), ms(alt.wall),
                            str(alt.vzctl), f"{alt.wall / mine.wall:.1f}x"])  # fmt: skip
    return out


COMPARISON_HEADERS = ["CTs", "vzgitops", "wall", "vzctl calls", "admin script wall",
                      "admin vzctl calls", "admin / vzgitops"]  # fmt: skip


def latency_cells(latencies: Sequence[Latency], set_wall: float) -> list[Cells]:
    return [[lat.trigger, str(lat.rounds), ms(lat.to_set), ms(lat.to_set - set_wall),
             ms(lat.to_set_max), ms(lat.to_applied)] for lat in latencies]  # fmt: skip


LATENCY_HEADERS = ["trigger", "rounds", "to vzctl set in oplog (median)",
                   "minus one vzctl set", "worst", "to revision.applied (median)"]  # fmt: skip


def idle_line(idle: Idle) -> str:
    own = idle.own_cpu / idle.seconds * 100
    children = idle.children_cpu / idle.seconds * 100
    return (f"idle over {idle.seconds:.0f} s: controller process {own:.2f}% of a core, "
            f"children it waited for {children:.2f}%")  # fmt: skip


def text_table(headers: Sequence[str], rows: Sequence[Cells]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def markdown_table(headers: Sequence[str], rows: Sequence[Cells]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_lines(machine: Machine, facts: dict[str, str]) -> list[str]:
    return [
        f"machine: {machine.cpu}, {machine.cores} cores, {machine.ram_gib:.1f} GiB RAM, "
        f"{machine.os}, Python {machine.python}",
        f"vzgitops commit: {machine.commit}",
        f"command: {facts['command']} ({facts['minutes']} min)",
    ]


def sections(results: Results) -> list[tuple[str, Sequence[str], list[Cells]]]:
    """(title, headers, rows) of every table that has rows."""
    tables = [
        ("Reconcile, validate, simulator and the admin script (medians)", MAIN_HEADERS,
         [row_cells(r) for r in results.rows]),
        ("vzgitops apply vs the admin script", COMPARISON_HEADERS, comparison(results.rows)),
        ("Controller: commit-to-applied", LATENCY_HEADERS,
         latency_cells(results.latencies, results.set_wall)),
    ]  # fmt: skip
    return [(title, headers, rows) for title, headers, rows in tables if rows]


def target_cells(targets: Sequence[Target]) -> list[Cells]:
    return [[t.name, t.status, t.measured] for t in targets]


def render_text(
    results: Results, targets: Sequence[Target], machine: Machine, facts: dict[str, str]
) -> str:
    parts = machine_lines(machine, facts)
    for title, headers, rows in sections(results):
        parts += ["", title, text_table(headers, rows)]
    if results.idle is not None:
        parts += ["", idle_line(results.idle)]
    parts += ["", "Targets", text_table(["target", "status", "measured"], target_cells(targets))]
    parts += [f"issue: {issue}" for issue in results.issues]
    return "\n".join(parts) + "\n"


METHOD = """\
## How it is measured

- Each size gets a converged fleet: a git work tree with one YAML file per container (the
  source reads at most 5,000 files, so at 10,000 containers two documents share a file), and a
  simulated node built by running vzgitops's own plan for it through the simulator's vzctl code
  in-process (`sim/vzsim/bulkcalls.py`: the files real `vzctl create`, `set --save` and
  `start` leave; `tests/sim/test_bulkcalls.py` compares them with real calls). The simulated
  nodes live on tmpfs ({nodes}) to make building them fast; repositories and vzgitops's state
  directory are on disk.
- `vzgitops plan|apply|validate` run as subprocesses, the real CLI path, through
  `benchmarks/selfusage.py`, which runs the CLI's `main` like the console script and reports the
  vzgitops process's own CPU (user+sys, RUSAGE_SELF) and peak RSS (VmHWM). `os.wait4` on the
  direct child cannot do this on Linux: it returns the child's usage *including* its reaped
  children (RUSAGE_BOTH), i.e. with vzlist/vzctl in it, and its ru_maxrss also counts the
  parent's pages at fork. The CPU of the children vzgitops waited for is shown apart: git
  (`rev-parse`, `cat-file --batch`, `ls-tree`, run through GitPython) and the simulator's
  vzlist/vzctl. Targets are judged on the medians; runs vary by a few percent.
- vzlist and vzctl calls are counted from the node's `oplog.jsonl`.
- "no-op plan|apply" is the steady state of a node reconciled on a schedule: the tree at the
  ref already validated in an earlier run, so its desired state comes from the state
  directory's cache (`reconciler/revcache.py`, validated again by pydantic on the way in) and no
  blob is read. "no-op ..., first run at a tree" removes that cache before every run: every
  blob is read from git, parsed and validated, as in the first run after a commit.
- "1% change" commits `cpus` 1 <-> 2 on every 100th container (at least one), then runs `plan`
  and `apply`; apply is checked to make exactly one `vzctl set` per changed container (and no
  other vzctl call).
- The admin script (`benchmarks/admin_set_all.py`) runs `vzctl set CTID ... --save` with every
  option for every container on each run; it runs at most {budget} vzctl calls per size (so
  once at 10,000 containers), and the node is checked to be still converged afterwards.
- Simulator rows are the simulated tool alone (`vzlist -a -j -o` exactly as observe runs it; a
  `vzctl set` that changes nothing), so a slow simulator cannot hide a slow reconciler.
- Controller: `vzgitops run` on the {controller}-container fleet. `--watch` follows the work
  tree (clock starts when `git commit` returns); the webhook run follows a file:// bare
  repository (clock starts when the GitHub-signed POST is sent, after `git push`). "minus one
  vzctl set" subtracts the median `vzctl set` of the simulator rows at that size. Idle CPU is read
  from /proc for a controller started as a user would (`--watch`, a webhook listener, default
  `--interval` 60 s and `--drift-interval` 5 min), after its first cycle.
"""


def render_markdown(
    results: Results,
    targets: Sequence[Target],
    machine: Machine,
    facts: dict[str, str],
    profiles: dict[int, list[str]],
) -> str:
    parts = ["# Benchmarks", "", "Generated by `make bench`; do not edit by hand.", ""]
    parts += [f"- {line}" for line in machine_lines(machine, facts)]
    parts += ["", "## Targets (2-core machine)", ""]
    parts.append(markdown_table(["target", "status", "measured"], target_cells(targets)))
    for title, headers, rows in sections(results):
        parts += ["", f"## {title}", "", markdown_table(headers, rows)]
    if results.idle is not None:
        parts += ["", idle_line(results.idle) + "."]
    if results.issues:
        parts += ["", "## Problems seen while measuring", ""]
        parts += [f"- {issue}" for issue in results.issues]
    for size, profile in sorted(profiles.items()):
        parts += ["", f"## Where it goes: no-op apply at {size:,} containers", ""]
        parts += ["CPU time by step without a profiler; cProfile (process time, top 15 by",
                  "cumulative time; the profiler inflates times several-fold, read proportions);",
                  "import times; and, for a missed RSS target, memory by step:", ""]  # fmt: skip
        parts += ["```", "\n\n".join(profile), "```"]
    parts += ["", METHOD.format(**facts)]
    return "\n".join(parts)
