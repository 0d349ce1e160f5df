"""Building big simulated nodes by running vzctl's own code in this process (benchmarks, tests).

`run_calls(DIR, calls)` runs each vzctl command line through `vzctl.main`, the code
`DIR/bin/vzctl` runs in a fresh process, so the node is left exactly as those calls would leave
it (config files, names, private areas, kernel records, guest files) without paying a process
start-up per call. `bulk.populate` is faster but writes only a sample-based config; use this
when containers need the files `create`, `set --save` and `start` leave behind. The calls are
not calls anyone made to the node, so the operation log is left as it was.
"""

from __future__ import annotations

import io
import os
import sys

from vzsim import vzctl
from vzsim.layout import Node

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


class CallFailed(RuntimeError):
    """One of the command lines exited non-zero; the message has its output."""


def run_calls(state_dir: str, calls: Iterable[Sequence[str]]) -> int:
    """Run `vzctl ARGS...` for each ARGS in order, stopping at the first failure; returns the count."""
    node = Node(state_dir)
    prog = os.path.join(node.root, "bin", "vzctl")
    logged = os.path.getsize(node.oplog_path) if os.path.exists(node.oplog_path) else None
    output = io.StringIO()
    saved = sys.stdout, sys.stderr
    count = 0
    try:
        sys.stdout = sys.stderr = output
        for argv in calls:
            output.seek(0)
            output.truncate()
            rc = vzctl.main([prog, *argv], node.root)
            if rc != 0:
                shown = " ".join(argv)
                raise CallFailed(f"vzctl {shown} exited {rc}: {output.getvalue().strip()}")
            count += 1
    finally:
        sys.stdout, sys.stderr = saved
        _restore_oplog(node.oplog_path, logged)
    return count


def _restore_oplog(path: str, size: int | None) -> None:
    if size is None:
        if os.path.exists(path):
            os.unlink(path)
        return
    os.truncate(path, size)
