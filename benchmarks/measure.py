"""Running one measured command: wall time, CPU by process, peak RSS, and the node's call counts.

`run_vzgitops` starts the real CLI as a subprocess (through `selfusage.py`, which reports the
vzgitops process's own CPU and peak RSS apart from its children); `run_process` times any other
command, whose CPU (with its children's) comes from `os.wait4`. Calls to vzlist and vzctl are
counted from the simulated node's operation log, read from where it ended before the command.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SELFUSAGE = Path(__file__).with_name("selfusage.py")


@dataclass(frozen=True)
class Sample:
    """One run of one command."""

    wall: float
    cpu: float
    maxrss_kib: int
    code: int
    stdout: str
    stderr: str
    children: Mapping[str, float] = field(default_factory=dict)
    vzlist: int = 0
    vzctl: int = 0
    vzctl_verbs: tuple[str, ...] = ()

    def check(self, expected: int = 0) -> Sample:
        if self.code != expected:
            raise RuntimeError(
                f"exit {self.code}, expected {expected}:\n{self.stdout[-2000:]}\n{self.stderr[-2000:]}"
            )
        return self


class Oplog:
    """Counts the calls a node's operation log gained since `mark`."""

    def __init__(self, node: Path) -> None:
        self.path = node / "oplog.jsonl"
        self.offset = 0

    def mark(self) -> None:
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def entries(self) -> list[dict[str, object]]:
        if not self.path.exists():
            return []
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            lines = handle.read().decode("utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]


def run_process(
    argv: Sequence[str], env: Mapping[str, str], oplog: Oplog | None = None, cwd: Path | None = None
) -> Sample:
    """Run `argv`; CPU and RSS include its children (wait4 reports RUSAGE_BOTH)."""
    if oplog is not None:
        oplog.mark()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), env=dict(env), stdout=out, stderr=err, text=True, cwd=cwd
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        sample = Sample(
            wall=wall,
            cpu=usage.ru_utime + usage.ru_stime,
            maxrss_kib=usage.ru_maxrss,
            code=proc.returncode,
            stdout=out.read(),
            stderr=err.read(),
        )
    return _counted(sample, oplog)


def _counted(sample: Sample, oplog: Oplog | None) -> Sample:
    if oplog is None:
        return sample
    entries = oplog.entries()
    verbs = tuple(str(e.get("verb")) for e in entries if e.get("tool") == "vzctl")
    vzlist = sum(1 for e in entries if e.get("tool") == "vzlist")
    return Sample(
        **{**sample.__dict__, "vzlist": vzlist, "vzctl": len(verbs), "vzctl_verbs": verbs}
    )


def run_vzgitops(args: Sequence[str], env: Mapping[str, str], oplog: Oplog | None = None) -> Sample:
    """`vzgitops ARGS` as a subprocess; CPU and RSS are the vzgitops process's own."""
    fd, report = tempfile.mkstemp(prefix="vzgitops-usage-", suffix=".json")
    os.close(fd)
    try:
        whole = run_process([sys.executable, str(SELFUSAGE), report, *args], env, oplog)
        usage = json.loads(Path(report).read_text(encoding="utf-8") or "{}")
    finally:
        os.unlink(report)
    if not usage:
        raise RuntimeError(f"vzgitops {' '.join(args)} did not report its usage:\n{whole.stderr}")
    return Sample(
        **{
            **whole.__dict__,
            "cpu": usage["cpu"],
            "maxrss_kib": usage["maxrss_kib"],
            "children": usage["children"],
        }
    )


def timed(argv: list[str]) -> float:
    """Wall seconds of one command that must succeed (the side-by-side benchmarks)."""
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{argv[0]} failed (exit {done.returncode}): {done.stdout}{done.stderr}")
    return seconds


def ms(seconds: float) -> str:
    """A duration for the tables: milliseconds below 10 s."""
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


@dataclass(frozen=True)
class Summary:
    """Medians of several samples of one scenario."""

    runs: int
    wall: float
    cpu: float
    maxrss_kib: int
    vzlist: int
    vzctl: int
    git_cpu: float = 0.0
    sim_cpu: float = 0.0
    note: str = ""


def summarize(samples: Sequence[Sample], note: str = "") -> Summary:
    def med(values: Sequence[float]) -> float:
        return float(statistics.median(values))

    return Summary(
        runs=len(samples),
        wall=med([s.wall for s in samples]),
        cpu=med([s.cpu for s in samples]),
        maxrss_kib=max(s.maxrss_kib for s in samples),
        vzlist=max(s.vzlist for s in samples),
        vzctl=max(s.vzctl for s in samples),
        git_cpu=med([s.children.get("git", 0.0) for s in samples]),
        sim_cpu=med(
            [s.children.get("vzlist", 0.0) + s.children.get("vzctl", 0.0) for s in samples]
        ),
        note=note,
    )
