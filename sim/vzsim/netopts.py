"""veth interfaces: `--netif_add/--netif_del/--ifname ...` options and the NETIF config key.

Follows vzctl's config.c/veth.c: omitted parts of `--netif_add ifname[,mac,host_ifname,
host_mac,bridge]` are generated (host name `veth<CTID>.<N>`, MACs hashed from the CTID, the
device name and the host's first MAC), `--ifname X --mac ...` edits an existing interface,
and NETIF is stored as `ifname=..,bridge=..,mac=..,host_ifname=..,host_mac=..` joined by `;`.
"""

from __future__ import annotations

from vzsim.values import generate_mac, parse_mac

IFNAMSIZE = 16
# The simulated node's first NIC, which vzctl mixes into generated MACs.
HOST_HWID = "00:16:3E:5A:0B:01"
OK, INVAL = "ok", "inval"
PARTS = ("ifname", "mac", "host_ifname", "host_mac", "bridge", "mac_filter")
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Say = Callable[[int, str], None]


class Netif:
    """One veth device (vzctl veth_dev); empty strings are unset parts."""

    def __init__(self, raw: list[str] | None = None, parts: dict[str, str] | None = None) -> None:
        parts = parts or {}
        self.ifname = parts.get("ifname", "")
        self.mac = parts.get("mac", "")
        self.host_ifname = parts.get("host_ifname", "")
        self.host_mac = parts.get("host_mac", "")
        self.bridge = parts.get("bridge", "")
        self.mac_filter = parts.get("mac_filter", "")
        self.raw = raw or []

    def parts(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in PARTS}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Netif) and self.parts() == other.parts()

    __hash__ = None  # type: ignore[assignment]


class NetifRequest:
    """The netif part of a command line."""

    def __init__(self) -> None:
        self.add: list[Netif] = []
        self.delete: list[str] = []
        self.delall = False
        self.cfg: Netif | None = None

    def empty(self) -> bool:
        return not (self.add or self.delete or self.delall or self.cfg)


def veth_name(veid: int, ifname: str) -> str:
    """generate_veth_name(): `veth<CTID>.<number in the CT interface name>`."""
    start = next((n for n, c in enumerate(ifname) if c.isdigit()), len(ifname))
    end = start
    while end < len(ifname) and ifname[end].isdigit():
        end += 1
    number = int(ifname[start:end]) if start > 0 and end > start else 0
    return f"veth{veid}.{number}"


def resolve_cmd(dev: Netif, veid: int) -> Netif:
    """parse_netif_str_cmd(): fill the parts `--netif_add` left out."""
    parts = dev.raw + [""] * (5 - len(dev.raw))
    name, mac, host, hmac, bridge = parts[:5]
    given = len(dev.raw)
    out = Netif(parts={"ifname": name, "bridge": bridge if given >= 5 else ""})
    if given == 1:
        out.host_ifname = veth_name(veid, name)
        out.host_mac = generate_mac(veid, out.host_ifname, HOST_HWID)
        out.mac = generate_mac(veid, name, HOST_HWID)
        return out
    out.mac = parse_mac(mac) or generate_mac(veid, name, HOST_HWID)
    out.host_ifname = host or veth_name(veid, name)
    if given == 2 or (given == 3 and host):
        out.host_mac = out.mac
    else:
        out.host_mac = parse_mac(hmac) or generate_mac(veid, out.host_ifname, HOST_HWID)
    return out


def parse_stored(text: str, veid: int) -> list[Netif]:
    """parse_netif(): the NETIF config value, with the same defaults vzctl fills in."""
    devs: list[Netif] = []
    for item in text.split(";"):
        dev = Netif()
        for part in item.split(","):
            key, _, value = part.partition("=")
            if key in ("ifname", "host_ifname", "bridge", "mac_filter") and not getattr(dev, key):
                setattr(dev, key, value)
            elif key in ("mac", "host_mac"):
                setattr(dev, key, parse_mac(value) or "")
        if not dev.ifname:
            continue
        dev.host_ifname = dev.host_ifname or veth_name(veid, dev.ifname)
        dev.mac = dev.mac or generate_mac(veid, dev.host_ifname, HOST_HWID)
        dev.host_mac = dev.host_mac or dev.mac
        if all(d.ifname != dev.ifname for d in devs):
            devs.append(dev)
    return devs


def fill(dst: Netif, src: Netif) -> Netif:
    """fill_veth_dev(): copy every part src sets over dst."""
    merged = dst.parts()
    merged.update({k: v for k, v in src.parts().items() if v})
    return Netif(parts=merged)


def format_stored(devs: list[Netif]) -> str:
    """store_netif(): one `key=value,...` group per device, `;` between devices."""
    groups = []
    for d in devs:
        parts = [f"ifname={d.ifname}"] if d.ifname else []
        parts += [f"bridge={d.bridge}"] if d.bridge else []
        parts += [f"mac={d.mac}"] if d.mac else []
        parts += [f"host_ifname={d.host_ifname}"] if d.host_ifname else []
        parts += [f"host_mac={d.host_mac}"] if d.host_mac else []
        parts += [f"mac_filter={d.mac_filter}"] if d.mac_filter else []
        groups.append(",".join(parts))
    return ";".join(groups)


def merged(old: list[Netif], req: NetifRequest, veid: int) -> list[Netif]:
    """merge_veth_list(): old minus deleted, updated by the added ones, then the new ones."""
    add = [resolve_cmd(d, veid) for d in req.add]
    if req.cfg is not None:
        add = _merge_cfg(add, req.cfg)
    base = [] if req.delall else old
    out = []
    for dev in base:
        if dev.ifname in req.delete:
            continue
        new = next((a for a in add if a.ifname == dev.ifname), None)
        out.append(fill(dev, new) if new else dev)
    out += [a for a in add if all(a.ifname != o.ifname for o in base)]
    return out


def _merge_cfg(add: list[Netif], cfg: Netif) -> list[Netif]:
    for i, dev in enumerate(add):
        if dev.ifname == cfg.ifname:
            add[i] = fill(dev, cfg)
            return add
    return [*add, Netif(parts=cfg.parts())]


def check(req: NetifRequest, old: list[Netif], say: Say) -> bool:
    """check_veth_param(): `--ifname` is required and must name a known interface."""
    if req.cfg is None:
        return True
    if not req.cfg.ifname:
        say(-1, "Invalid usage.  Option --ifname not specified")
        return False
    if any(d.raw[:1] == [req.cfg.ifname] for d in req.add):
        return True
    if all(d.ifname != req.cfg.ifname for d in old):
        say(
            -1,
            f"Invalid usage: veth device {req.cfg.ifname} is not configured, "
            "use --netif_add option first",
        )
        return False
    return True


def _netif_add(req: object, value: str, say: Say) -> str:
    net: NetifRequest = req.net  # type: ignore[attr-defined]
    for token in value.split(" "):
        if not token:
            continue
        parts = token.split(",")
        if len(parts[0]) + 1 > IFNAMSIZE:
            return INVAL
        for pos, label in ((1, "container"), (3, "host")):
            mac = parts[pos] if len(parts) > pos else ""
            if mac and (len(mac) != 17 or not parse_mac(mac)):
                say(-1, f"Invalid {label} MAC address")
                return INVAL
        raw = [*parts[:4], ",".join(parts[4:])] if len(parts) > 4 else parts
        net.add.append(Netif(raw=raw))
    return OK


def _netif_del(req: object, value: str, say: Say) -> str:
    net: NetifRequest = req.net  # type: ignore[attr-defined]
    if len(value) > IFNAMSIZE:
        return INVAL
    if value == "all":
        net.delall = True
    elif value not in net.delete:
        net.delete.append(value)
    return OK


def _cfg(part: str) -> Callable[[object, str, Say], str]:
    def parse(req: object, value: str, say: Say) -> str:
        net: NetifRequest = req.net  # type: ignore[attr-defined]
        cfg = net.cfg = net.cfg or Netif()
        if part in ("ifname", "bridge") and getattr(cfg, part):
            say(-1, f"Multiple use of --{part} option not allowed")
            return INVAL
        if part in ("mac", "host_mac"):
            mac = parse_mac(value)
            if mac is None:
                return INVAL
            value = mac
        elif (part == "mac_filter" and value not in ("on", "off")) or len(value) > IFNAMSIZE:
            return INVAL
        setattr(cfg, part, value)
        return OK

    return parse


PARSERS: dict[str, Callable[[object, str, Say], str]] = {
    "netif_add": _netif_add,
    "netif_del": _netif_del,
    "mac_filter": _cfg("mac_filter"),
    "mac": _cfg("mac"),
    "ifname": _cfg("ifname"),
    "host_mac": _cfg("host_mac"),
    "host_ifname": _cfg("host_ifname"),
    "bridge": _cfg("bridge"),
}
