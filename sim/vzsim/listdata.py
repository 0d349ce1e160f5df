"""What vzlist knows about each container: kernel records first, then the config.

The collection half of src/vzlist.c: which containers exist (`<int>.conf` files and running
kernel records), their kernel values when running, and merge_conf() of the config keys the
requested fields need. `vzlist` renders the result.
"""

from __future__ import annotations

import os
import sys
import time

from vzsim import ctconf, kernel
from vzsim.layout import Node
from vzsim.listfields import MOUNTED, RUNNING, SUSPENDED, Field, Ve
from vzsim.setparams import CAP_NAMES, FEATURES
from vzsim.values import float_prefix

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vzsim.vzlist import Options

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


def records(node: Node, restrict: set[int] | None) -> dict[int, kernel.Record]:
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


def wanted(fields: list[Field] | None, patterns: dict[str, str]) -> frozenset[str] | None:
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
    ve.vm_overcommit = float_prefix(overcommit)[0] if overcommit else 0.0
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
        values = _ct_values(node.conf_path(ve.veid), wanted)
        _merge_conf(ve, ctconf.effective(ve.veid, defaults, values), node)


def _ct_values(path: str, wanted: frozenset[str] | None) -> dict[str, ctconf.Value]:
    """vps_parse_config() as read_ves_param() calls it, ignoring its result: a config that
    cannot be opened is logged and read as empty; a directory in its place opens (fopen) but
    reads nothing (fgets fails with EISDIR), silently."""
    try:
        return ctconf.read_config(path, warn, wanted) or {}
    except IsADirectoryError:
        return {}
    except OSError as exc:
        warn(f"Unable to open {path}: {exc.strerror}")
        return {}


def warn(message: str) -> None:
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


def details(ves: list[Ve], need: set[str], records: dict[int, kernel.Record]) -> None:
    """Kernel data only running or mounted containers have: io limits and vzquota."""
    for ve in ves:
        rec = records.get(ve.veid) if {"io", "quota"} & need else None
        if rec is None:
            continue
        if "io" in need and ve.status == RUNNING:
            ve.io[1], ve.io[2] = int(rec.get("iolimit") or 0), int(rec.get("iopslimit") or 0)
        if "quota" in need and rec.get("quota"):
            ve.quota = {k: list(v) for k, v in rec["quota"].items()}
