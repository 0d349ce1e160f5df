"""Parsing `vzctl set` / `vzctl create` options into a `Request`, with vzctl's value rules.

Each option is parsed the way config.c parse() does: repeated scalars keep the first value
(ERR_DUP is silent), lists accumulate, UBCs take the last value, and a bad value stops parsing
with `Bad parameter for --X: V` (exit 21). `OPTION_TABLE` also lists options the simulator
accepts by name but does not implement; they fail with a clear message instead of
`unrecognized option`.
"""

from __future__ import annotations

from vzsim import getopt, netopts
from vzsim.codes import INT_MAX, LONG_MAX, PAGE_SIZE
from vzsim.ctconf import UBC_ORDER, ubc_divisor
from vzsim.values import (
    NO_ADDRESS,
    c_int32,
    canon_ip,
    format_bitmap,
    parse_bitmap,
    parse_int,
    parse_pair,
    parse_ul,
    parse_ul_sfx,
    strtoull,
    yesno,
)

OK, DUP, INVAL, OTHER, UNSUPPORTED = "ok", "dup", "inval", "other", "unsupported"
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Say = Callable[[int, str], None]
    Parser = Callable[["Request", str, Say], str]

CAP_NAMES = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "VE_ADMIN",
    "SETFCAP",
    "FS_MASK",
]
FEATURES = ("sysfs", "nfs", "sit", "ipip", "ppp", "ipgre", "bridge", "nfsd")
NETFILTER = ("disabled", "stateless", "stateful", "full")
# Devices of the simulated host for --devnodes: name -> (type, major, minor).
HOST_DEVICES = {
    "null": ("c", 1, 3), "zero": ("c", 1, 5), "random": ("c", 1, 8), "urandom": ("c", 1, 9),
    "tty": ("c", 5, 0), "net/tun": ("c", 10, 200), "fuse": ("c", 10, 229), "kvm": ("c", 10, 232),
    "sda": ("b", 8, 0), "sda1": ("b", 8, 1), "sdb": ("b", 8, 16), "sdb1": ("b", 8, 17),
    "sdc": ("b", 8, 32), "vda": ("b", 252, 0), "vdb": ("b", 252, 16), "loop0": ("b", 7, 0),
}  # fmt: skip


class Request:
    """Everything one `vzctl set`/`create` command line asks for (vzctl's cmd vps_param)."""

    def __init__(self) -> None:
        self.flags: set[str] = set()
        self.setmode = ""
        self.strs: dict[str, str] = {}
        self.nums: dict[str, int] = {}
        self.lists: dict[str, list[str]] = {}
        self.ubc: dict[str, tuple[int, int]] = {}
        self.disk: dict[str, tuple[int, int]] = {}
        self.vm_overcommit: float | None = None
        self.ip_add: list[str] = []
        self.ip_del: list[str] = []
        self.ip_redo: list[str] = []
        self.cap_on = self.cap_off = 0
        self.feat_mask = self.feat_known = 0
        self.devnodes: list[tuple[str, str]] = []
        self.net = netopts.NetifRequest()
        self.unsupported: list[str] = []


def _first(store: dict[str, str], key: str, value: str) -> str:
    if key in store:
        return DUP
    store[key] = value
    return OK


def _str(key: str) -> Callable[[Request, str, Say], str]:
    return lambda r, v, s: _first(r.strs, key, v)


def _yesno(key: str) -> Callable[[Request, str, Say], str]:
    return lambda r, v, s: INVAL if yesno(v) is None else _first(r.strs, key, v)


def _num(key: str, lo: int = 0, hi: int = LONG_MAX) -> Callable[[Request, str, Say], str]:
    def parse(r: Request, v: str, s: Say) -> str:
        if key in r.nums:
            return DUP
        n = parse_ul(v)
        if n is None or n < lo or n > hi:
            return INVAL
        r.nums[key] = n
        return OK

    return parse


def _strlist(key: str) -> Callable[[Request, str, Say], str]:
    def parse(r: Request, v: str, s: Say) -> str:
        items = r.lists.setdefault(key, [])
        items.extend(t for t in v.split() if t not in items)
        return OK

    return parse


def _ub(key: str) -> Callable[[Request, str, Say], str]:
    def parse(r: Request, v: str, s: Say) -> str:
        pair = parse_pair(v, ubc_divisor(key), True)
        if pair is None or pair[2]:
            return INVAL
        r.ubc[key] = (pair[0], pair[1])
        return OK

    return parse


def _vswap(key: str) -> Callable[[Request, str, Say], str]:
    def parse(r: Request, v: str, s: Say) -> str:
        got = parse_ul_sfx(v, 1, True)
        if got is None or got[1] != "":
            return INVAL
        pages = (got[0] + PAGE_SIZE - 1) // PAGE_SIZE
        if pages > LONG_MAX:
            return INVAL
        r.ubc[key] = (0, pages)
        return OK

    return parse


def _disk(key: str) -> Callable[[Request, str, Say], str]:
    def parse(r: Request, v: str, s: Say) -> str:
        if key in r.disk:
            return DUP
        pair = parse_pair(v, 1024 if key == "DISKSPACE" else 1, False)
        if pair is None or pair[2]:
            return INVAL
        r.disk[key] = (pair[0], pair[1])
        return OK

    return parse


def _cpulimit(r: Request, v: str, s: Say) -> str:
    if "CPULIMIT" in r.nums:
        return DUP
    raw, tail, overflow = strtoull(v)
    value = c_int32(raw) & ((1 << 64) - 1)
    if tail == "%":
        import os

        if value > 100:
            return INVAL
        value *= os.cpu_count() or 1
    elif tail or overflow:
        return INVAL
    r.nums["CPULIMIT"] = value
    return OK


def _cpus(r: Request, v: str, s: Say) -> str:
    # On an OpenVZ kernel `--cpus 0` is refused up front (RECORDED.md); upstream gave 96.
    n = parse_ul(v)
    if n == 0:
        return INVAL
    return _num("CPUS")(r, v, s)


def _ip(add: bool) -> Callable[[Request, str, Say], str]:
    def parse(r: Request, v: str, s: Say) -> str:
        target = r.ip_add if add else r.ip_del
        for token in v.split():
            if not add and token == "all":  # noqa: S105
                r.flags.add("ipdelall")
                continue
            if token in NO_ADDRESS:
                continue
            ip = canon_ip(token)
            if ip is None:
                return INVAL
            if not any(ip == t or t.partition("/")[0] == ip.partition("/")[0] for t in target):
                target.append(ip)
        return OK

    return parse


def _cap(r: Request, v: str, s: Say) -> str:
    for token in v.replace(",", " ").split():
        name, colon, state = token.rpartition(":")
        if not colon or state not in ("on", "off"):
            s(-1, f"Can't parse capability {token} (expecting capname:on|off)")
            return INVAL
        index = next((i for i, n in enumerate(CAP_NAMES) if n.lower() == name.lower()), None)
        if index is None:
            s(-1, f"Capability {name} is unknown")
            return INVAL
        if state == "on":
            r.cap_on |= 1 << index
        else:
            r.cap_off |= 1 << index
    return OK


def _features(r: Request, v: str, s: Say) -> str:
    status = OK
    for token in v.replace(",", " ").split():
        name, _, state = token.partition(":")
        if name not in FEATURES or state not in ("on", "off"):
            s(0, f"Warning: Unknown feature: {token}")
            status = INVAL
            continue
        bit = 1 << FEATURES.index(name)
        r.feat_known |= bit
        r.feat_mask = (r.feat_mask | bit) if state == "on" else (r.feat_mask & ~bit)
    return status


def _netfilter(r: Request, v: str, s: Say) -> str:
    if v not in NETFILTER:
        s(-1, f"Incorrect netfilter value: {v}")
        return INVAL
    r.strs["NETFILTER"] = v
    return OK


def devperm(perms: str) -> str:
    """config.c's devperm2str() of parse_dev_perm(): the mask in r, w, q order, each once
    (`wr` and `rwr` are stored `rw`; `none` is the empty mask)."""
    return "".join(c for c in "rwq" if c in perms)


def _devnodes(r: Request, v: str, s: Say) -> str:
    for token in v.split(" "):
        if not token:
            continue
        name, colon, perms = token.rpartition(":")
        if not colon:
            return INVAL
        dev = HOST_DEVICES.get(name)
        if dev is None:
            s(-1, f"Incorrect device name /dev/{name}: No such file or directory")
            return INVAL
        if dev[1] == 7:
            s(-1, f"Device {name} is not allowed to be assigned to a CT")
            return INVAL
        if perms != "none" and any(c not in "rwq" for c in perms):
            return INVAL
        r.devnodes.append((name, "" if perms == "none" else devperm(perms)))
    return OK


def _bitmap(key: str) -> Callable[[Request, str, Say], str]:
    def parse(r: Request, v: str, s: Say) -> str:
        if key in r.strs:
            return DUP
        if key == "CPUMASK" and v == "auto":
            r.strs[key] = "auto"
            return OK
        bits = parse_bitmap(v)
        if bits is None:
            return INVAL
        r.strs[key] = format_bitmap(bits)
        return OK

    return parse


def _name(r: Request, v: str, s: Say) -> str:
    if "NAME" in r.strs:
        return DUP
    if any(not (c.isalnum() and c.isascii()) and c not in " -+_." for c in v):
        return INVAL
    r.strs["NAME"] = v
    return OK


def _int_range(key: str, lo: int, hi: int) -> Callable[[Request, str, Say], str]:
    def parse(r: Request, v: str, s: Say) -> str:
        n = 0 if v == "unlimited" and key == "IOPSLIMIT" else parse_int(v)
        if n is None or n < lo or n > hi:
            return INVAL
        if key == "STOP_TIMEOUT" and key in r.nums:
            return DUP
        r.nums[key] = n
        return OK

    return parse


def _iolimit(r: Request, v: str, s: Say) -> str:
    if v == "unlimited":
        r.nums["IOLIMIT"] = 0
        return OK
    value, tail, overflow = strtoull(v)
    if overflow or len(tail) > 1:
        return INVAL
    mul = {"": 1 << 20, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    factor = mul.get(tail.lower()) if tail.lower() != "p" else PAGE_SIZE
    if factor is None or value > INT_MAX or value * factor > INT_MAX:
        return INVAL
    r.nums["IOLIMIT"] = value * factor
    return OK


def _setmode(r: Request, v: str, s: Say) -> str:
    if v not in ("restart", "ignore"):
        return INVAL
    r.setmode = v
    return OK


def _vm_overcommit(r: Request, v: str, s: Say) -> str:
    if r.vm_overcommit is not None:
        return DUP
    from vzsim.values import float_prefix

    value, rest = float_prefix(v)
    if rest == v:
        return INVAL
    r.vm_overcommit = value
    return OK


def _netdev(key: str) -> Callable[[Request, str, Say], str]:
    def parse(r: Request, v: str, s: Say) -> str:
        for token in v.split():
            if token.startswith(("venet", "tun", "tap", "lo")):
                return INVAL
            r.lists.setdefault(key, []).append(token)
        return OK

    return parse


def _flag(name: str) -> Callable[[Request, str, Say], str]:
    def parse(r: Request, v: str, s: Say) -> str:
        r.flags.add(name)
        return OK

    return parse


def _applyconfig_map(r: Request, v: str, s: Say) -> str:
    """`--applyconfig_map name`: re-apply NAME from the container's own config (the names/
    link), as vzmigrate runs it on the destination; the simulator knows no other group."""
    if v != "name":
        r.unsupported.append(f"applyconfig_map {v}")
        return UNSUPPORTED
    r.flags.add("applyconfig_map_name")
    return OK


def _unsupported(name: str) -> Callable[[Request, str, Say], str]:
    def parse(r: Request, v: str, s: Say) -> str:
        r.unsupported.append(name)
        return UNSUPPORTED

    return parse


_UB_OPTS: list[tuple[str, Parser]] = [(k.lower(), _ub(k)) for k in UBC_ORDER]
SET_PARSERS: dict[str, Parser] = {
    "save": _flag("save"), "force": _flag("force"), "reset_ub": _flag("reset_ub"),
    "skip_arpdetect": _flag("skip_arpdetect"), "offline-resize": _unsupported("offline-resize"),
    "applyconfig": _unsupported("applyconfig"), "applyconfig_map": _applyconfig_map,
    "iptables": _unsupported("iptables"), "netfilter": _netfilter, **dict(_UB_OPTS),
    "vm_overcommit": _vm_overcommit, "capability": _cap, "ipadd": _ip(True), "ipdel": _ip(False),
    "netdev_add": _netdev("NETDEV_ADD"), "netdev_del": _netdev("NETDEV_DEL"),
    "hostname": _str("HOSTNAME"), "nameserver": _strlist("NAMESERVER"),
    "searchdomain": _strlist("SEARCHDOMAIN"), "userpasswd": _unsupported("userpasswd"),
    "devices": _unsupported("devices"), "devnodes": _devnodes,
    "pci_add": _unsupported("pci_add"), "pci_del": _unsupported("pci_del"),
    "root": _str("VE_ROOT"), "private": _str("VE_PRIVATE"), "mount_opts": _str("MOUNT_OPTS"),
    "ostemplate": _str("OSTEMPLATE"), "cpuunits": _num("CPUUNITS", 8, 500000),
    "cpuweight": _num("CPUUWEIGHT"), "cpulimit": _cpulimit, "cpus": _cpus,
    "cpumask": _bitmap("CPUMASK"), "nodemask": _bitmap("NODEMASK"), "onboot": _yesno("ONBOOT"),
    "setmode": _setmode, "disabled": _yesno("DISABLED"), "diskquota": _yesno("DISK_QUOTA"),
    "diskspace": _disk("DISKSPACE"), "diskinodes": _disk("DISKINODES"),
    "quotatime": _num("QUOTATIME"), "quotaugidlimit": _num("QUOTAUGIDLIMIT"),
    "meminfo": _unsupported("meminfo"), "name": _name, "features": _features,
    "ioprio": _int_range("IOPRIO", 0, 7), "iolimit": _iolimit,
    "iopslimit": _int_range("IOPSLIMIT", 0, INT_MAX), "description": _str("DESCRIPTION"),
    "bootorder": _num("BOOTORDER"), "ram": _vswap("PHYSPAGES"), "swap": _vswap("SWAPPAGES"),
    "stop-timeout": _int_range("STOP_TIMEOUT", 0, INT_MAX), **netopts.PARSERS,
}  # fmt: skip
CREATE_PARSERS: dict[str, Parser] = {
    "ostemplate": _str("OSTEMPLATE"), "config": _str("CONFIG"), "private": _str("VE_PRIVATE"),
    "root": _str("VE_ROOT"), "ipadd": _ip(True), "hostname": _str("HOSTNAME"), "name": _name,
    "description": _str("DESCRIPTION"), "diskspace": _disk("DISKSPACE"),
    "diskinodes": _disk("DISKINODES"), "local_uid": _num("LOCAL_UID"),
    "local_gid": _num("LOCAL_GID"),
    "layout": _str("VE_LAYOUT"), "ve_layout": _str("VE_LAYOUT"), "velayout": _str("VE_LAYOUT"),
}  # fmt: skip
_NO_ARG = {"save", "force", "reset_ub", "skip_arpdetect", "offline-resize"}
_ALIASES = {"ip": "ipadd", "offline": "offline-resize"}


def longopts(parsers: dict[str, Parser]) -> list[getopt.LongOpt]:
    """The getopt table; aliases share the value of the option they stand for."""
    opts = [
        getopt.LongOpt(n, getopt.NO_ARG if n in _NO_ARG else getopt.REQUIRED, n) for n in parsers
    ]
    if parsers is SET_PARSERS:
        opts += [
            getopt.LongOpt(a, getopt.NO_ARG if t in _NO_ARG else getopt.REQUIRED, t)
            for a, t in _ALIASES.items()
        ]
    return opts


def apply(parsers: dict[str, Parser], req: Request, name: str, value: str, say: Say) -> str:
    """Parse one option into the request; OK/DUP, INVAL, OTHER or UNSUPPORTED."""
    is_layout = name in ("layout", "ve_layout", "velayout")
    if is_layout and value != "simfs" and not value.startswith("ploop"):
        return INVAL
    return parsers[name](req, value, say)
