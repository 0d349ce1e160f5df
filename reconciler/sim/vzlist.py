"""The simulated `vzlist` (vzctl 4.11.1 src/vzlist.c on an OpenVZ kernel): `main(argv, dir)`.

Running containers come from the simulated kernel (`DIR/run`): live IPs without masks, UBC
held/barrier/limit, fairsched-rounded cpulimit/cpuunits, vzquota disk usage. Stopped ones
come from their config, read only for the keys the requested fields need, so a listing of
10,000 containers stays fast. Stopped containers without a private area are hidden.
"""

from __future__ import annotations

import os
import sys
import time

from reconciler.sim import ctconf, faults, getopt, kernel, oplog, vzsort
from reconciler.sim.layout import Node
from reconciler.sim.listfields import (
    BY_NAME,
    FIELDS,
    MOUNTED,
    RUNNING,
    SUSPENDED,
    Field,
    Ve,
    header,
    json_object,
    text_row,
)
from reconciler.sim.setparams import CAP_NAMES, FEATURES
from reconciler.sim.values import _float_prefix

DEFAULT_FIELDS = "ctid,numproc,status,ip,hostname"
NAME_FIELDS = "smart_name,numproc,status,ip,hostname"
LONGOPTS = [
    getopt.LongOpt(n, a, v)
    for n, a, v in (("no-header", 0, "H"), ("no-trim", 0, "t"), ("stopped", 0, "S"),
                    ("all", 0, "a"), ("name", 0, "n"), ("json", 0, "j"),
                    ("name_filter", 1, "N"), ("hostname", 1, "h"), ("description", 1, "d"),
                    ("output", 1, "o"), ("sort", 1, "s"), ("list", 0, "L"), ("help", 0, "e"))
]  # fmt: skip
_FIELD_KEYS = {
    "hostname": ("HOSTNAME",), "name": ("NAME",), "smart_name": ("NAME",),
    "description": ("DESCRIPTION",), "ostemplate": ("OSTEMPLATE",), "ip": ("IP_ADDRESS",),
    "nameserver": ("NAMESERVER",), "searchdomain": ("SEARCHDOMAIN",),
    "mount_opts": ("MOUNT_OPTS",), "origin_sample": ("ORIGIN_SAMPLE",),
    "cpulimit": ("CPULIMIT", "CPUUNITS"), "cpuunits": ("CPULIMIT", "CPUUNITS"),
    "cpus": ("CPUS",), "ioprio": ("IOPRIO",), "iolimit": ("IOLIMIT",),
    "iopslimit": ("IOPSLIMIT",), "onboot": ("ONBOOT",), "bootorder": ("BOOTORDER",),
    "features": ("FEATURES",), "disabled": ("DISABLED",), "vm_overcommit": ("VM_OVERCOMMIT",),
    "netfilter": ("NETFILTER",), "capability": ("CAPABILITY",),
}  # fmt: skip


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


def _conf_ids(node: Node, restrict: set[int] | None) -> list[int]:
    """get_ve_list(): every `<int>.conf` in the config dir."""
    out = []
    try:
        names = os.listdir(node.conf_dir)
    except OSError:
        return []
    for name in names:
        head, dot, rest = name.partition(".")
        if not dot or rest != "conf" or not head.lstrip("+-").isdigit():
            continue
        veid = int(head)
        if veid < 0 or veid > 2147483644:
            sys.stderr.write(f"Warning: invalid CTID in config file name: {name}, skipping\n")
            continue
        if restrict is None or veid in restrict:
            out.append(veid)
    return out


def _records(node: Node, restrict: set[int] | None) -> dict[int, kernel.Record]:
    """Every kernel record (running or mounted containers), read once."""
    out: dict[int, kernel.Record] = {}
    try:
        names = os.listdir(node.run_dir)
    except OSError:
        return out
    for name in names:
        head, _, ext = name.partition(".")
        if (
            ext != "state"
            or not head.isdigit()
            or (restrict is not None and int(head) not in restrict)
        ):
            continue
        record = kernel.load(node, int(head))
        if record is not None:
            out[int(head)] = record
    return out


def _from_kernel(ve: Ve, rec: kernel.Record, need: set[str], stopped_only: bool) -> None:
    ve.status = RUNNING
    ve.ip = "".join(ip + " " for ip in rec.get("ip", []))
    if not stopped_only:
        ve.ubc = {k: list(v) for k, v in rec.get("ubc", {}).items()}
        if "cpu" in need:
            ve.cpu = (
                kernel.fairsched_cpulimit(int(rec.get("cpulimit") or 0)),
                kernel.fairsched_cpuunits(int(rec.get("cpuunits") or 1000)),
            )
        if "cpunum" in need:
            ve.cpunum = int(rec.get("cpus") or 0)
    if "cpustat" in need:
        ve.cpustat = (0.0, max(time.time() - float(rec.get("started") or time.time()), 0.0))


def collect(
    node: Node, opts: Options, need: set[str], records: dict[int, kernel.Record]
) -> list[Ve] | int:
    """collect(): the containers to show, sorted by CTID; 1 when there are none."""
    wide = opts.all or opts.ids is not None or opts.stopped
    restrict = None if opts.ids is None else set(opts.ids)
    running = {k: r for k, r in records.items() if kernel.is_running(r)}
    ids = set(running)
    if wide:
        ids |= set(_conf_ids(node, restrict))
    if not ids:
        if opts.json:
            sys.stdout.write("[]\n")
        else:
            sys.stderr.write("Container(s) not found\n")
        return 1
    ves = []
    for veid in sorted(ids):
        ve = Ve(veid)
        if veid in running:
            _from_kernel(ve, running[veid], need, opts.stopped)
        ves.append(ve)
    return ves


def _wanted(fields: list[Field] | None, patterns: dict[str, str]) -> frozenset[str] | None:
    if fields is None:
        return None
    keys = {"VE_ROOT", "VE_PRIVATE", "VE_LAYOUT", "DISKSPACE", "DISKINODES", "NAME"}
    keys |= {k.upper() for k in patterns}
    for f in fields:
        keys |= set(_FIELD_KEYS.get(f.name.split(".")[0], ()))
        if f.res == "ubc":
            keys.add(f.name.split(".")[0].upper())
        if f.name == "vswap":
            keys.add("PHYSPAGES")
    return frozenset(keys)


def _merge_conf(ve: Ve, cfg: ctconf.Config, node: Node) -> None:
    """merge_conf(): fill from the config whatever the kernel did not give."""
    if ve.ubc is None:
        ve.ubc = {}
        for key in kernel.LIST_UBC:
            pair = cfg.ubc(key) if key in cfg.values else None
            if pair is not None:
                ve.ubc[key] = [0, 0, pair[0], pair[1], 0]
    overcommit = cfg.str("VM_OVERCOMMIT")
    ve.vm_overcommit = _float_prefix(overcommit)[0] if overcommit else 0.0
    if ve.ip is None and cfg.list("IP_ADDRESS"):
        ve.ip = " ".join(cfg.ips())
    space, inodes = cfg.disk("DISKSPACE"), cfg.disk("DISKINODES")
    if ve.quota is None and (space or inodes):
        ve.quota = {"DISKSPACE": [0, *(space or (0, 0))], "DISKINODES": [0, *(inodes or (0, 0))]}
    units, limit = cfg.ulong("CPUUNITS"), cfg.cpulimit()
    if ve.cpu is None and (units is not None or limit is not None):
        ve.cpu = (limit or 0, units or 0)
    _merge_strings(ve, cfg, node)
    ve.onboot = cfg.str("ONBOOT")
    ve.bootorder = cfg.ulong("BOOTORDER")
    ve.io = [cfg.io("IOPRIO"), cfg.io("IOLIMIT"), cfg.io("IOPSLIMIT")]
    if ve.cpunum == -1 and cfg.ulong("CPUS") is not None:
        ve.cpunum = cfg.ulong("CPUS") or 0
    ve.features = _flags(cfg.list("FEATURES"), FEATURES, lower=True)
    ve.cap = _flags(cfg.list("CAPABILITY"), CAP_NAMES, lower=False)
    ve.disabled = cfg.str("DISABLED") == "yes"
    ve.netfilter = cfg.str("NETFILTER")
    layout = cfg.str("VE_LAYOUT")
    ve.layout = "ploop" if layout and layout.startswith("ploop") else "simfs"


def _merge_strings(ve: Ve, cfg: ctconf.Config, node: Node) -> None:
    for key in ("HOSTNAME", "DESCRIPTION", "OSTEMPLATE", "MOUNT_OPTS", "ORIGIN_SAMPLE"):
        value = cfg.str(key)
        if value is not None:
            ve.strs[key.lower()] = value
    name = cfg.str("NAME")
    if name is not None and node.veid_by_name(name) == ve.veid:
        ve.strs["name"] = name
    for key in ("NAMESERVER", "SEARCHDOMAIN"):
        if cfg.list(key):
            ve.strs[key.lower()] = " ".join(cfg.list(key))
    for key, field_name in (("VE_ROOT", "root"), ("VE_PRIVATE", "private")):
        value = cfg.path(key)
        if value is not None:
            ve.strs[field_name] = value


def _flags(tokens: list[str], names: tuple[str, ...] | list[str], lower: bool) -> tuple[int, int]:
    """(on mask, off mask) for caps; (mask, known) for features."""
    first = second = 0
    for token in tokens:
        name, _, state = token.rpartition(":")
        key = name if lower else name.upper()
        if key in names and state in ("on", "off"):
            bit = 1 << list(names).index(key)
            if lower:
                first, second = (first | bit if state == "on" else first & ~bit), second | bit
            else:
                first, second = (first | bit, second) if state == "on" else (first, second | bit)
    return first, second


def read_params(node: Node, ves: list[Ve], wanted: frozenset[str] | None) -> None:
    """read_ves_param(): parse each container's config (only the wanted keys)."""
    defaults = {k: v for k, v in node.globals.items() if k in ("VE_ROOT", "VE_PRIVATE")}
    for ve in ves:
        values = ctconf.read_config(node.conf_path(ve.veid), _warn, wanted) or {}
        _merge_conf(ve, ctconf.effective(ve.veid, defaults, values), node)


def _warn(message: str) -> None:
    sys.stderr.write(message + "\n")


def mounted_status(
    node: Node, ves: list[Ve], need: set[str], records: dict[int, kernel.Record]
) -> None:
    """get_mounted_status(): hide stopped CTs without a private area; detect mounted ones."""
    for ve in ves:
        if ve.status == RUNNING:
            continue
        private = ve.strs.get("private")
        if private is None or not os.path.exists(private):
            ve.hide = True
            continue
        if "status" not in need:
            continue
        if os.path.exists(node.dump_file(ve.veid)):
            ve.status = SUSPENDED
        root = ve.strs.get("root")
        if root is not None and not os.path.exists(root):
            sys.stderr.write(f"stat({root}): No such file or directory\n")
        elif root is not None and ve.veid in records:
            ve.status = MOUNTED


def _details(ves: list[Ve], need: set[str], records: dict[int, kernel.Record]) -> None:
    """Kernel data only running or mounted containers have: io limits and vzquota."""
    for ve in ves:
        rec = records.get(ve.veid) if {"io", "quota"} & need else None
        if rec is None:
            continue
        if "io" in need and ve.status == RUNNING:
            ve.io[1], ve.io[2] = int(rec.get("iolimit") or 0), int(rec.get("iopslimit") or 0)
        if "quota" in need and rec.get("quota"):
            ve.quota = {k: list(v) for k, v in rec["quota"].items()}


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
    records = _records(node, None if opts.ids is None else set(opts.ids))
    ves = collect(node, opts, need, records)
    if isinstance(ves, int):
        return 0 if opts.ids is None else ves
    sort = [FIELDS[opts.sort[0]]] if opts.sort is not None else []
    read_params(node, ves, _wanted(None if fields is None else fields + sort, opts.patterns))
    mounted_status(node, ves, need, records)
    _details(ves, need, records)
    _filter(ves, opts.patterns)
    sys.stdout.write(render(ves, fields, opts))
    return 0


def main(argv: list[str], state_dir: str) -> int:
    """Run one simulated vzlist call; returns its exit status."""
    node = Node(state_dir, _warn)
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
        try:
            rc = _run(argv, node)
        except BrokenPipeError:
            rc = 1
    oplog.append(node.oplog_path, "vzlist", "vzlist", None, list(argv), rc)
    return rc
