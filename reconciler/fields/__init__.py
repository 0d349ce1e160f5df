"""The field table: how each spec field is normalised, stored, compared and set (pure).

One row per setting links three worlds: the value written in git (`ram: 2G`), the value vzctl
stores in `CTID.conf` (`PHYSPAGES="0:524288"`), and the `vzctl set` options that change it
(`--ram 2G`). Both sides are turned into one canonical value, so `2048M` in git and 524288 pages
on the node are equal and produce no change. Each row also says whether a running container
takes the change live, needs a restart, or needs a recreate (REFERENCE §4).

The package: `canon` (canonical forms from git and from CTID.conf), `compare` (comparisons
other than equality), `options` (the `vzctl set` options of a change), `show` (display); here,
the table that pairs them per field, and the desired and saved settings of a container.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from reconciler import units
from reconciler.fields.canon import (
    Canon,
    _bool,
    _conf_bool,
    _conf_disk,
    _conf_flags,
    _conf_int,
    _conf_ips,
    _conf_items,
    _conf_netifs,
    _conf_pages,
    _conf_perms,
    _conf_words,
    _cpumask,
    _disk,
    _flags,
    _int,
    _ips,
    _items,
    _lower,
    _netifs,
    _pages,
    _perms,
    _rate,
    _text,
    _words,
    pages_canon,
)
from reconciler.fields.compare import _devnodes_equal, _netif_equal, _subset, _ugid_restart
from reconciler.fields.options import (
    _devnodes_argv,
    _flag_argv,
    _ip_argv,
    _netif_argv,
    _opt,
    _pair,
    _pair_items,
    _repeat,
    _yes_no,
)
from reconciler.fields.show import (
    _show_disk,
    _show_flags,
    _show_list,
    _show_netif,
    _show_perms,
    _show_rate,
)
from reconciler.spec.models import ContainerSpec

__all__ = [
    "BY_NAME",
    "FIELDS",
    "NAME_FIELD",
    "UBC_COUNTERS",
    "Canon",
    "FieldDef",
    "SavedMemo",
    "desired_settings",
    "pages_canon",
    "saved_settings",
]

Klass = Literal["live", "restart", "recreate"]


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
