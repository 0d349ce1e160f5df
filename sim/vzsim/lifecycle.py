"""`vzctl start/stop/restart/mount/umount/destroy/status/exec` on the simulated node.

Messages, their stdout/stderr split and exit codes follow vzctl 4.11.1 on an OpenVZ kernel
(env.c, fs.c, destroy.c, vzctl-actions.c): e.g. `stop` of a stopped container exits 0 with a
message on stderr, `start` of a running one exits 32, `destroy` of a running one prints its
refusal on stdout and exits 32. State changes go to the config files and `kernel` records.
"""

from __future__ import annotations

import os
import sys

from reconciler.vzexit import VzctlExit
from vzsim import guest, kernel
from vzsim.ctconf import Config
from vzsim.ctx import Ctx, remove_names
from vzsim.values import c_int32


def do_mount(ctx: Ctx, cfg: Config) -> int:
    """vps_mount(): mount the private area (the kernel record starts with its quota)."""
    root, private = cfg.path("VE_ROOT"), cfg.path("VE_PRIVATE")
    if root is None:
        ctx.log(-1, "VE_ROOT is not set")
        return 22
    if private is None:
        ctx.log(-1, "VE_PRIVATE is not set")
        return 23
    if ctx.mounted(cfg) == 1:
        ctx.log(-1, "Container is already mounted")
        return VzctlExit.FS_MOUNTED
    if not os.path.isdir(private):
        ctx.log(-1, f"Container private area {private} does not exist")
        return VzctlExit.FS_NOPRVT
    os.makedirs(root, exist_ok=True)
    kernel.save(ctx.node, ctx.veid, kernel.mounted_record(cfg, private))
    ctx.log(0, "Container is mounted")
    return 0


def do_umount(ctx: Ctx, cfg: Config) -> int:
    """vps_umount()."""
    if ctx.mounted(cfg) != 1:
        ctx.log(-1, "CT is not mounted")
        return VzctlExit.FS_NOT_MOUNTED
    if ctx.running():
        ctx.log(-1, "Container is running -- stop it first")
        return VzctlExit.VE_RUNNING
    kernel.remove(ctx.node, ctx.veid)
    ctx.log(0, "Container is unmounted")
    return 0


def _add_ips(ctx: Ctx, ips: list[str]) -> int:
    """vps_add_ip(): give addresses to the container, refusing ones another CT holds."""
    taken: list[str] = []
    for ip in ips:
        addr = ip.partition("/")[0]
        if kernel.claim_ip(ctx.node, ctx.veid, addr) is not None:
            ctx.log(-1, f"Unable to add IP {addr}: Address already in use")
            for done in taken:
                kernel.release_ip(ctx.node, ctx.veid, done)
            return VzctlExit.IP_INUSE
        taken.append(addr)
    return 0


def _setup_messages(ctx: Ctx, cfg: Config) -> None:
    """What vps_setup_res() prints while configuring a starting container."""
    limit = cfg.cpulimit()
    if limit is not None:
        ctx.log(0, f"Setting CPU limit: {c_int32(limit)}")
    ctx.log(0, f"Setting CPU units: {cfg.ulong('CPUUNITS') or 1000}")
    if cfg.ulong("CPUS"):
        ctx.log(0, f"Setting CPUs: {cfg.ulong('CPUS')}")
    if cfg.str("CPUMASK") and cfg.str("CPUMASK") != "auto":
        ctx.log(0, f"Setting CPU mask: {cfg.str('CPUMASK')}")
    if cfg.list("DEVNODES"):
        ctx.log(0, "Setting devices")
    for key, unit in (("IOLIMIT", "bytes/sec"), ("IOPSLIMIT", "iops")):
        value = cfg.io(key)
        if value >= 0:
            label = "iolimit" if key == "IOLIMIT" else "iopslimit"
            ctx.log(0, f"Setting {label}: {value} {unit if value else '(unlimited)'}")


def _configure_guest(ctx: Ctx, cfg: Config, private: str) -> None:
    """The distribution scripts run at start: network, hostname, DNS."""
    ips = cfg.ips()
    ipv6 = cfg.str("IPV6") == "yes"
    if guest.is_redhat(cfg.str("OSTEMPLATE")):
        guest.write_ifcfg(private, ips)
    else:
        guest.add_ips(private, ips, starting=True, ipv6=ipv6)
    first = next((ip.partition("/")[0] for ip in ips if ":" not in ip), "")
    guest.set_hostname(private, cfg.str("OSTEMPLATE"), cfg.str("HOSTNAME") or "", first)
    servers, search = cfg.list("NAMESERVER"), cfg.list("SEARCHDOMAIN")
    if servers or search:
        guest.set_dns(private, servers, search, ctx.node.host_resolv)


def _veth_message(ctx: Ctx, cfg: Config) -> None:
    from vzsim import netopts

    devs = netopts.parse_stored(cfg.str("NETIF") or "", ctx.veid)
    if devs:
        ctx.log(0, "Configure veth devices: " + "".join(d.host_ifname + " " for d in devs))


def start_env(ctx: Ctx, cfg: Config, skip_remount: bool = False, wait: bool = False) -> int:
    """vps_start(): mount, create the environment, configure it, hand over to init."""
    ctx.log(0, "Starting container...")
    private = cfg.path("VE_PRIVATE") or ""
    if ctx.mounted(cfg) == 1 and not skip_remount:
        do_umount(ctx, cfg)
    if ctx.record() is None and (rc := do_mount(ctx, cfg)) != 0:
        return rc
    ips = cfg.ips()
    if ips:
        ctx.log(0, "Adding IP address(es): " + " ".join(ips))
    if (rc := _add_ips(ctx, ips)) != 0:
        ctx.log(-1, 'Container start failed (try to check kernel messages, e.g. "dmesg | tail")')
        do_umount(ctx, cfg)
        return rc
    record = kernel.running_record(cfg, ctx.record(), private)
    kernel.save(ctx.node, ctx.veid, record)
    _setup_messages(ctx, cfg)
    _configure_guest(ctx, cfg, private)
    _veth_message(ctx, cfg)
    if wait:
        ctx.log(0, "Container start in progress, waiting ...")
        ctx.log(0, "Container started successfully")
    else:
        ctx.log(0, "Container start in progress...")
    return 0


def start(ctx: Ctx, opts: set[str], cfg: Config | None = None) -> int:
    """`vzctl start` (also the second half of restart)."""
    cfg = cfg or ctx.cfg()
    if cfg.str("DISABLED") == "yes" and "force" not in opts:
        ctx.log(-1, "Container start disabled")
        return VzctlExit.VE_START_DISABLED
    private = cfg.path("VE_PRIVATE")
    if private is None:
        ctx.log(-1, "VE_PRIVATE is not set")
        return 23
    if not os.path.isdir(private):
        ctx.log(-1, f"Container private area {private} does not exist")
        return VzctlExit.FS_NOPRVT
    if ctx.running():
        ctx.log(-1, "Container is already running")
        return VzctlExit.VE_RUNNING
    rc = start_env(ctx, cfg, "skip-remount" in opts, "wait" in opts)
    if rc == 0 and not (ctx.ct or {}).get("VE_LAYOUT"):
        _save_layout(ctx)
    return rc


def _save_layout(ctx: Ctx) -> None:
    from vzsim import conffile

    ctx.log(0, "Saving VE layout 'simfs' to the VE config file")
    if conffile.save(ctx.conf_path(), [conffile.quote("VE_LAYOUT", "simfs")]):
        ctx.log(0, f"CT configuration saved to {ctx.conf_path()}")


def stop_env(ctx: Ctx, cfg: Config, fast: bool, skip_umount: bool) -> int:
    """vps_stop() of a running container; the simulated init ignores halt, so it is killed."""
    if not fast:
        ctx.log(0, "Stopping container ...")
    ctx.log(0, "Killing container ...")
    record = ctx.record() or {}
    for ip in record.get("ip", []):
        kernel.release_ip(ctx.node, ctx.veid, ip)
    kernel.save(ctx.node, ctx.veid, {"status": "mounted", "quota": record.get("quota")})
    ctx.log(0, "Container was stopped")
    return 0 if skip_umount else do_umount(ctx, cfg)


def stop(ctx: Ctx, opts: set[str]) -> int:
    cfg = ctx.cfg()
    if cfg.path("VE_ROOT") is None:
        ctx.log(-1, "VE_ROOT is not set")
        return 22
    if not ctx.running():
        ctx.log(-1, "Unable to stop: container is not running")
        return 0
    return stop_env(ctx, cfg, "fast" in opts, "skip-umount" in opts)


def restart(ctx: Ctx, opts: set[str], cfg: Config | None = None) -> int:
    cfg = cfg or ctx.cfg()
    ctx.log(0, "Restarting container")
    if ctx.running():
        rc = stop_env(ctx, cfg, "fast" in opts, False)
        if rc != 0:
            return rc
    return start(ctx, opts, cfg)


def mount(ctx: Ctx) -> int:
    return do_mount(ctx, ctx.cfg())


def umount(ctx: Ctx) -> int:
    return do_umount(ctx, ctx.cfg())


def _remove_private(ctx: Ctx, private: str) -> None:
    if os.path.islink(private):
        ctx.log(
            -1,
            f"Warning: container private area {private} is a symlink to "
            f"{os.readlink(private)}.\nNot removing link destination, "
            "you have to do it manually.",
        )
        os.unlink(private)
    elif os.path.isdir(private):
        import shutil

        shutil.rmtree(private, ignore_errors=True)
    elif os.path.exists(private):
        ctx.log(-1, f"Warning: container private area {private} is not a directory")
        os.unlink(private)


def _move_config(ctx: Ctx) -> None:
    """move_config(BACKUP): CTID.conf and the action scripts become *.destroyed."""
    for suffix in ("conf", "mount", "umount", "premount", "postumount", "start", "stop"):
        path = os.path.join(ctx.node.conf_dir, f"{ctx.veid}.{suffix}")
        if os.path.exists(path):
            os.rename(path, path + ".destroyed")


def destroy(ctx: Ctx) -> int:
    """vps_destroy()."""
    cfg = ctx.cfg()
    private, root = cfg.path("VE_PRIVATE"), cfg.path("VE_ROOT")
    if private is None or root is None:
        ctx.log(-1, "VE_PRIVATE is not set" if private is None else "VE_ROOT is not set")
        return 23 if private is None else 22
    if ctx.running():
        ctx.log(0, "Container is currently running. Stop it first.")
        return VzctlExit.VE_RUNNING
    if ctx.mounted(cfg) == 1:
        ctx.log(0, "Container is currently mounted (umount first)")
        return VzctlExit.FS_MOUNTED
    ctx.log(0, f"Destroying container private area: {private}")
    _remove_private(ctx, private)
    _move_config(ctx)
    kernel.remove_file(ctx.node.dump_file(ctx.veid))
    try:
        os.rmdir(root)
    except OSError as exc:
        ctx.log(-1, f"Warning: failed to remove {root}: {exc.strerror}")
    ctx.log(0, "Container private area was destroyed")
    remove_names(ctx.node, ctx.veid)
    return 0


def status(ctx: Ctx) -> int:
    """show_status(): `CTID N exist|deleted mounted|unmounted running|down[ suspended]`."""
    cfg = ctx.cfg()
    private = cfg.path("VE_PRIVATE")
    exist = bool(private and os.path.exists(private) and os.path.exists(ctx.conf_path()))
    mounted = ctx.mounted(cfg) == 1
    run = ctx.running()
    suspended = exist and not run and os.path.exists(ctx.node.dump_file(ctx.veid))
    words = ["exist" if exist else "deleted", "mounted" if mounted else "unmounted"]
    words.append("running" if run else "down")
    sys.stdout.write(f"CTID {ctx.veid} {' '.join(words)}{' suspended' if suspended else ''}\n")
    return 0


def execute(ctx: Ctx, args: list[str]) -> int:
    """`vzctl exec/exec2/exec3`: run the joined command line in the guest's shell."""
    if not ctx.running():
        ctx.log(-1, "Container is not running")
        return (
            VzctlExit.COMMAND_EXECUTION_ERROR if ctx.action == "exec" else VzctlExit.VE_NOT_RUNNING
        )
    line = "".join((a if a else "''") + " " for a in args)
    ctx.log(1, f"Executing command: {line}")
    private = ctx.cfg().path("VE_PRIVATE") or "/nonexistent"
    from vzsim import guestsh

    sh = guestsh.Guest(private, sys.stdout, sys.stderr, sys.stdin)
    script = sys.stdin.read() if args[:1] == ["-"] else line
    rc = guestsh.run(script, sh)
    sys.stdout.flush()
    if ctx.action == "exec" and rc != 0:
        return VzctlExit.COMMAND_EXECUTION_ERROR
    return rc
