"""The effective configuration of a container: vz.conf merged with CTID.conf, with vzctl rules.

`read_config` applies the per-key rules of vzctl's parser (the first duplicate wins for most
scalars and is reported, UBC and a few others take the last one, lists accumulate) and
reports invalid values; `Config` gives typed views in the units vzctl uses internally
(pages, KB, bytes/s). Used by `vzctl` (every command) and `vzlist` (only the keys it needs).
"""

from __future__ import annotations

import builtins

from reconciler.node.vzconf import parse_text
from vzsim import conffile
from vzsim.codes import INT_MAX, LONG_MAX, PAGE_SIZE
from vzsim.values import (
    NO_ADDRESS,
    canon_ip,
    parse_int,
    parse_pair,
    parse_ul,
    strtoull,
    yesno,
)

UBC_ORDER = [
    "KMEMSIZE",
    "LOCKEDPAGES",
    "PRIVVMPAGES",
    "SHMPAGES",
    "NUMPROC",
    "PHYSPAGES",
    "VMGUARPAGES",
    "OOMGUARPAGES",
    "NUMTCPSOCK",
    "NUMFLOCK",
    "NUMPTY",
    "NUMSIGINFO",
    "TCPSNDBUF",
    "TCPRCVBUF",
    "OTHERSOCKBUF",
    "DGRAMRCVBUF",
    "NUMOTHERSOCK",
    "NUMFILE",
    "DCACHESIZE",
    "NUMIPTENT",
    "AVNUMPROC",
    "SWAPPAGES",
]
_PAGES = {"LOCKEDPAGES", "PRIVVMPAGES", "SHMPAGES", "PHYSPAGES", "VMGUARPAGES"}
_PAGES |= {"OOMGUARPAGES", "SWAPPAGES"}
_BYTES = {"KMEMSIZE", "TCPSNDBUF", "TCPRCVBUF", "OTHERSOCKBUF", "DGRAMRCVBUF", "DCACHESIZE"}
ALIASES = {"DCACHE": "DCACHESIZE", "IPTENTRIES": "NUMIPTENT"}

ACCUMULATE = frozenset(
    [
        "NAMESERVER",
        "SEARCHDOMAIN",
        "IP_ADDRESS",
        "NETDEV",
        "DEVNODES",
        "DEVICES",
        "PCI",
        "CAPABILITY",
        "FEATURES",
        "IPTABLES",
    ]
)
LAST_WINS = frozenset(UBC_ORDER) | frozenset(
    ["NETFILTER", "IOPRIO", "IOLIMIT", "IOPSLIMIT", "VE_LAYOUT", "MEMINFO", "VEID", "LOG_LEVEL"]
)
FIRST_WINS = frozenset(
    [
        "HOSTNAME",
        "DESCRIPTION",
        "OSTEMPLATE",
        "NAME",
        "ONBOOT",
        "DISABLED",
        "DISK_QUOTA",
        "CPUUNITS",
        "CPUUWEIGHT",
        "CPULIMIT",
        "CPUS",
        "BOOTORDER",
        "QUOTATIME",
        "QUOTAUGIDLIMIT",
        "DISKSPACE",
        "DISKINODES",
        "NETIF",
        "STOP_TIMEOUT",
        "VE_ROOT",
        "VE_PRIVATE",
        "TEMPLATE",
        "MOUNT_OPTS",
        "ORIGIN_SAMPLE",
        "CONFIGFILE",
        "DEF_OSTEMPLATE",
        "LOCAL_UID",
        "LOCAL_GID",
        "VM_OVERCOMMIT",
        "CPUMASK",
        "NODEMASK",
        "LOCKDIR",
        "DUMPDIR",
        "LOGFILE",
        "VERBOSE",
        "LOGGING",
        "IPV6",
    ]
)
KNOWN = ACCUMULATE | LAST_WINS | FIRST_WINS

Value = str | list[str]
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Warn = Callable[[str], None]


def ubc_divisor(key: str) -> int:
    """The unit a UBC value is kept in: pages, bytes, or items (0: no suffixes allowed)."""
    return PAGE_SIZE if key in _PAGES else 1 if key in _BYTES else 0


def _valid(key: str, value: str) -> bool:
    """Whether vzctl's parse() accepts a value read from a config file."""
    if key in UBC_ORDER:
        return parse_pair(value, ubc_divisor(key), True) is not None
    if key in ("ONBOOT", "DISABLED", "DISK_QUOTA", "IPV6", "LOGGING"):
        return yesno(value) is not None
    if key in ("CPUS", "BOOTORDER", "QUOTATIME", "QUOTAUGIDLIMIT", "CPUUWEIGHT"):
        return parse_ul(value) is not None
    if key == "CPUUNITS":
        units = parse_ul(value)
        return units is not None and 8 <= units <= 500000
    if key in ("DISKSPACE", "DISKINODES"):
        return parse_pair(value, 1024 if key == "DISKSPACE" else 1, False) is not None
    if key == "IP_ADDRESS":
        return all(canon_ip(t) for t in value.split() if t not in NO_ADDRESS)
    return True


def _accept(values: dict[str, Value], key: str, value: str, where: str, warn: Warn | None) -> None:
    if not _valid(key, value):
        if warn:
            warn(f'Warning at {where}: invalid value for {key} ("{value}"), skipped')
        return
    if key in ACCUMULATE:
        old = values.setdefault(key, [])
        assert isinstance(old, list)
        old.extend(t for t in value.split() if t not in old)
    elif key in FIRST_WINS and key in values:
        if warn:
            warn(f'Warning at {where}: duplicate for {key} ("{value}"), ignored')
    else:
        values[key] = value


def parse_config(
    text: str, path: str, warn: Warn | None, wanted: frozenset[str] | None = None
) -> dict[str, Value]:
    """Apply vzctl's per-key rules to a config file's text."""
    entries, problems = parse_text(text, wanted)
    if warn:
        for line, reason in problems:
            warn(f"Warning: can't parse {path}:{line} ({reason}), skipping")
    values: dict[str, Value] = {}
    for entry in entries:
        key = ALIASES.get(entry.key, entry.key)
        if key in KNOWN:
            _accept(values, key, entry.value, f"{path}:{entry.line}", warn)
    return values


def read_config(
    path: str, warn: Warn | None = None, wanted: frozenset[str] | None = None
) -> dict[str, Value] | None:
    """The parsed file, or None when it does not exist."""
    text = conffile.read_text(path)
    return None if text is None else parse_config(text, path, warn, wanted)


def subst_veid(veid: int, path: str) -> str:
    """vzctl subst_VEID(): drop trailing slashes, replace the first `$VEID`/`${VEID}`."""
    path = path.rstrip("/") or path
    for token in ("$VEID", "${VEID}"):
        if token in path:
            return path.replace(token, str(veid), 1)
    return path


class Config:
    """Typed read-only view of an effective (global + CT) configuration."""

    def __init__(self, veid: int, values: dict[str, Value]) -> None:
        self.veid = veid
        self.values = values

    def str(self, key: builtins.str) -> builtins.str | None:
        value = self.values.get(key)
        return value if isinstance(value, str) else None

    def list(self, key: builtins.str) -> builtins.list[builtins.str]:
        value = self.values.get(key)
        return list(value) if isinstance(value, list) else []

    def has(self, key: builtins.str) -> bool:
        return key in self.values

    def ulong(self, key: builtins.str) -> int | None:
        raw = self.str(key)
        return None if raw is None else parse_ul(raw)

    def ubc(self, key: builtins.str) -> tuple[int, int] | None:
        raw = self.str(key)
        pair = None if raw is None else parse_pair(raw, ubc_divisor(key), True)
        return None if pair is None else (pair[0], pair[1])

    def disk(self, key: builtins.str) -> tuple[int, int] | None:
        raw = self.str(key)
        pair = None if raw is None else parse_pair(raw, 1024 if key == "DISKSPACE" else 1, False)
        return None if pair is None else (pair[0], pair[1])

    def ips(self) -> builtins.list[builtins.str]:
        out: builtins.list[builtins.str] = []
        for token in self.list("IP_ADDRESS"):
            ip = canon_ip(token)
            if ip and token not in NO_ADDRESS and ip not in out:
                out.append(ip)
        return out

    def path(self, key: builtins.str) -> builtins.str | None:
        raw = self.str(key)
        return None if raw is None else subst_veid(self.veid, raw)

    def cpulimit(self) -> int | None:
        raw = self.str("CPULIMIT")
        if raw is None:
            return None
        value, tail, _ = strtoull(raw)
        return (value & 0xFFFFFFFF) if not tail else None

    def io(self, key: builtins.str) -> int:
        raw = self.str(key)
        value = None if raw is None else parse_int(raw)
        if value is None or value < 0:
            return -1
        return min(value, INT_MAX)

    def is_vswap(self) -> bool:
        phys = self.ubc("PHYSPAGES")
        return phys is not None and phys[1] not in (LONG_MAX, INT_MAX)


def effective(veid: int, global_values: dict[str, Value], ct: dict[str, Value]) -> Config:
    """merge_vps_param(): the CT file overrides vz.conf key by key."""
    merged = dict(global_values)
    merged.update(ct)
    return Config(veid, merged)
