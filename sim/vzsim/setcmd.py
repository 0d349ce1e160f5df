"""`vzctl set` on the simulated node (vzctl-actions.c set()/vps_set(), res.c vps_setup_res()).

Without `--save` a running container gets live changes only (and the "Settings were not
saved" warning); a stopped one fails with 31. With `--save` a stopped container only gets its
config rewritten; a running one is changed live and saved. Restart-only parameters are saved
but not applied (warning), unless `--setmode restart` restarts the container or `ignore`
refuses (32). A missing CTID.conf with `--save` becomes a stub config, as on a real node.
"""

from __future__ import annotations

import os

from reconciler.vzexit import VzctlExit
from vzsim import codes, conffile, ctconf, kernel, lifecycle, netopts, ploop, store
from vzsim.ctx import Ctx
from vzsim.livecfg import apply_live
from vzsim.setparams import Request
from vzsim.values import find_ip


def set_name(ctx: Ctx, new: str, old: str | None) -> int:
    """set_name(): the names/ symlink; 131 when another container holds the name."""
    holder = ctx.node.veid_by_name(new)
    if holder >= 0 and holder != ctx.veid:
        ctx.log(-1, f"Conflict: name {new} already used by container {holder}")
        return VzctlExit.SET_NAME_ERROR
    if old == new and holder == ctx.veid:
        return 0
    if new:
        link = ctx.node.name_link(new)
        os.makedirs(ctx.node.names_dir, exist_ok=True)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(ctx.conf_path(), link)
    if old and old != new and ctx.node.veid_by_name(old) == ctx.veid:
        os.unlink(ctx.node.name_link(old))
    ctx.log(0, f"Name {new} assigned")
    return 0


def _vswap(pair: tuple[int, int] | None) -> bool:
    return pair is not None and pair[1] not in (codes.LONG_MAX, codes.INT_MAX)


def _check_opts(ctx: Ctx, req: Request, cfg: ctconf.Config, nargs: int) -> int:
    """check_set_opt()."""
    if "reset_ub" in req.flags and nargs > 1:
        ctx.log(-1, "Error: option --reset_ub is exclusive")
        return VzctlExit.INVALID_PARAMETER_SYNTAX
    swap = "SWAPPAGES" in req.ubc or cfg.has("SWAPPAGES")
    if (_vswap(req.ubc.get("PHYSPAGES")) or cfg.is_vswap()) and not swap:
        ctx.log(-1, "Error: required UB parameter (swap) not set")
        return VzctlExit.NOTENOUGHUBCPARAMS
    if "NODEMASK" in req.strs and "CPUMASK" not in req.strs:
        ctx.log(-1, "Error: option --nodemask requires --cpumask")
        return VzctlExit.INVALID_PARAMETER_SYNTAX
    if req.strs.get("CPUMASK") == "auto" and "NODEMASK" not in req.strs:
        ctx.log(-1, "Error: --cpumask auto requires --nodemask")
        return VzctlExit.INVALID_PARAMETER_SYNTAX
    return 0 if "save" in req.flags else _needs_save(ctx, req, cfg)


def _needs_save(ctx: Ctx, req: Request, cfg: ctconf.Config) -> int:
    checks = (
        (
            "NAME" in req.strs,
            "Error: unable to use --name option without --save",
            VzctlExit.SET_NAME_ERROR,
        ),
        (
            "OSTEMPLATE" in req.strs,
            "Error: unable to use --ostemplate option without --save",
            VzctlExit.INVALID_PARAMETER_SYNTAX,
        ),
        (
            "STOP_TIMEOUT" in req.nums,
            "Error: unable to use --stop-timeout option without --save",
            VzctlExit.INVALID_PARAMETER_SYNTAX,
        ),
        (
            "force" in req.flags,
            "Error: --force is useless without --save",
            VzctlExit.INVALID_PARAMETER_SYNTAX,
        ),
        (
            "DISKSPACE" in req.disk and ploop.is_ploop(cfg.str("VE_LAYOUT")),
            "Error: can't use --diskspace without --save for a ploop-based container",
            VzctlExit.INVALID_PARAMETER_SYNTAX,
        ),
        (
            req.setmode == "restart",
            "Error: --setmode restart doesn't make sense without --save flag",
            VzctlExit.INVALID_PARAMETER_SYNTAX,
        ),
    )
    for hit, message, code in checks:
        if hit:
            ctx.log(-1, message)
            return code
    return 0


def _restart_only(ctx: Ctx, req: Request, cfg: ctconf.Config, loud: bool) -> int:
    """check_set_mode(): how many parameters cannot change on a running container."""
    on, off = store.cap_masks(cfg)
    ugid_new, ugid_old = req.nums.get("QUOTAUGIDLIMIT"), cfg.ulong("QUOTAUGIDLIMIT") or 0
    checks = (
        (
            (req.cap_on and req.cap_on != on) or (req.cap_off and req.cap_off != off),
            "Unable to set capability on a running container",
        ),
        (
            "NETFILTER" in req.strs and req.strs["NETFILTER"] != cfg.str("NETFILTER"),
            "Unable to set iptables/netfilter on a running container",
        ),
        (
            req.feat_known and req.feat_mask != store.feature_masks(cfg)[0],
            "Unable to set features on a running container",
        ),
        (
            ugid_new is not None and ugid_new != 0 and ugid_old == 0,
            "Unable to turn on second-level disk quota on a running container",
        ),
        (
            ugid_new == 0 and ugid_old != 0,
            "Unable to turn off second-level disk quota on a running container",
        ),
        (
            "DISK_QUOTA" in req.strs and req.strs["DISK_QUOTA"] != cfg.str("DISK_QUOTA"),
            "Unable to switch DISK_QUOTA on or off on a running container",
        ),
        (
            "MOUNT_OPTS" in req.strs and req.strs["MOUNT_OPTS"] != cfg.str("MOUNT_OPTS"),
            "Unable to change mount options on a running container",
        ),
    )
    found = 0
    for hit, message in checks:
        if hit:
            found += 1
            if loud:
                ctx.log(-1, message)
    return found


def _saved_config(ctx: Ctx, req: Request) -> ctconf.Config:
    """The effective config as it will be once this request is saved."""
    text = conffile.merge(conffile.read_text(ctx.conf_path()), _lines(ctx, req))
    values = ctconf.parse_config(text, ctx.conf_path(), None)
    return ctconf.effective(ctx.veid, ctx.node.globals, values)


def _lines(ctx: Ctx, req: Request) -> list[str]:
    return store.lines(req, ctx.ct_cfg(), ctx.veid)


def _running_checks(ctx: Ctx, req: Request, cfg: ctconf.Config) -> int | None:
    """What set() does for a running container before applying; None to go on."""
    for key, what in (("VE_PRIVATE", "VE_PRIVATE"), ("VE_ROOT", "VE_ROOT")):
        if key in req.strs:
            ctx.log(-1, f"Unable to change {what} on a running container")
            return VzctlExit.VE_RUNNING
    found = _restart_only(ctx, req, cfg, loud=req.setmode != "restart")
    if not found:
        return None
    if req.setmode == "restart":
        return lifecycle.restart(ctx, set(), _saved_config(ctx, req))
    if req.setmode == "ignore":
        return VzctlExit.VE_RUNNING
    ctx.log(
        -1,
        "WARNING: Some of the parameters could not be applied to a running container."
        "\n\tPlease consider using --setmode option",
    )
    return None


def _ploop_disk(ctx: Ctx, req: Request, cfg: ctconf.Config) -> int:
    """set(): a ploop image is resized to the hard --diskspace; --diskinodes only warns (the
    image's inodes are fixed when it is made), and is saved all the same."""
    if not ploop.is_ploop(cfg.str("VE_LAYOUT")):
        return 0
    if "DISKSPACE" in req.disk:
        if not ploop.supported(ctx):
            return VzctlExit.PLOOP_UNSUP
        rc = ploop.resize_image(ctx, cfg.path("VE_PRIVATE") or "", req.disk["DISKSPACE"][1])
        if rc:
            return rc
    if "DISKINODES" in req.disk:
        ctx.log(0, "Warning: --diskinodes is ignored for ploop-based container")
    return 0


def _set(ctx: Ctx, req: Request, nargs: int, quiet_save: list[bool]) -> int:
    """set(): everything before saving."""
    cfg = ctx.cfg()
    fix_del = [
        f for ip in req.ip_add if (f := find_ip(cfg.ips(), ip)) and not find_ip(req.ip_del, ip)
    ]
    if not req.net.empty():
        old_devs = netopts.parse_stored(ctx.ct_cfg().str("NETIF") or "", ctx.veid)
        if not netopts.check(req.net, old_devs, ctx.log):
            quiet_save[0] = True
            return VzctlExit.INVALID_PARAMETER_SYNTAX
    rc = _check_opts(ctx, req, cfg, nargs)
    if rc:
        return rc
    running = ctx.running()
    if "reset_ub" in req.flags:
        quiet_save[0] = True
        return _reset_ub(ctx, cfg, running)
    name = _wanted_name(ctx, req)
    if name is not None:
        rc = set_name(ctx, name, (ctx.ct_cfg().str("NAME")))
        if rc:
            quiet_save[0] = True
            return rc
    rc = _ploop_disk(ctx, req, cfg)
    if rc:
        return rc
    if running:
        rc_running = _running_checks(ctx, req, cfg)
        if rc_running is not None:
            return rc_running
    elif "save" in req.flags:
        return 0
    return apply_live(ctx, req, cfg, fix_del)


def _wanted_name(ctx: Ctx, req: Request) -> str | None:
    """--name, or with `--applyconfig_map name` the NAME the config already has."""
    if "NAME" in req.strs:
        return req.strs["NAME"]
    if "applyconfig_map_name" in req.flags:
        return ctx.ct_cfg().str("NAME")
    return None


def _reset_ub(ctx: Ctx, cfg: ctconf.Config, running: bool) -> int:
    if not running:
        ctx.log(-1, "Container is not running")
        return VzctlExit.VE_NOT_RUNNING
    record = ctx.record() or {}
    record["ubc"] = kernel.live_ubc(cfg)
    kernel.save(ctx.node, ctx.veid, record)
    ctx.log(0, "UB limits were set successfully")
    return 0


def _set_ct0(ctx: Ctx, req: Request, quiet_save: list[bool]) -> int:
    """set_ve0(): limits of the host itself; only saving has a visible effect."""
    ubc = req.ubc
    if "reset_ub" in req.flags:
        quiet_save[0] = True
        ubc = {k: v for k in ctconf.UBC_ORDER if (v := ctx.cfg().ubc(k)) is not None}
    if ubc:
        ctx.log(0, "UB limits were set successfully")
    if "CPUUNITS" in req.nums and "reset_ub" not in req.flags:
        ctx.log(0, f"Setting CPU units: {req.nums['CPUUNITS']}")
    return 0


def vps_set(ctx: Ctx, req: Request, nargs: int) -> int:
    """`vzctl set CTID ...`: apply, then save or warn about not saving."""
    quiet_save = [False]
    run = _set_ct0 if ctx.veid == 0 else lambda c, r, q: _set(c, r, nargs, q)
    rc = run(ctx, req, quiet_save)
    if "save" in req.flags:
        if rc:
            ctx.log(-1, "Error: failed to apply some parameters, not saving configuration file!")
            return rc
        return _save(ctx, req)
    if not quiet_save[0] and rc == 0:
        tail = "and will be lost after CT restart " if ctx.running() or ctx.veid == 0 else ""
        ctx.log(0, f"WARNING: Settings were not saved to config {tail}(use --save flag)")
    return rc


def _save(ctx: Ctx, req: Request) -> int:
    path = ctx.conf_path()
    if not os.path.exists(path):
        ctx.log(-1, f"WARNING: {path} not found: No such file or directory")
    try:
        saved = conffile.save(path, _lines(ctx, req))
    except OSError as exc:
        ctx.log(-1, f"Unable to create configuration file {path}.tmp: {exc.strerror}")
        return VzctlExit.CONFIG_SAVE_ERROR
    ctx.log(
        0,
        f"CT configuration saved to {path}"
        if saved
        else "No changes in CT configuration, not saving",
    )
    return 0
