"""The field table: how each spec field is normalised, stored, compared and set (pure).

One row per setting links three worlds: the value written in git (`ram: 2G`), the value vzctl
stores in `CTID.conf` (`PHYSPAGES="0:524288"`), and the `vzctl set` options that change it
(`--ram 2G`). Both sides are turned into one canonical value, so `2048M` in git and 524288 pages
on the node are equal and produce no change. Each row also says whether a running container
takes the change live, needs a restart, or needs a recreate (REFERENCE §4).
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from reconciler import units
from reconciler.spec.models import ContainerSpec
from reconciler.spec.types import CPUMASK_BITS, cpu_bits, devperm

Canon = Any
Klass = Literal["live", "restart", "recreate"]
VSWAP_UNLIMITED = -(-units.LONG_MAX // units.PAGE)  # 2^51: LONG_MAX bytes in whole pages
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class FieldDef:
    """One setting: canonical forms, comparison, vzctl options and change class."""

    name: str
    key: str
    desired: Callable[[Any, int], Canon]
    observed: Callable[[str, int], Canon]
    argv: Callable[[Canon, Canon], list[str]]
    show: Callable[[Canon], str]
    klass: Klass = "live"
    equal: Callable[[Canon, Canon], bool] = lambda want, have: bool(want == have)
    create_option: bool = False
    restart_if: Callable[[Canon, Canon], bool] | None = None

    def change_class(self, before: Canon, after: Canon) -> Klass:
        if self.restart_if is not None:
            return "restart" if self.restart_if(before, after) else "live"
        return self.klass


# ---- canonical forms -------------------------------------------------------------------------


def _text(value: Any, _ctid: int = 0) -> str:
    return str(value)


def _lower(value: Any, _ctid: int = 0) -> str:
    return str(value).lower()


def _int(value: Any, _ctid: int = 0) -> int:
    return int(value)


def _conf_int(value: str, _ctid: int = 0) -> int:
    """A number as vzctl writes it (`%lu`, `%d`): exact, so LONG_MAX is not rounded to 2^63."""
    text = value.strip()
    if text.lower() == "unlimited":
        return units.LONG_MAX
    if _DIGITS.fullmatch(text):
        return int(text)
    return int(float(text)) if text else 0


def _bool(value: Any, _ctid: int = 0) -> bool:
    return bool(value)


def _conf_bool(value: str, _ctid: int = 0) -> bool:
    return value.strip().lower() == "yes"


def _canon_ip(text: str) -> str:
    try:
        if "/" in text:
            return str(ipaddress.ip_interface(text))
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def _ips(value: Any, _ctid: int = 0) -> tuple[str, ...]:
    return tuple(sorted(_canon_ip(str(v)) for v in value))


_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")  # as _canon_ip would write it


def _conf_ips(value: str, _ctid: int = 0) -> tuple[str, ...]:
    """A fleet's configs hold one address each: the usual spelling skips the ipaddress parse."""
    words = value.split()
    return tuple(sorted(v if _CANONICAL_IPV4.fullmatch(v) else _canon_ip(v) for v in words))


def _words(value: Any, _ctid: int = 0) -> tuple[str, ...]:
    """In order, each once: vzctl's add_str2list drops a repeat of an entry (lists are lowered
    by validation first, so `[A.lan, a.lan]` reaches vzctl as one entry)."""
    return tuple(dict.fromkeys(str(v).lower() for v in value))


def _conf_words(value: str, _ctid: int = 0) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.lower() for v in value.split()))


def _cpumask(value: Any, _ctid: int = 0) -> str:
    """A mask as vzctl stores it (conf_store_bitmap): `all`, or sorted ranges `0-2,7`."""
    bits = cpu_bits(str(value).strip())
    if bits is None:
        return str(value)
    if len(bits) == CPUMASK_BITS:
        return "all"
    return ",".join(_ranges(sorted(bits)))


def _ranges(bits: list[int]) -> list[str]:
    runs: list[list[int]] = []
    for bit in bits:
        if runs and runs[-1][1] == bit - 1:
            runs[-1][1] = bit
        else:
            runs.append([bit, bit])
    return [str(a) if a == b else f"{a}-{b}" for a, b in runs]


def _pages(value: Any, _ctid: int = 0) -> int:
    return pages_canon(units.to_pages(str(value)))


def pages_canon(pages: int) -> int:
    """`--ram unlimited` is stored as LONG_MAX bytes rounded up to pages, 2^51 (vzctl's
    parse_vswap); a PHYSPAGES written `unlimited` is LONG_MAX pages: both are unlimited."""
    return units.LONG_MAX if pages >= VSWAP_UNLIMITED else pages


def _conf_pages(value: str, _ctid: int = 0) -> int:
    """PHYSPAGES="0:256M" or "0:65536": the limit, bare numbers already in pages."""
    limit = value.split(":")[-1].strip()
    if limit.isdigit():
        return pages_canon(int(limit))
    return pages_canon(units.to_pages(limit))


def _disk(value: Any, _ctid: int = 0) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    soft, hard = units.pair(str(value))
    return units.to_kib(soft), units.to_kib(hard)


def _conf_disk(value: str, _ctid: int = 0) -> tuple[int, int]:
    """DISKSPACE="soft:hard", as vzctl writes it (`%lu:%lu` KiB, LONG_MAX for unlimited)."""
    soft, hard = units.pair(value.strip())
    return _conf_kib(soft), _conf_kib(hard)


def _conf_kib(text: str) -> int:
    return int(text) if _DIGITS.fullmatch(text) else units.to_kib(text)


def _items(value: Any, _ctid: int = 0) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    soft, hard = units.pair(str(value))
    return units.to_items(soft), units.to_items(hard)


def _conf_items(value: str, _ctid: int = 0) -> tuple[int, int]:
    soft, hard = units.pair(value.strip())
    return _conf_int(soft), _conf_int(hard)


def _rate(value: Any, _ctid: int = 0) -> int:
    """Bytes/s; `unlimited` is vzctl's 0 (no limit): IOLIMIT stores no LONG_MAX."""
    rate = value if isinstance(value, int) else units.to_bytes(str(value))
    return 0 if rate == units.LONG_MAX else rate


def _flags(value: Any, _ctid: int = 0) -> tuple[tuple[str, bool], ...]:
    return tuple(sorted((str(k).lower(), bool(v)) for k, v in dict(value).items()))


def _conf_flags(value: str, _ctid: int = 0) -> tuple[tuple[str, bool], ...]:
    pairs: dict[str, bool] = {}
    for item in value.replace(",", " ").split():
        name, _, state = item.partition(":")
        pairs[name.lower()] = state.lower() == "on"
    return tuple(sorted(pairs.items()))


def _perms(value: Any, _ctid: int = 0) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), devperm(str(v))) for k, v in dict(value).items()))


def _conf_perms(value: str, _ctid: int = 0) -> tuple[tuple[str, str], ...]:
    pairs = {}
    for item in value.split():
        name, _, perm = item.rpartition(":")
        if name:
            pairs[name] = devperm(perm) or "none"  # vzctl reads an empty mask as none
    return tuple(sorted(pairs.items()))


_NETIF_KEYS = ("mac", "host_ifname", "host_mac", "bridge")
NetIfCanon = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


def _netifs(value: Any, _ctid: int = 0) -> NetIfCanon:
    result = []
    for netif in value:
        data = netif if isinstance(netif, Mapping) else netif.model_dump()
        attrs = tuple(
            (key, str(data[key]).upper() if key.endswith("mac") else str(data[key]))
            for key in _NETIF_KEYS
            if data.get(key) is not None
        )
        result.append((str(data["ifname"]), attrs))
    return tuple(sorted(result))


def _conf_netifs(value: str, _ctid: int = 0) -> NetIfCanon:
    result = []
    for chunk in value.split(";"):
        fields = dict(part.partition("=")[::2] for part in chunk.split(",") if "=" in part)
        if "ifname" not in fields:
            continue
        attrs = tuple(
            (key, fields[key].upper() if key.endswith("mac") else fields[key])
            for key in _NETIF_KEYS
            if fields.get(key)
        )
        result.append((fields["ifname"], attrs))
    return tuple(sorted(result))


# ---- comparisons -----------------------------------------------------------------------------


def _subset(want: Canon, have: Canon) -> bool:
    """Merged settings (features, capability, devnodes): only what git names must match."""
    held = dict(have or ())
    return all(held.get(key) == value for key, value in want)


def _devnodes_equal(want: Canon, have: Canon) -> bool:
    """`none` means the device node is absent."""
    held = dict(have or ())
    return all(held.get(key, "none") == perm for key, perm in want)


def _netif_equal(want: NetIfCanon, have: NetIfCanon) -> bool:
    held = dict(have or ())
    if set(held) != {name for name, _ in want}:
        return False
    return all(_subset(attrs, held[name]) for name, attrs in want)


def _ugid_restart(before: Canon, after: Canon) -> bool:
    return bool(before) != bool(after)


# ---- vzctl options ---------------------------------------------------------------------------


def _opt(option: str, render: Callable[[Canon], str]) -> Callable[[Canon, Canon], list[str]]:
    def build(want: Canon, _have: Canon) -> list[str]:
        return [option, render(want)]

    return build


def _yes_no(value: Canon) -> str:
    return "yes" if value else "no"


def _pair(value: Canon) -> str:
    soft, hard = value
    return f"{soft}:{hard}"


def _pair_items(value: Canon) -> str:
    soft, hard = value
    text = [("unlimited" if v == units.LONG_MAX else str(v)) for v in (soft, hard)]
    return text[0] if text[0] == text[1] else f"{text[0]}:{text[1]}"


def _ip_argv(want: Canon, have: Canon) -> list[str]:
    wanted_addrs = {ip.split("/")[0] for ip in want}
    argv: list[str] = []
    for ip in have or ():
        if ip.split("/")[0] not in wanted_addrs:
            argv += ["--ipdel", ip]
    for ip in want:
        if ip not in (have or ()):
            argv += ["--ipadd", ip]
    if not want and have:
        argv = ["--ipdel", "all"]
    return argv


def _repeat(option: str) -> Callable[[Canon, Canon], list[str]]:
    def build(want: Canon, _have: Canon) -> list[str]:
        argv: list[str] = []
        for item in want:
            argv += [option, item]
        return argv

    return build


def _flag_argv(option: str) -> Callable[[Canon, Canon], list[str]]:
    def build(want: Canon, have: Canon) -> list[str]:
        held = dict(have or ())
        changed = [f"{k}:{'on' if v else 'off'}" for k, v in want if held.get(k) != v]
        return [option, ",".join(changed)] if changed else []

    return build


def _devnodes_argv(want: Canon, have: Canon) -> list[str]:
    held = dict(have or ())
    argv: list[str] = []
    for name, perm in want:
        if held.get(name, "none") != perm:
            argv += ["--devnodes", f"{name}:{perm}"]
    return argv


def _netif_argv(want: NetIfCanon, have: NetIfCanon) -> list[str]:
    """--netif_add on an existing interface merges into it (vzctl's merge_veth_list); a
    --netif_del of the same interface in the same call would drop it instead."""
    held = dict(have or ())
    wanted = dict(want)
    argv: list[str] = []
    for name in sorted(held):
        if name not in wanted:
            argv += ["--netif_del", name]
    for name, attrs in want:
        if name in held and _subset(attrs, held[name]):
            continue
        parts = dict(attrs)
        argv += ["--netif_add", ",".join([name, *(parts.get(k, "") for k in _NETIF_KEYS)])]
    return argv


# ---- display ---------------------------------------------------------------------------------


def _show_list(value: Canon) -> str:
    return ", ".join(value) if value else "(none)"


def _show_flags(value: Canon) -> str:
    return ", ".join(f"{k}:{'on' if v else 'off'}" for k, v in value) or "(none)"


def _show_perms(value: Canon) -> str:
    return ", ".join(f"{k}:{v}" for k, v in value) or "(none)"


def _show_netif(value: Canon) -> str:
    shown = [name + "(" + ",".join(f"{k}={v}" for k, v in attrs) + ")" for name, attrs in value]
    return "; ".join(shown) or "(none)"


def _show_disk(value: Canon) -> str:
    soft, hard = value
    left, right = units.format_binary(soft, 1024), units.format_binary(hard, 1024)
    return left if soft == hard else f"{left}:{right}"


def _show_rate(value: Canon) -> str:
    return units.format_binary(int(value)) + "/s" if value else "unlimited"


def _row(name: str, key: str, option: str, kind: str, **extra: Any) -> FieldDef:
    """Builds the common rows: kind picks the canonical forms and rendering."""
    forms: dict[str, tuple[Any, Any, Any, Any]] = {
        "text": (_text, _text, _opt(option, str), str),
        "lower": (_lower, _lower, _opt(option, str), str),
        "int": (_int, _conf_int, _opt(option, str), str),
        "bool": (_bool, _conf_bool, _opt(option, _yes_no), _yes_no),
        "pages": (_pages, _conf_pages, _opt(option, units.format_pages), units.format_pages),
        "disk": (_disk, _conf_disk, _opt(option, _pair), _show_disk),
        "items": (_items, _conf_items, _opt(option, _pair_items), _pair_items),
        # vzctl's parse_dq reads no `unlimited`: LONG_MAX goes to vzctl as a number
        "inodes": (_items, _conf_items, _opt(option, _pair), _pair_items),
        "cpumask": (_cpumask, _cpumask, _opt(option, str), str),
    }
    desired, observed, argv, show = forms[kind]
    return FieldDef(name, key, desired, observed, argv, show, **extra)


UBC_COUNTERS = (
    "numproc", "numtcpsock", "numothersock", "numfile", "numflock", "numpty", "numsiginfo",
    "numiptent",
)  # fmt: skip

FIELDS: tuple[FieldDef, ...] = (
    _row("ostemplate", "OSTEMPLATE", "--ostemplate", "text", klass="recreate", create_option=True),
    _row("layout", "VE_LAYOUT", "--layout", "text", klass="recreate", create_option=True),
    _row("config", "ORIGIN_SAMPLE", "--config", "text", klass="recreate", create_option=True),
    _row("hostname", "HOSTNAME", "--hostname", "lower", create_option=True),
    FieldDef("ip", "IP_ADDRESS", _ips, _conf_ips, _ip_argv, _show_list, create_option=True),
    FieldDef("nameserver", "NAMESERVER", _words, _conf_words, _repeat("--nameserver"), _show_list),
    FieldDef("searchdomain", "SEARCHDOMAIN", _words, _conf_words, _repeat("--searchdomain"), _show_list),
    FieldDef("netif", "NETIF", _netifs, _conf_netifs, _netif_argv, _show_netif, equal=_netif_equal),
    _row("ram", "PHYSPAGES", "--ram", "pages"),
    _row("swap", "SWAPPAGES", "--swap", "pages"),
    _row("diskspace", "DISKSPACE", "--diskspace", "disk", create_option=True),
    _row("diskinodes", "DISKINODES", "--diskinodes", "inodes", create_option=True),
    _row("quotaugidlimit", "QUOTAUGIDLIMIT", "--quotaugidlimit", "int", restart_if=_ugid_restart),
    _row("cpus", "CPUS", "--cpus", "int"),
    _row("cpuunits", "CPUUNITS", "--cpuunits", "int"),
    _row("cpulimit", "CPULIMIT", "--cpulimit", "int"),
    _row("cpumask", "CPUMASK", "--cpumask", "cpumask"),
    _row("ioprio", "IOPRIO", "--ioprio", "int"),
    FieldDef("iolimit", "IOLIMIT", _rate, _conf_int, _opt("--iolimit", lambda v: f"{v}B"), _show_rate),
    _row("iopslimit", "IOPSLIMIT", "--iopslimit", "int"),
    *(_row(n, n.upper(), f"--{n}", "items") for n in UBC_COUNTERS),
    _row("onboot", "ONBOOT", "--onboot", "bool"),
    _row("bootorder", "BOOTORDER", "--bootorder", "int"),
    _row("disabled", "DISABLED", "--disabled", "bool"),
    _row("description", "DESCRIPTION", "--description", "text", create_option=True),
    FieldDef("features", "FEATURES", _flags, _conf_flags, _flag_argv("--features"), _show_flags, klass="restart", equal=_subset),
    FieldDef("capability", "CAPABILITY", _flags, _conf_flags, _flag_argv("--capability"), _show_flags, klass="restart", equal=_subset),
    _row("netfilter", "NETFILTER", "--netfilter", "text", klass="restart"),
    FieldDef("devnodes", "DEVNODES", _perms, _conf_perms, _devnodes_argv, _show_perms, equal=_devnodes_equal),
)  # fmt: skip

NAME_FIELD = _row("name", "NAME", "--name", "text", create_option=True)
BY_NAME: dict[str, FieldDef] = {f.name: f for f in (*FIELDS, NAME_FIELD)}


def desired_settings(spec: ContainerSpec, name: str) -> dict[str, Canon]:
    """The canonical values of every field the spec sets (unset fields are not managed)."""
    values: dict[str, Canon] = {"name": name}
    for field in FIELDS:
        raw = getattr(spec, field.name)
        if raw is not None:
            values[field.name] = field.desired(raw, spec.ctid)
    return values


SavedMemo = defaultdict[str, dict[str, Canon]]


def saved_settings(
    conf: Mapping[str, str], ctid: int, seen: SavedMemo | None = None
) -> dict[str, Canon]:
    """The canonical values of every field present in a container's config file.

    `seen`, shared by the calls of one observation, maps each config key to {text: canonical
    value}: the configs of a fleet repeat most of their values, which are then parsed once and
    held once (canonical values are immutable, and no config parser depends on the ctid).
    """
    memo: SavedMemo = defaultdict(dict) if seen is None else seen
    values: dict[str, Canon] = {}
    for key, name, field in _SAVED_ROWS:
        raw = conf.get(key)
        if raw is None:
            continue
        known = memo[key]
        if raw in known:
            values[name] = known[raw]
        else:
            values[name] = known[raw] = _saved_value(field, raw, ctid)
    return values


_SAVED_ROWS = tuple((field.key, field.name, field) for field in (*FIELDS, NAME_FIELD))


def _saved_value(field: FieldDef, raw: str, ctid: int) -> Canon:
    try:
        return field.observed(raw, ctid)
    except (ValueError, units.UnitError):
        return ("unparsable", raw)
