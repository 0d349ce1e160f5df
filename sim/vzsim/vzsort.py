"""`vzlist -s FIELD`: glibc's merge-sort qsort() driven by vzlist's comparison functions.

Many vzlist comparators return only 0 or 1 (`a > b`), and the `.b`/`.l` UBC sorts use each
other's column; running them through the same merge sort glibc uses gives the same order
the real tool prints, quirks included.
"""

from __future__ import annotations

from vzsim.listfields import Ve

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Cmp = Callable[[Ve, Ve], int]


def _msort(items: list[Ve], cmp: Cmp) -> list[Ve]:
    """glibc msort_with_tmp(): split n/2, merge taking the left item while cmp <= 0."""
    if len(items) <= 1:
        return items
    half = len(items) // 2
    left, right = _msort(items[:half], cmp), _msort(items[half:], cmp)
    out: list[Ve] = []
    i = j = 0
    while i < len(left) and j < len(right):
        if cmp(left[i], right[j]) <= 0:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    return out + left[i:] + right[j:]


def _gt(a: float, b: float) -> int:
    return 1 if a > b else 0


def _empty(a: object, b: object) -> int | None:
    """check_empty_param(): NULL sorts first; None when both are set."""
    if a is None and b is None:
        return 0
    if a is None:
        return -1
    if b is None:
        return 1
    return None


def _by_id(a: Ve, b: Ve) -> int:
    return _gt(a.veid, b.veid)


def _string(key: str) -> Cmp:
    def cmp(a: Ve, b: Ve) -> int:
        x = a.ip if key == "ip" else a.strs.get(key)
        y = b.ip if key == "ip" else b.strs.get(key)
        empty = _empty(x, y)
        if empty is not None or x is None or y is None:
            return empty or 0
        return (x > y) - (x < y)

    return cmp


def _ubc(key: str, index: int) -> Cmp:
    def cmp(a: Ve, b: Ve) -> int:
        empty = _empty(a.ubc, b.ubc)
        if empty is not None or a.ubc is None or b.ubc is None:
            return empty or 0
        zero = [0] * 5
        return _gt(a.ubc.get(key, zero)[index], b.ubc.get(key, zero)[index])

    return cmp


def _quota(key: str, index: int) -> Cmp:
    def cmp(a: Ve, b: Ve) -> int:
        empty = _empty(a.quota, b.quota)
        if empty is not None or a.quota is None or b.quota is None:
            return empty or 0
        return _gt(a.quota.get(key, [0] * 3)[index], b.quota.get(key, [0] * 3)[index])

    return cmp


def _cpu(pos: int) -> Cmp:
    def cmp(a: Ve, b: Ve) -> int:
        empty = _empty(a.cpu, b.cpu)
        if empty is not None or a.cpu is None or b.cpu is None:
            return empty or 0
        return _gt(a.cpu[pos], b.cpu[pos])

    return cmp


def _bootorder(a: Ve, b: Ve) -> int:
    empty = _empty(a.bootorder, b.bootorder)
    if empty == 0:
        return 1 - _by_id(a, b)
    if empty is not None or a.bootorder is None or b.bootorder is None:
        return empty or 0
    if a.bootorder == b.bootorder:
        return 1 - _by_id(a, b)
    return _gt(a.bootorder, b.bootorder)


def _uptime(a: Ve, b: Ve) -> int:
    empty = _empty(a.cpustat, b.cpustat)
    if empty is not None or a.cpustat is None or b.cpustat is None:
        return empty or 0
    return int(b.cpustat[1] - a.cpustat[1])


def comparator(name: str) -> Cmp:
    """The sort function vzlist pairs with a field name."""
    base, _, suffix = name.partition(".")
    from vzsim.kernel import LIST_UBC

    if base.upper() in LIST_UBC:
        index = {"": 0, "m": 1, "l": 2, "b": 3, "f": 4}[suffix]
        return _ubc(base.upper(), index)
    if base in ("diskspace", "diskinodes"):
        return _quota(base.upper(), {"": 0, "s": 1, "h": 2}[suffix])
    fixed: dict[str, Cmp] = {
        "ctid": _by_id,
        "veid": _by_id,
        "vpsid": _by_id,
        "status": lambda a, b: (a.status - b.status) or _by_id(a, b),
        "smart_name": _string("name"),
        "cpulimit": _cpu(0),
        "cpuunits": _cpu(1),
        "cpus": lambda a, b: _gt(a.cpunum, b.cpunum),
        "bootorder": _bootorder,
        "uptime": _uptime,
        "laverage": lambda a, b: (
            0 if a.cpustat and b.cpustat else (_empty(a.cpustat, b.cpustat) or 0)
        ),
        "ioprio": lambda a, b: _gt(a.io[0], b.io[0]),
        "iolimit": lambda a, b: _gt(a.io[1], b.io[1]),
        "iopslimit": lambda a, b: _gt(a.io[2], b.io[2]),
        "layout": lambda a, b: _gt(a.layout == "ploop", b.layout == "ploop"),
    }
    if name in fixed:
        return fixed[name]
    if name in (
        "private",
        "root",
        "mount_opts",
        "origin_sample",
        "hostname",
        "name",
        "description",
        "ostemplate",
        "ip",
        "nameserver",
        "searchdomain",
    ):
        return _string(name)
    return lambda a, b: 0


def sort(ves: list[Ve], name: str) -> list[Ve]:
    return _msort(list(ves), comparator(name))
