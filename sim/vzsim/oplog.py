"""The operation log of a simulated node: one JSON line per mutating vzctl call or vzlist call.

Tests and benchmarks count calls with it (`read_oplog`). Each line is appended with a single
O_APPEND write, so concurrent simulated processes never interleave partial lines.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _string(text: str) -> str:
    """A JSON string (what json.dumps gives with ensure_ascii=False), without importing json."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch < " " or "\ud800" <= ch <= "\udfff":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def encode(tool: str, verb: str, ctid: int | None, argv: list[str], rc: int) -> str:
    """One oplog line: {"ts","tool","verb","ctid","argv","rc"}."""
    args = ",".join(_string(a) for a in argv)
    return (
        f'{{"ts":{time.time():.6f},"tool":{_string(tool)},"verb":{_string(verb)},'
        f'"ctid":{"null" if ctid is None else ctid},"argv":[{args}],"rc":{rc}}}\n'
    )


def append(path: str, tool: str, verb: str, ctid: int | None, argv: list[str], rc: int) -> None:
    """Record one call; never fails the call it records."""
    line = encode(tool, verb, ctid, argv, rc).encode("utf-8")
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
    import json

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
