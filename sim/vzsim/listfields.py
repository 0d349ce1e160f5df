"""vzlist's fields: the table of names, headers and widths, and the text/JSON printers.

Reproduces src/vzlist.c: right/left alignment per field, `-` for missing values, non-last
string fields cut to their width (unless `-t`), multi-value fields showing their first value,
numbers never cut, and JSON printed by hand with strings *not* escaped, so a quote in a
DESCRIPTION makes the document invalid, as the real tool does.
"""

from __future__ import annotations

from vzsim.codes import INT_MAX, LONG_MAX
from vzsim.kernel import LIST_UBC
from vzsim.setparams import CAP_NAMES, FEATURES

STATUSES = ("running", "stopped", "mounted", "suspended")
RUNNING, STOPPED, MOUNTED, SUSPENDED = range(4)


class Ve:
    """One container as vzlist sees it (struct Cveinfo)."""

    def __init__(self, veid: int) -> None:
        self.veid = veid
        self.status = STOPPED
        self.hide = False
        self.ip: str | None = None
        self.strs: dict[str, str] = {}
        self.ubc: dict[str, list[int]] | None = None
        self.quota: dict[str, list[int]] | None = None
        self.cpu: tuple[int, int] | None = None
        self.cpunum = -1
        self.io = [-1, -1, -1]
        self.onboot: str | None = None
        self.bootorder: int | None = None
        self.layout = "simfs"
        self.features = (0, 0)
        self.disabled = False
        self.vm_overcommit = 0.0
        self.netfilter: str | None = None
        self.cap = (0, 0)
        self.cpustat: tuple[float, float] | None = None


TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Printer = Callable[[Ve, int, bool, bool], str]


class Field:
    """One vzlist field: name, header and its format, value index, data source, printer."""

    __slots__ = ("hdr_fmt", "header", "index", "name", "printer", "res")

    def __init__(
        self, name: str, header: str, hdr_fmt: str, index: int, res: str, printer: Printer
    ) -> None:
        self.name, self.header, self.hdr_fmt = name, header, hdr_fmt
        self.index, self.res, self.printer = index, res, printer


def _cut(text: str, width: int, last: bool) -> str:
    """A non-last field advances the line by its width only: longer text is cut."""
    return text if last else text[:width]


def _str_field(key: str, width: int) -> Printer:
    def show(ve: Ve, index: int, json: bool, last: bool) -> str:
        value = ve.strs.get(key)
        if json:
            return "null" if value is None else f'"{value}"'
        text = f"{'-' if value is None else value:{'<' if width < 0 else '>'}{abs(width)}}"
        return _cut(text, abs(width), last)

    return show


def _list_field(key: str) -> Printer:
    def show(ve: Ve, index: int, json: bool, last: bool) -> str:
        value = ve.ip if key == "ip" else ve.strs.get(key)
        if json:
            items = (value or "").split()
            return "[" + ", ".join(f'"{i}"' for i in items) + "]"
        text = "-" if value is None else value
        if not last:
            text = text.split(" ", 1)[0]
        return _cut(f"{text:<15}", 15, last)

    return show


def _veid(ve: Ve, index: int, json: bool, last: bool) -> str:
    return str(ve.veid) if json else f"{ve.veid:>10}"


def _smart_name(ve: Ve, index: int, json: bool, last: bool) -> str:
    if "name" not in ve.strs:
        return _veid(ve, index, json, last)
    return _str_field("name", 10)(ve, index, json, last)


def _status(ve: Ve, index: int, json: bool, last: bool) -> str:
    return f'"{STATUSES[ve.status]}"' if json else f"{STATUSES[ve.status]:<9}"


def _ubc(key: str) -> Printer:
    def show(ve: Ve, index: int, json: bool, last: bool) -> str:
        res = None if ve.ubc is None else ve.ubc.get(key, [0, 0, 0, 0, 0])
        running = ve.status == RUNNING
        if json:
            if res is None:
                return "null"
            vals = [res[0], res[1], res[2], res[3], res[4]] if running else [0, 0, *res[2:4], 0]
            names = ("held", "maxheld", "barrier", "limit", "failcnt")
            body = ",\n".join(f'      "{n}": {v}' for n, v in zip(names, vals, strict=True))
            return "{\n" + body + "\n    }"
        if res is None or (not running and index in (0, 1, 4)):
            return f"{'-':>10}"
        return f"{res[index]:>10}"

    return show


def _dq(key: str) -> Printer:
    def show(ve: Ve, index: int, json: bool, last: bool) -> str:
        res = None if ve.quota is None else ve.quota.get(key, [0, 0, 0])
        if json:
            if res is None:
                return "null"
            return (
                f'{{\n      "usage": {res[0]},\n      "softlimit": {res[1]},\n'
                f'      "hardlimit": {res[2]}\n    }}'
            )
        if res is None or (index == 0 and res[0] == 0):
            return f"{'-':>10}"
        return f"{res[index]:>10}"

    return show


def _laverage(ve: Ve, index: int, json: bool, last: bool) -> str:
    if ve.cpustat is None:
        return "null" if json else f"{'-':>14}"
    la = ve.cpustat[0]
    return "[0.00, 0.00, 0.00]" if json else f"{la:1.2f}/{la:1.2f}/{la:1.2f}"


def _uptime(ve: Ve, index: int, json: bool, last: bool) -> str:
    up = ve.cpustat[1] if ve.cpustat else 0.0
    if json:
        return f"{up:.3f}"
    if ve.cpustat is None:
        return f"{'-':>15}"
    secs = int(up)
    days, rest = divmod(secs, 86400)
    return f"{days:03d}d{rest // 3600:02d}h:{rest % 3600 // 60:02d}m:{rest % 60:02d}s"


def _cpu(pos: int) -> Printer:
    def show(ve: Ve, index: int, json: bool, last: bool) -> str:
        if ve.cpu is None:
            return "null" if json else f"{'-':>7}"
        return str(ve.cpu[pos]) if json else f"{ve.cpu[pos]:>7}"

    return show


def _cpunum(ve: Ve, index: int, json: bool, last: bool) -> str:
    if json:
        return str(max(ve.cpunum, 0))
    return f"{'-':>5}" if ve.cpunum <= 0 else f"{ve.cpunum:>5}"


def _io(pos: int, width: int, minimum: int) -> Printer:
    def show(ve: Ve, index: int, json: bool, last: bool) -> str:
        value = ve.io[pos]
        if json:
            return str(max(value, 0))
        return f"{'-':>{width}}" if value < minimum else f"{value:>{width}}"

    return show


def _bool(value: bool, width: int, json: bool) -> str:
    if json:
        return "true" if value else "false"
    return f"{'yes' if value else 'no':>{width}}"


def _onboot(ve: Ve, index: int, json: bool, last: bool) -> str:
    if ve.onboot is None:
        return "null" if json else f"{'-':>6}"
    return _bool(ve.onboot == "yes", 6, json)


def _bootorder(ve: Ve, index: int, json: bool, last: bool) -> str:
    if ve.bootorder is None:
        return "null" if json else f"{'-':>10}"
    return str(ve.bootorder) if json else f"{ve.bootorder:>10}"


def _layout(ve: Ve, index: int, json: bool, last: bool) -> str:
    return f'"{ve.layout}"' if json else f"{ve.layout:<6}"


def _json_flags(pairs: list[tuple[str, bool]]) -> str:
    if not pairs:
        return "null"
    body = ",\n".join(f'      "{n}": {"true" if v else "false"}' for n, v in pairs)
    return "{\n" + body + "\n    }"


def _features(ve: Ve, index: int, json: bool, last: bool) -> str:
    mask, known = ve.features
    pairs = [(n, bool(mask & 1 << i)) for i, n in enumerate(FEATURES) if known & 1 << i]
    if json:
        return _json_flags(pairs)
    text = ",".join(f"{n}:{'on' if v else 'off'}" for n, v in pairs) or "-"
    return _cut(f"{text:<15}", 15, last)


def _vswap(ve: Ve, index: int, json: bool, last: bool) -> str:
    limit = ve.ubc.get("PHYSPAGES", [0] * 5)[3] if ve.ubc is not None else None
    return _bool(limit is not None and limit not in (LONG_MAX, INT_MAX), 5, json)


def _disabled(ve: Ve, index: int, json: bool, last: bool) -> str:
    return _bool(ve.disabled, 6, json)


def _vm_overcommit(ve: Ve, index: int, json: bool, last: bool) -> str:
    if json:
        return f"{ve.vm_overcommit:g}"
    return f"{'-':>6}" if ve.vm_overcommit == 0 else f"{ve.vm_overcommit:>6g}"


def _netfilter(ve: Ve, index: int, json: bool, last: bool) -> str:
    if json:
        return "null" if ve.netfilter is None else f'"{ve.netfilter}"'
    return f"{ve.netfilter or '(null)':<9}"


def _capability(ve: Ve, index: int, json: bool, last: bool) -> str:
    on, off = ve.cap
    pairs = [(n.lower(), bool(on & 1 << i)) for i, n in enumerate(CAP_NAMES) if (on | off) & 1 << i]
    if json:
        return _json_flags(pairs)
    return f"{','.join(f'{n}:' + ('on' if v else 'off') for n, v in pairs) or '-':<15}"


def _table() -> list[Field]:
    out = [Field(n, "CTID", "%10s", 0, "", _veid) for n in ("ctid", "veid", "vpsid")]
    for name, width, hdr_fmt in (
        ("private", -32, "%-32s"),
        ("root", -32, "%-32s"),
        ("mount_opts", -16, "%-16s"),
        ("origin_sample", -32, "%32s"),
        ("hostname", -32, "%-32s"),
        ("name", -32, "%-32s"),
    ):
        out.append(Field(name, name.upper(), hdr_fmt, 0, "", _str_field(name, width)))
    out.append(Field("smart_name", "SMARTNAME", "%10s", 0, "", _smart_name))
    out.append(Field("description", "DESCRIPTION", "%-32s", 0, "", _str_field("description", -32)))
    out.append(Field("ostemplate", "OSTEMPLATE", "%-32s", 0, "", _str_field("ostemplate", -32)))
    for name, header in (
        ("ip", "IP_ADDR"),
        ("nameserver", "NAMESERVER"),
        ("searchdomain", "SEARCHDOMAIN"),
    ):
        out.append(Field(name, header, "%-15s", 0, "ip" if name == "ip" else "", _list_field(name)))
    out.append(Field("status", "STATUS", "%-9s", 0, "status", _status))
    for key, header in zip(LIST_UBC, UBC_HEADERS, strict=True):
        for index, suffix in enumerate(("", ".m", ".b", ".l", ".f")):
            name = key.lower() + suffix
            out.append(Field(name, header + suffix.upper(), "%10s", index, "ubc", _ubc(key)))
    for key, name, header in (
        ("DISKSPACE", "diskspace", "DSPACE"),
        ("DISKINODES", "diskinodes", "DINODES"),
    ):
        for index, suffix in enumerate(("", ".s", ".h")):
            out.append(
                Field(name + suffix, header + suffix.upper(), "%10s", index, "quota", _dq(key))
            )
    return out + _tail()


def _tail() -> list[Field]:
    return [
        Field("laverage", "LAVERAGE", "%14s", 0, "cpustat", _laverage),
        Field("uptime", "UPTIME", "%15s", 0, "cpustat", _uptime),
        Field("cpulimit", "CPULIM", "%7s", 0, "cpu", _cpu(0)),
        Field("cpuunits", "CPUUNI", "%7s", 0, "cpu", _cpu(1)),
        Field("cpus", "CPUS", "%5s", 0, "cpunum", _cpunum),
        Field("ioprio", "IOP", "%3s", 0, "", _io(0, 3, 0)),
        Field("iolimit", "IOLIMIT", "%10s", 0, "io", _io(1, 10, 1)),
        Field("iopslimit", "IOPS", "%4s", 0, "io", _io(2, 4, 1)),
        Field("onboot", "ONBOOT", "%6s", 0, "", _onboot),
        Field("bootorder", "BOOTORDER", "%10s", 0, "", _bootorder),
        Field("layout", "LAYOUT", "%6s", 0, "", _layout),
        Field("features", "FEATURES", "%-15s", 0, "", _features),
        Field("vswap", "VSWAP", "%5s", 0, "", _vswap),
        Field("disabled", "DISABL", "%6s", 0, "", _disabled),
        Field("vm_overcommit", "VM_OVC", "%6s", 0, "", _vm_overcommit),
        Field("netfilter", "NETFILTER", "%-9s", 0, "", _netfilter),
        Field("capability", "CAPABILITY", "%-15s", 0, "", _capability),
    ]


UBC_HEADERS = [
    "KMEMSIZE",
    "LOCKEDP",
    "PRIVVMP",
    "SHMP",
    "NPROC",
    "PHYSP",
    "VMGUARP",
    "OOMGUARP",
    "NTCPSOCK",
    "NFLOCK",
    "NPTY",
    "NSIGINFO",
    "TCPSNDB",
    "TCPRCVB",
    "OTHSOCKB",
    "DGRAMRB",
    "NOTHSOCK",
    "DCACHESZ",
    "NFILE",
    "NIPTENT",
    "SWAPP",
]
FIELDS = _table()
BY_NAME = {f.name: i for i, f in reversed(list(enumerate(FIELDS)))}


def header(fields: list[Field]) -> str:
    return " ".join(f.hdr_fmt % f.header for f in fields).rstrip()


def text_row(ve: Ve, fields: list[Field], trim: bool) -> str:
    last = len(fields) - 1
    parts = [f.printer(ve, f.index, False, not trim or i == last) for i, f in enumerate(fields)]
    return " ".join(parts).rstrip()


def json_object(ve: Ve, fields: list[Field]) -> str:
    items = [f'\n    "{f.name}": ' + f.printer(ve, f.index, True, True) for f in fields]
    return "\n  {" + ",".join(items) + "\n  }"
