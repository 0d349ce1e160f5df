"""The simulated OpenVZ kernel: one record per mounted or running container.

A real node keeps live state in the kernel (/proc/vz/veinfo, /proc/user_beancounters,
fairsched, vzquota); the simulator keeps it in `DIR/run/CTID.state` (a marshal'ed dict: it
loads without importing anything, and every simulated call reads it). `vzctl mount` and `start`
create it from the config (start also derives the vswap UBCs like fill_vswap_ub()), `set` on a
running container changes it, `stop`/`umount` remove it, and `vzlist` reads it for running
containers instead of the config, so config drift stays invisible there, as on a node.
"""

from __future__ import annotations

import marshal
import os
import time

from reconciler.atomicwrite import replace_file
from vzsim.codes import INT_MAX, LONG_MAX
from vzsim.ctconf import Config
from vzsim.layout import Node
from vzsim.values import float_prefix, strip_mask

LIST_UBC = [
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
    "DCACHESIZE",
    "NUMFILE",
    "NUMIPTENT",
    "SWAPPAGES",
]
# What an idle simulated container uses (the recorded fake kernel data showed these).
IDLE_HELD = {"NUMPROC": 2, "PHYSPAGES": 98}

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Record = dict[str, Any]


def load(node: Node, veid: int) -> Record | None:
    """The kernel record, or None when the container is neither mounted nor running."""
    try:
        with open(node.run_path(veid), "rb") as fh:
            data = marshal.load(fh)  # noqa: S302 - the simulator's own state file
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def save(node: Node, veid: int, record: Record) -> None:
    os.makedirs(node.run_dir, exist_ok=True)
    path = node.run_path(veid)
    replace_file(path, marshal.dumps(record), tmp=f"{path}.{os.getpid()}.tmp")


def remove_file(path: str) -> None:
    try:  # noqa: SIM105 - contextlib would cost import time on every simulated call
        os.unlink(path)
    except OSError:
        pass


def remove(node: Node, veid: int) -> None:
    remove_file(node.run_path(veid))


def is_running(record: Record | None) -> bool:
    return record is not None and record.get("status") == "running"


def disk_usage(private: str) -> tuple[int, int]:
    """(KB used, inodes used) of a private area, as vzquota would count them."""
    blocks, inodes = 0, 0
    for base, dirs, files in os.walk(private):
        for name in (*dirs, *files):
            try:
                blocks += os.lstat(os.path.join(base, name)).st_blocks
            except OSError:
                continue
            inodes += 1
    return blocks // 2, inodes + 1


def quota_from(cfg: Config, usage: tuple[int, int]) -> dict[str, list[int]]:
    """The vzquota limits of a mounted container: config limits, measured usage."""
    space = cfg.disk("DISKSPACE") or (LONG_MAX, LONG_MAX)
    inodes = cfg.disk("DISKINODES") or (LONG_MAX, LONG_MAX)
    return {"DISKSPACE": [usage[0], *space], "DISKINODES": [usage[1], *inodes]}


def mounted_record(cfg: Config, private: str) -> Record:
    return {"status": "mounted", "quota": quota_from(cfg, disk_usage(private))}


def vswap_defaults(
    cfg: Config, cmd: dict[str, tuple[int, int]], overcommit: float | None = None
) -> dict[str, tuple[int, int]]:
    """fill_vswap_ub(): the UBCs vzctl derives from ram/swap when neither side sets them."""
    phys = cmd.get("PHYSPAGES") or cfg.ubc("PHYSPAGES")
    cmd_vswap = "PHYSPAGES" in cmd and cmd["PHYSPAGES"][1] not in (LONG_MAX, INT_MAX)
    if not (cfg.is_vswap() or cmd_vswap):
        return {}
    swap = cmd.get("SWAPPAGES") or cfg.ubc("SWAPPAGES")
    if phys is None or swap is None:
        return {}
    ram, total = phys[1], phys[1] + swap[1]
    ovc_raw = cfg.str("VM_OVERCOMMIT")
    ovc = overcommit or (float_prefix(ovc_raw)[0] if ovc_raw else 0.0)
    priv = (int(total * ovc), int(total * ovc)) if ovc else (LONG_MAX, LONG_MAX)
    derived = {
        "LOCKEDPAGES": (ram, ram),
        "OOMGUARPAGES": (ram, LONG_MAX),
        "VMGUARPAGES": (total, LONG_MAX),
        "PRIVVMPAGES": priv,
    }
    return {k: v for k, v in derived.items() if k not in cmd and cfg.ubc(k) is None}


def live_ubc(cfg: Config) -> dict[str, list[int]]:
    """Every beancounter as the kernel holds it after start: [held, maxheld, bar, lim, fail]."""
    derived = vswap_defaults(cfg, {})
    out: dict[str, list[int]] = {}
    for key in LIST_UBC:
        pair = cfg.ubc(key) or derived.get(key) or (LONG_MAX, LONG_MAX)
        held = IDLE_HELD.get(key, 0)
        out[key] = [held, held, pair[0], pair[1], 0]
    return out


def running_record(cfg: Config, previous: Record | None, private: str) -> Record:
    """The kernel state right after `vzctl start`, loaded from the config."""
    quota = (previous or {}).get("quota") or quota_from(cfg, disk_usage(private))
    ipv6 = cfg.str("IPV6") == "yes"
    ips = [strip_mask(ip) for ip in cfg.ips() if ipv6 or ":" not in ip]
    return {
        "status": "running",
        "started": time.time(),
        "ip": ips,
        "ubc": live_ubc(cfg),
        "cpulimit": cfg.cpulimit() or 0,
        "cpuunits": cfg.ulong("CPUUNITS") or 1000,
        "cpus": cfg.ulong("CPUS") or 0,
        "iolimit": max(cfg.io("IOLIMIT"), 0),
        "iopslimit": max(cfg.io("IOPSLIMIT"), 0),
        "quota": quota,
        "ugidlimit": cfg.ulong("QUOTAUGIDLIMIT") or 0,
    }


def _ip_path(node: Node, ip: str) -> str:
    return os.path.join(node.run_dir, "ip", ip.replace("/", "_"))


def claim_ip(node: Node, veid: int, ip: str) -> int | None:
    """Give a venet address to a container; the other running owner's CTID on conflict."""
    os.makedirs(os.path.join(node.run_dir, "ip"), exist_ok=True)
    path = _ip_path(node, ip)
    for _ in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            owner = _ip_owner(path)
            if owner == veid:
                return None
            if owner is not None and ip in (load(node, owner) or {}).get("ip", []):
                return owner
            remove_file(path)
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{veid}\n")
        return None
    return None


def _ip_owner(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def release_ip(node: Node, veid: int, ip: str) -> None:
    path = _ip_path(node, ip)
    if _ip_owner(path) == veid:
        remove_file(path)


def fairsched_cpulimit(percent: int) -> int:
    """What vzlist reads back from /proc/fairsched for a cpulimit set by vzctl."""
    rate = int(float(percent) * 1024 / 100) & 0xFFFFFFFF
    return round(rate * 100 / 1024)


def fairsched_cpuunits(units: int) -> int:
    """vzctl stores weight = 500000 / units; vzlist shows 500000 / weight, rounded."""
    weight = max(500000 // max(units, 1), 1)
    return round(500000 / weight)
