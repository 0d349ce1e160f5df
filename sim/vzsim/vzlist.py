"""The simulated `vzlist` (vzctl 4.11.1 src/vzlist.c on an OpenVZ kernel): `main(argv, dir)`.

Running containers come from the simulated kernel (`DIR/run`): live IPs without masks, UBC
held/barrier/limit, fairsched-rounded cpulimit/cpuunits, vzquota disk usage. Stopped ones
come from their config, read only for the keys the requested fields need, so a listing of
10,000 containers stays fast. Stopped containers without a private area are hidden.
"""

from __future__ import annotations

import io
import os
import sys
import time

from vzsim import faults, getopt, listdata, oplog, vzsort
from vzsim.layout import Node
from vzsim.listfields import (
    BY_NAME,
    FIELDS,
    RUNNING,
    Field,
    Ve,
    header,
    json_object,
    text_row,
)
from vzsim.output import raw_bytes_ok

DEFAULT_FIELDS = "ctid,numproc,status,ip,hostname"
NAME_FIELDS = "smart_name,numproc,status,ip,hostname"
LONGOPTS = [
    getopt.LongOpt(n, a, v)
    for n, a, v in (("no-header", 0, "H"), ("no-trim", 0, "t"), ("stopped", 0, "S"),
                    ("all", 0, "a"), ("name", 0, "n"), ("json", 0, "j"),
                    ("name_filter", 1, "N"), ("hostname", 1, "h"), ("description", 1, "d"),
                    ("output", 1, "o"), ("sort", 1, "s"), ("list", 0, "L"), ("help", 0, "e"))
]  # fmt: skip


class Options:
    """Parsed command line (the globals of vzlist.c)."""

    def __init__(self) -> None:
        self.all = self.stopped = self.json = False
        self.header = self.trim = True
        self.order: str | None = None
        self.sort: tuple[int, bool] | None = None
        self.patterns: dict[str, str] = {}
        self.ids: list[int] | None = None


def _usage() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "data", "vzlist-usage.txt"), encoding="utf-8") as fh:
        sys.stdout.write(fh.read())


def _parse(argv: list[str], node: Node) -> Options | int:
    opts = Options()
    parsed = getopt.parse(argv[0], argv[1:], "HtSanjN:h:d:o:s:Le1", LONGOPTS)
    for val, arg, _ in parsed.opts:
        rc = _option(opts, val, arg)
        if rc is not None:
            return rc
    if parsed.error:
        sys.stderr.write(parsed.error)
        _usage()
        return 1
    return _ids(opts, parsed.operands, node)


def _option(opts: Options, val: str, arg: str) -> int | None:
    flags = {"S": "stopped", "a": "all", "j": "json"}
    if val in flags:
        setattr(opts, flags[val], True)
    elif val in ("t", "H"):
        setattr(opts, "trim" if val == "t" else "header", False)
    elif val == "L":
        sys.stdout.write("".join(f"{f.name:<15} {f.header:<15}\n" for f in FIELDS))
        return 0
    elif val in ("h", "d", "N"):
        opts.patterns[{"h": "hostname", "d": "description", "N": "name"}[val]] = arg
    elif val == "o":
        opts.order = arg
    elif val == "s":
        index = BY_NAME.get(arg[1:] if arg.startswith("-") else arg)
        if index is None:
            sys.stderr.write(f"Invalid sort field name: {arg}\n")
            return 1
        opts.sort = (index, arg.startswith("-"))
    elif val in ("1", "n"):
        opts.order = "veid" if val == "1" else NAME_FIELDS
        opts.header = opts.header and val != "1"
    else:
        _usage()
        return 1
    return None


def _ids(opts: Options, operands: list[str], node: Node) -> Options | int:
    if not operands:
        return opts
    ids = []
    for arg in operands:
        text = arg.strip()
        veid = int(text) if text.lstrip("+-").isdigit() else 0
        if veid == 0:
            veid = node.veid_by_name(arg)
        if veid < 0 or veid > 2147483644:
            sys.stderr.write(f"CT ID {arg} is invalid.\n")
            return 1
        ids.append(veid)
    opts.ids = sorted(set(ids))
    return opts


def _fields(opts: Options) -> list[Field] | int | None:
    """build_field_order(): None means every plain field (JSON without -o)."""
    if opts.order is None and opts.json:
        return None
    out = []
    for name in (opts.order or DEFAULT_FIELDS).split(","):
        if len(name) > 30:
            sys.stderr.write(f"Invalid field: {name}\n")
            return 1
        index = BY_NAME.get(name)
        if index is None:
            sys.stderr.write(f"Unknown field: {name}\n")
            return 1
        if opts.json and FIELDS[index].index:
            sys.stderr.write(f"Field `{name}' is not available in JSON output\n")
            return 1
        out.append(FIELDS[index])
    return out


def _filter(ves: list[Ve], patterns: dict[str, str]) -> None:
    if not patterns:
        return
    import fnmatch

    for ve in ves:
        for key, pattern in patterns.items():
            value = ve.strs.get(key)
            if value is None or not fnmatch.fnmatchcase(value, pattern):
                ve.hide = True


def render(ves: list[Ve], fields: list[Field] | None, opts: Options) -> str:
    if opts.sort is not None:
        ves = vzsort.sort(ves, FIELDS[opts.sort[0]].name)
    if opts.sort is not None and opts.sort[1]:
        ves = ves[::-1]
    shown = [v for v in ves if not v.hide and not (opts.stopped and v.status == RUNNING)]
    if opts.json:
        plain = fields if fields is not None else [f for f in FIELDS if not f.index]
        return "[" + ",".join(json_object(v, plain) for v in shown) + "\n]\n"
    assert fields is not None
    lines = [header(fields)] if opts.header else []
    lines += [text_row(v, fields, opts.trim) for v in shown]
    return "".join(line + "\n" for line in lines)


def _run(argv: list[str], node: Node) -> int:
    opts = _parse(argv, node)
    if isinstance(opts, int):
        return opts
    fields = _fields(opts)
    if isinstance(fields, int):
        return fields
    need = (
        {f.res for f in fields}
        if fields is not None
        else {"status", "ubc", "quota", "ip", "cpustat", "cpu", "cpunum", "io"}
    )
    records = listdata.records(node, None if opts.ids is None else set(opts.ids))
    ves = listdata.collect(node, opts, need, records)
    if isinstance(ves, int):
        return 0 if opts.ids is None else ves
    sort = [FIELDS[opts.sort[0]]] if opts.sort is not None else []
    wanted = listdata.wanted(None if fields is None else fields + sort, opts.patterns)
    listdata.read_params(node, ves, wanted)
    listdata.mounted_status(node, ves, need, records)
    listdata.details(ves, need, records)
    _filter(ves, opts.patterns)
    sys.stdout.write(render(ves, fields, opts))
    return 0


def _listing(argv: list[str], node: Node, truncate: int | None) -> int:
    """`_run`; with a `truncate` fault only the first bytes of its stdout are written."""
    if truncate is None:
        return _guarded(argv, node)
    captured, real = io.BytesIO(), sys.stdout
    sys.stdout = io.TextIOWrapper(captured, real.encoding, "surrogateescape")
    try:
        rc = _guarded(argv, node)
        sys.stdout.flush()
        data = captured.getvalue()
    finally:
        sys.stdout = real
    sys.stdout.buffer.write(data[:truncate])
    return rc


def _guarded(argv: list[str], node: Node) -> int:
    try:
        return _run(argv, node)
    except BrokenPipeError:
        return 1


def main(argv: list[str], state_dir: str) -> int:
    """Run one simulated vzlist call; returns its exit status."""
    raw_bytes_ok()
    node = Node(state_dir, listdata.warn)
    decision = faults.decide(node.faults_path, "vzlist", None)
    rc = 0
    if decision is not None and decision.latency:
        time.sleep(decision.latency)
    while decision is not None and decision.hang:
        time.sleep(3600)
    if decision is not None and decision.fail is not None:
        sys.stderr.write(
            f"vzlist: simulated failure (exit {decision.fail}) injected by `vzgitops sim fault`\n"
        )
        rc = decision.fail
    else:
        rc = _listing(argv, node, None if decision is None else decision.truncate)
    oplog.append(node.oplog_path, "vzlist", "vzlist", None, list(argv), rc)
    return rc
