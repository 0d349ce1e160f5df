"""Applying `vzctl set` parameters to a running container (res.c vps_setup_res()).

Steps run in vzctl's order: beancounters (plus the vswap-derived ones), IP delete/add,
network devices, CPU, device nodes, I/O limits, guest configuration (hostname, DNS), disk
quota, veth. Each step fails with vzctl's "container is not running" message (31) when the
container is stopped, which is what `set` without `--save` on a stopped container reports.
"""

from __future__ import annotations

from reconciler.vzexit import VzctlExit
from vzsim import guest, kernel, netopts
from vzsim.ctconf import Config
from vzsim.ctx import Ctx
from vzsim.lifecycle import _add_ips
from vzsim.setparams import Request
from vzsim.values import c_int32, strip_mask

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Step = Callable[[Ctx, Request, Config, kernel.Record, bool], int]


def _not_running(ctx: Ctx, what: str) -> int:
    ctx.log(-1, f"Unable to apply {what}: container is not running")
    return VzctlExit.VE_NOT_RUNNING


def _ubc(ctx: Ctx, req: Request, cfg: Config, rec: kernel.Record, running: bool) -> int:
    calc = dict(req.ubc)
    calc.update(kernel.vswap_defaults(cfg, req.ubc, req.vm_overcommit))
    if not calc:
        return 0
    if not running:
        return _not_running(ctx, "UBC parameters")
    for key, (barrier, limit) in calc.items():
        if key in rec["ubc"]:
            rec["ubc"][key][2:4] = [barrier, limit]
    ctx.log(0, "UB limits were set successfully")
    return 0


def _net(ctx: Ctx, req: Request, cfg: Config, rec: kernel.Record, running: bool) -> int:
    dels = req.ip_del + [ip for ip in req.ip_redo if ip not in req.ip_del]
    delall = "ipdelall" in req.flags
    private = cfg.path("VE_PRIVATE") or ""
    if dels or delall:
        if not running:
            return _not_running(ctx, "network parameters")
        if delall:
            dels = list(rec["ip"])
        ctx.log(0, f"Deleting {'all ' if delall else ''}IP address(es): {' '.join(dels)}")
        for ip in dels:
            addr = strip_mask(ip)
            if addr in rec["ip"]:
                rec["ip"].remove(addr)
                kernel.release_ip(ctx.node, ctx.veid, addr)
        guest.del_ips(private, dels, delall)
    if not req.ip_add:
        return 0
    if not running:
        return _not_running(ctx, "network parameters")
    ctx.log(0, "Adding IP address(es): " + " ".join(req.ip_add))
    rc = _add_ips(ctx, req.ip_add)
    if rc:
        return rc
    rec["ip"] += [a for a in map(strip_mask, req.ip_add) if a not in rec["ip"]]
    guest.add_ips(private, req.ip_add, starting=False, ipv6=cfg.str("IPV6") == "yes")
    return 0


def _netdev(ctx: Ctx, req: Request, cfg: Config, rec: kernel.Record, running: bool) -> int:
    add, gone = req.lists.get("NETDEV_ADD", []), req.lists.get("NETDEV_DEL", [])
    if not add and not gone:
        return 0
    if not running:
        ctx.log(-1, "Unable to setup network devices: container is not running")
        return VzctlExit.VE_NOT_RUNNING
    rec["netdev"] = [d for d in rec.get("netdev", []) if d not in gone] + add
    return 0


def _cpu(ctx: Ctx, req: Request, cfg: Config, rec: kernel.Record, running: bool) -> int:
    keys = ("CPULIMIT", "CPUUNITS", "CPUUWEIGHT", "CPUS")
    if not any(k in req.nums for k in keys) and not {"CPUMASK", "NODEMASK"} & req.strs.keys():
        return 0
    if not running:
        return _not_running(ctx, "CPU parameters")
    if "CPULIMIT" in req.nums:
        limit = c_int32(req.nums["CPULIMIT"])
        ctx.log(0, f"Setting CPU limit: {limit}")
        if limit < 0:
            ctx.log(-1, "fairsched_rate: Invalid argument")
            return VzctlExit.SETFSHD_ERROR
        rec["cpulimit"] = limit
    if "CPUUNITS" in req.nums:
        ctx.log(0, f"Setting CPU units: {req.nums['CPUUNITS']}")
        rec["cpuunits"] = req.nums["CPUUNITS"]
    elif "CPUUWEIGHT" in req.nums:
        rec["cpuunits"] = 500000 // max(req.nums["CPUUWEIGHT"], 1)
    if "CPUS" in req.nums:
        ctx.log(0, f"Setting CPUs: {req.nums['CPUS']}")
        rec["cpus"] = req.nums["CPUS"]
    if req.strs.get("CPUMASK", "auto") != "auto":
        ctx.log(0, f"Setting CPU mask: {req.strs['CPUMASK']}")
    if "NODEMASK" in req.strs:
        ctx.log(0, f"Setting NUMA node mask: {req.strs['NODEMASK']}")
    return 0


def _devices(ctx: Ctx, req: Request, cfg: Config, rec: kernel.Record, running: bool) -> int:
    if not req.devnodes:
        return 0
    if not running:
        ctx.log(-1, "Unable to apply devperm: container is not running")
        return VzctlExit.VE_NOT_RUNNING
    ctx.log(0, "Setting devices")
    return 0


def _io(ctx: Ctx, req: Request, cfg: Config, rec: kernel.Record, running: bool) -> int:
    if "IOPRIO" in req.nums and not running:
        ctx.log(-1, "Unable to set ioprio: No such process")
        return VzctlExit.SET_IO
    for key, label, unit in (
        ("IOLIMIT", "iolimit", "bytes/sec"),
        ("IOPSLIMIT", "iopslimit", "iops"),
    ):
        if key not in req.nums:
            continue
        value = req.nums[key]
        ctx.log(0, f"Setting {label}: {value} {unit if value else '(unlimited)'}")
        if not running:
            ctx.log(-1, "Container is not running")
            return VzctlExit.VE_NOT_RUNNING
        rec[key.lower()] = value
    return 0


def _configure(ctx: Ctx, req: Request, cfg: Config, rec: kernel.Record, running: bool) -> int:
    host = req.strs.get("HOSTNAME")
    servers, search = req.lists.get("NAMESERVER", []), req.lists.get("SEARCHDOMAIN", [])
    if host is None and not servers and not search:
        return 0
    if not running:
        ctx.log(0, "Unable to configure container: not running")
        return 0
    private = cfg.path("VE_PRIVATE") or ""
    if host is not None:
        first = next((strip_mask(ip) for ip in cfg.ips() if ":" not in ip), "")
        guest.set_hostname(private, cfg.str("OSTEMPLATE"), host, first)
    if servers or search:
        guest.set_dns(private, servers, search, ctx.node.host_resolv)
    return 0


def _quota(ctx: Ctx, req: Request, cfg: Config, rec: kernel.Record, running: bool) -> int:
    touched = req.disk or {"QUOTATIME", "QUOTAUGIDLIMIT"} & req.nums.keys()
    if req.strs.get("DISK_QUOTA") == "no" or not touched:
        return 0
    quota = rec.get("quota") if cfg.str("DISK_QUOTA") != "no" else None
    if not quota:
        ctx.log(-1, "Error: Unable to apply new quota values: quota not running")
        return VzctlExit.DQ_SET
    ugid = req.nums.get("QUOTAUGIDLIMIT")
    if ugid == 0 and rec.get("ugidlimit"):
        ctx.log(
            -1,
            "WARNING: Unable to turn ugid quota off. New parameters will be applied "
            "during the next start",
        )
    elif ugid and rec.get("ugidlimit"):
        rec["ugidlimit"] = ugid
    for key, pair in req.disk.items():
        quota[key][1:3] = list(pair)
    return 0


def _veth(ctx: Ctx, req: Request, cfg: Config, rec: kernel.Record, running: bool) -> int:
    net = req.net
    if net.empty():
        return 0
    if not running:
        ctx.log(
            -1,
            f"Unable to {'remove' if net.delete or net.delall else 'create'} veth: "
            "container is not running",
        )
        return VzctlExit.VE_NOT_RUNNING
    old = netopts.parse_stored(cfg.str("NETIF") or "", ctx.veid)
    gone = [d.host_ifname for d in old if net.delall or d.ifname in net.delete]
    if gone:
        ctx.log(0, "Deleting veth devices: " + "".join(n + " " for n in gone))
    changed = [d for d in netopts.merged(old, net, ctx.veid) if d not in old]
    if changed:
        ctx.log(0, "Configure veth devices: " + "".join(d.host_ifname + " " for d in changed))
    return 0


STEPS: tuple[Step, ...] = (_ubc, _net, _netdev, _cpu, _devices, _io, _configure, _quota, _veth)


def apply_live(ctx: Ctx, req: Request, cfg: Config, fix_del: list[str]) -> int:
    """Run every step; live changes made before a failing step stay, as in the kernel."""
    record = ctx.record()
    running = kernel.is_running(record)
    rec: kernel.Record = record if running and record is not None else {"ubc": {}, "ip": []}
    req.ip_redo = fix_del
    rc = 0
    for step in STEPS:
        rc = step(ctx, req, cfg, rec, running)
        if rc:
            break
    if running:
        kernel.save(ctx.node, ctx.veid, rec)
    return rc
