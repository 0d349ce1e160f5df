"""The config lines `vzctl set --save` / `create` write, in vzctl's own order (config.c store()).

UBC keys come first (in FOR_ALL_UBC order), then every other key in the order of vzctl's
config table: that is why `--cpus 2 --cpulimit 50 --cpuunits 2000` appends CPULIMIT before
CPUS. Lists and masks are merged with what the container's own file already has (IPs, caps,
features, devnodes, veth), values are normalised (pages, KB, bytes/s, one value when
barrier == limit) and strings are written raw.
"""

from __future__ import annotations

from vzsim import netopts
from vzsim.conffile import quote
from vzsim.ctconf import UBC_ORDER, Config
from vzsim.setparams import CAP_NAMES, FEATURES, Request, devperm
from vzsim.values import find_ip, ubcstr

TABLE_ORDER = [
    "IPTABLES",
    "NETFILTER",
    "CAPABILITY",
    "IP_ADDRESS",
    "NETDEV",
    "HOSTNAME",
    "DESCRIPTION",
    "NAMESERVER",
    "SEARCHDOMAIN",
    "DEVICES",
    "DEVNODES",
    "PCI",
    "VE_ROOT",
    "VE_PRIVATE",
    "MOUNT_OPTS",
    "VE_LAYOUT",
    "OSTEMPLATE",
    "CPUUNITS",
    "CPUUWEIGHT",
    "CPULIMIT",
    "CPUS",
    "CPUMASK",
    "NODEMASK",
    "ONBOOT",
    "ORIGIN_SAMPLE",
    "DISABLED",
    "LOCAL_UID",
    "LOCAL_GID",
    "DISK_QUOTA",
    "DISKSPACE",
    "DISKINODES",
    "QUOTATIME",
    "QUOTAUGIDLIMIT",
    "MEMINFO",
    "NETIF",
    "NAME",
    "FEATURES",
    "IOPRIO",
    "IOLIMIT",
    "IOPSLIMIT",
    "BOOTORDER",
    "STOP_TIMEOUT",
]
_SIMPLE_STRS = {"HOSTNAME", "DESCRIPTION", "VE_ROOT", "VE_PRIVATE", "MOUNT_OPTS", "OSTEMPLATE"}
_SIMPLE_STRS |= {"CPUMASK", "NODEMASK", "ONBOOT", "ORIGIN_SAMPLE", "DISABLED", "DISK_QUOTA"}
_SIMPLE_STRS |= {"NAME", "NETFILTER"}
_NUMS = {"CPUUNITS", "CPUUWEIGHT", "CPULIMIT", "CPUS", "LOCAL_UID", "LOCAL_GID", "QUOTATIME"}
_NUMS |= {"QUOTAUGIDLIMIT", "IOPRIO", "IOLIMIT", "IOPSLIMIT", "BOOTORDER", "STOP_TIMEOUT"}


def cap_masks(cfg: Config) -> tuple[int, int]:
    """(on, off) capability bit masks of a config's CAPABILITY tokens."""
    on = off = 0
    for token in cfg.list("CAPABILITY"):
        name, _, state = token.rpartition(":")
        if name.upper() in CAP_NAMES:
            bit = 1 << CAP_NAMES.index(name.upper())
            on, off = (on | bit, off) if state == "on" else (on, off | bit)
    return on, off


def feature_masks(cfg: Config) -> tuple[int, int]:
    """(mask, known) of a config's FEATURES tokens."""
    mask = known = 0
    for token in cfg.list("FEATURES"):
        name, _, state = token.partition(":")
        if name in FEATURES and state in ("on", "off"):
            bit = 1 << FEATURES.index(name)
            known |= bit
            mask = mask | bit if state == "on" else mask & ~bit
    return mask, known


def cap_string(on: int, off: int, old: tuple[int, int] | None, delim: str = " ") -> str:
    """build_cap_str(): new on/off bits win over the old ones, in capability order."""
    out = []
    for i, name in enumerate(CAP_NAMES):
        bit = 1 << i
        if on & bit or off & bit:
            out.append(f"{name}:{'on' if on & bit else 'off'}")
        elif old and (old[0] | old[1]) & bit:
            out.append(f"{name}:{'on' if old[0] & bit else 'off'}")
    return delim.join(out)


def feature_string(mask: int, known: int, delim: str = " ") -> str:
    return delim.join(
        f"{n}:{'on' if mask & (1 << i) else 'off'}"
        for i, n in enumerate(FEATURES)
        if known & 1 << i
    )


def merged_ips(req: Request, old_ips: list[str]) -> list[str]:
    """merge_ip_list(): old IPs not re-added nor deleted, then the added ones at the end."""
    keep = [] if "ipdelall" in req.flags else old_ips
    out = [ip for ip in keep if not find_ip(req.ip_add, ip) and not find_ip(req.ip_del, ip)]
    return out + req.ip_add


def _devnodes(req: Request, old: Config) -> str | None:
    old_devs = [t.rpartition(":") for t in old.list("DEVNODES")]
    if not old_devs and not req.devnodes:
        return None
    new_names = {n for n, _ in req.devnodes}
    kept = [(n, devperm(p)) for n, _, p in old_devs if n not in new_names]
    text = "".join(f"{n}:{p} " for n, p in kept if p)
    text += "".join(f"{n}:{p} " for n, p in req.devnodes if p)
    return text if text or (old_devs and req.devnodes) else None


def _one(key: str, req: Request, old: Config, veid: int) -> str | None:
    if key in _SIMPLE_STRS:
        return req.strs.get(key)
    if key in _NUMS:
        value = req.nums.get(key)
        return None if value is None else str(value)
    if key in ("NAMESERVER", "SEARCHDOMAIN"):
        return " ".join(req.lists[key]) if req.lists.get(key) else None
    if key in ("DISKSPACE", "DISKINODES"):
        pair = req.disk.get(key)
        return None if pair is None else f"{pair[0]}:{pair[1]}"
    return _complex(key, req, old, veid)


def _complex(key: str, req: Request, old: Config, veid: int) -> str | None:
    if key == "CAPABILITY" and (req.cap_on or req.cap_off):
        return cap_string(req.cap_on, req.cap_off, cap_masks(old))
    if key == "FEATURES" and req.feat_known:
        omask, oknown = feature_masks(old)
        mask = (req.feat_mask & req.feat_known) | (omask & ~req.feat_known)
        return feature_string(mask, oknown | req.feat_known)
    if key == "IP_ADDRESS" and (req.ip_add or req.ip_del or "ipdelall" in req.flags):
        return " ".join(merged_ips(req, old.list("IP_ADDRESS")))
    if key == "NETDEV" and (req.lists.get("NETDEV_ADD") or req.lists.get("NETDEV_DEL")):
        gone = req.lists.get("NETDEV_DEL", [])
        add = req.lists.get("NETDEV_ADD", [])
        return " ".join([d for d in old.list("NETDEV") if d not in add + gone] + add)
    if key == "DEVNODES":
        return _devnodes(req, old)
    if key == "VE_LAYOUT":
        layout = req.strs.get("VE_LAYOUT") or old.str("VE_LAYOUT")
        return None if not layout else "ploop" if layout.startswith("ploop") else "simfs"
    if key == "NETIF" and not req.net.empty():
        old_devs = netopts.parse_stored(old.str("NETIF") or "", veid)
        return netopts.format_stored(netopts.merged(old_devs, req.net, veid))
    return None


def lines(req: Request, old: Config, veid: int) -> list[str]:
    """store(): every `KEY="value"` line this request saves, in vzctl's order."""
    out = [quote(k, ubcstr(*req.ubc[k])) for k in UBC_ORDER if k in req.ubc]
    if req.vm_overcommit:
        out.append(quote("VM_OVERCOMMIT", f"{req.vm_overcommit:g}"))
    for key in TABLE_ORDER:
        value = _one(key, req, old, veid)
        if value is not None:
            out.append(quote(key, value))
    return out
