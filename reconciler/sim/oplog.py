"""The operation log of a simulated node: one JSON line per mutating vzctl call or vzlist call.

Tests and benchmarks count calls with it (`read_oplog`). Each line is appended with a single
O_APPEND write, so concurrent simulated processes never interleave partial lines.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any


def append(path: str, tool: str, verb: str, ctid: int | None, argv: list[str], rc: int) -> None:
    """Record one call; never fails the call it records."""
    entry = {"ts": round(time.time(), 6), "tool": tool, "verb": verb, "ctid": ctid}
    entry |= {"argv": argv, "rc": rc}
    line = (json.dumps(entry, separators=(",", ":")) + "\n").encode("utf-8", "surrogateescape")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError:
        return
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_oplog(state_dir: str) -> list[dict[str, Any]]:
    """Every recorded call of the node at `state_dir`, oldest first ([] when none)."""
    try:
        with open(os.path.join(state_dir, "oplog.jsonl"), encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return []
    out: list[dict[str, Any]] = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out
