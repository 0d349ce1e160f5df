"""Run the vzgitops CLI like its console script does, then report where the CPU went.

    python benchmarks/selfusage.py OUT.json ARGS...   # == vzgitops ARGS..., plus OUT.json

`os.wait4` on a process reports it *and* its reaped children (Linux returns RUSAGE_BOTH), so a
parent cannot separate vzgitops from the vzlist/vzctl processes it waits for. This wrapper runs
`reconciler.cli.main` in its own process and writes its RUSAGE_SELF (the vzgitops process alone:
user+sys of every thread), its peak RSS (VmHWM) and the CPU of each child it reaped, by program (git, vzlist,
vzctl), found by recording every `subprocess.Popen` and reaping with `wait4` (a child reaped
another way, e.g. by `Popen.poll`, is counted as `other`).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from typing import Any

_programs: dict[int, str] = {}
_children: dict[str, float] = {}


def _record_popen(original: Callable[..., None]) -> Callable[..., None]:
    def init(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        original(self, args, *rest, **kwargs)
        first = args if isinstance(args, str | bytes) else next(iter(args), "")
        _programs[self.pid] = os.path.basename(os.fsdecode(first))

    return init


def _waitpid(pid: int, options: int) -> tuple[int, int]:
    got, status, usage = os.wait4(pid, options)
    if got:
        program = _programs.pop(got, "other")
        program = program if program in ("git", "vzlist", "vzctl") else "other"
        _children[program] = _children.get(program, 0.0) + usage.ru_utime + usage.ru_stime
    return got, status


def _peak_rss_kib() -> int:
    """VmHWM: the peak RSS since exec. ru_maxrss would also count the parent's pages at fork."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _report(path: str) -> None:
    me = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    unattributed = reaped.ru_utime + reaped.ru_stime - sum(_children.values())
    usage = {
        "cpu": me.ru_utime + me.ru_stime,
        "maxrss_kib": _peak_rss_kib(),
        "children": {**_children, "other": _children.get("other", 0.0) + max(0.0, unattributed)},
    }
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(usage, handle)


def main() -> int:
    out, argv = sys.argv[1], sys.argv[2:]
    subprocess.Popen.__init__ = _record_popen(subprocess.Popen.__init__)  # type: ignore[method-assign]
    os.waitpid = _waitpid
    from reconciler.cli import main as vzgitops

    try:
        return vzgitops(argv)
    finally:
        _report(out)


if __name__ == "__main__":
    sys.exit(main())
