"""`vzctl create` on the simulated node (src/lib/create.c vps_create()).

Copies the sample config (`--config` or vz.conf CONFIGFILE) unless CTID.conf already exists,
checks the private area, assigns the name, finds the OS template tarball in
`TEMPLATE/cache` (a missing one fails with 91 after the vztmpl-dl message), unpacks it into
the private area and saves the config keys vzctl stores, in its order.
"""

from __future__ import annotations

import contextlib
import os
import shutil

from reconciler.vzexit import VzctlExit
from vzsim import conffile, ctconf, ploop, store
from vzsim.ctx import Ctx
from vzsim.setcmd import set_name
from vzsim.setparams import Request

_EXTENSIONS = ("", ".gz", ".bz2", ".xz")


def _sample(ctx: Ctx, req: Request) -> tuple[int, str | None]:
    """Which sample to copy (None: keep the existing config), or an error code."""
    exists = ctx.ct is not None
    name = req.strs.get("CONFIG")
    if name is not None:
        if not os.path.exists(ctx.node.sample_path(name)):
            ctx.log(
                -1,
                f"Sample config {ctx.node.sample_path(name)} not found: No such file or directory",
            )
            return VzctlExit.CP_CONFIG, None
        if exists:
            ctx.log(
                -1,
                f"Error: container config file {ctx.conf_path()} already exists, "
                "can not use --config option",
            )
            return VzctlExit.CP_CONFIG, None
        return 0, name
    name = ctx.node.setting("CONFIGFILE", "")
    if not name:
        return 0, None
    if not os.path.exists(ctx.node.sample_path(name)):
        ctx.log(
            -1, f"Sample config {ctx.node.sample_path(name)} not found: No such file or directory"
        )
        ctx.log(-1, "Fix the value of CONFIGFILE in /etc/vz/vz.conf")
        return VzctlExit.CP_CONFIG, None
    if exists:
        ctx.log(0, "Warning: CT config file already exists, not applying a default config sample.")
        ctx.log(
            0, "It might lead to incomplete CT configuration, you can use --applyconfig to fix."
        )
        return 0, None
    return 0, name


def _tarball(ctx: Ctx, template_dir: str, ostemplate: str) -> str | None:
    for ext in _EXTENSIONS:
        path = os.path.join(template_dir, "cache", f"{ostemplate}.tar{ext}")
        if os.path.isfile(path):
            return path
    ctx.log(-1, f"vztmpl-dl ERROR: template {ostemplate} not found!")
    ctx.log(-1, f"Cached OS template {template_dir}/cache/{ostemplate}.tar[.gz|.bz2|.xz] not found")
    return None


def _unpack(tarball: str, private: str) -> None:
    import tarfile

    tmp = private + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    with tarfile.open(tarball) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(tmp, filter="data")
        else:  # Python < 3.11.4: keep only plain members inside the private area
            safe = [m for m in tar.getmembers() if (m.isfile() or m.isdir())
                    and not m.name.startswith("/") and ".." not in m.name.split("/")]  # fmt: skip
            tar.extractall(tmp, members=safe)  # noqa: S202 - members filtered above
    with contextlib.suppress(OSError):
        os.rmdir(private)
    os.rename(tmp, private)


def _prepare(ctx: Ctx, req: Request, sample: str | None) -> ctconf.Config:
    """The effective config create works with: vz.conf + sample or CTID.conf + command line."""
    base = dict(ctx.ct or {})
    if sample is not None:
        shutil.copyfile(ctx.node.sample_path(sample), ctx.conf_path())
        base = ctconf.read_config(ctx.conf_path(), ctx.warn) or {}
        if "ORIGIN_SAMPLE" not in base:
            req.strs.setdefault("ORIGIN_SAMPLE", sample)
    cfg = ctconf.effective(ctx.veid, ctx.node.globals, base)
    for key in ("VE_ROOT", "VE_PRIVATE", "OSTEMPLATE", "VE_LAYOUT"):
        if key in req.strs:
            cfg.values[key] = req.strs[key]
    cfg.values["VE_LAYOUT"] = ploop.create_layout(cfg.str("VE_LAYOUT"))
    if req.ip_add:
        cfg.values["IP_ADDRESS"] = list(req.ip_add)
    return cfg


def _checks(ctx: Ctx, req: Request, cfg: ctconf.Config) -> int:
    for key, code in (("TEMPLATE", 24), ("VE_PRIVATE", 23), ("VE_ROOT", 22)):
        if cfg.str(key) is None:
            ctx.log(-1, f"{'TEMPLATE' if key == 'TEMPLATE' else key} is not set")
            return code
    private = cfg.path("VE_PRIVATE") or ""
    if os.path.isdir(private) and os.listdir(private):
        ctx.log(-1, f"Private area already exists in {private}")
        return VzctlExit.FS_PRVT_AREA_EXIST
    if ploop.is_ploop(cfg.str("VE_LAYOUT")) and not ploop.supported(ctx):
        ctx.log(-1, "Alternatively, if you can't or don't want to use ploop, please")
        ctx.log(-1, "add --layout simfs option, or set VE_LAYOUT=simfs in /etc/vz/vz.conf")
        return VzctlExit.PLOOP_UNSUP
    if "NAME" in req.strs:
        return set_name(ctx, req.strs["NAME"], req.strs["NAME"])
    return 0


def _build(ctx: Ctx, req: Request, cfg: ctconf.Config) -> int:
    ostemplate = cfg.str("OSTEMPLATE") or cfg.str("DEF_OSTEMPLATE")
    if not ostemplate:
        ctx.log(-1, "OS template is not specified")
        return VzctlExit.VE_OSTEMPLATE_NOTSET
    image = _image_size(ctx, req, cfg)
    if image == 0:
        return VzctlExit.DQ_LIMIT_NOTSET
    tarball = _tarball(ctx, cfg.str("TEMPLATE") or "", ostemplate)
    if tarball is None:
        return VzctlExit.OSTEMPLATE_NOT_FOUND
    ctx.log(0, f"Creating container private area ({ostemplate})")
    private, root = cfg.path("VE_PRIVATE") or "", cfg.path("VE_ROOT") or ""
    _unpack(tarball, private)
    if image is not None:
        inodes = req.disk.get("DISKINODES") or cfg.disk("DISKINODES")
        rc = ploop.create_image(ctx, private, image, inodes[1] if inodes else None)
        if rc:
            shutil.rmtree(private, ignore_errors=True)
            return rc
    os.makedirs(root, exist_ok=True)
    ctx.log(0, "Performing postcreate actions")
    for leftover in os.listdir(ctx.node.conf_dir):
        if leftover.startswith(f"{ctx.veid}.") and leftover.endswith(".destroyed"):
            os.unlink(os.path.join(ctx.node.conf_dir, leftover))
    req.strs.setdefault("VE_ROOT", cfg.str("VE_ROOT") or "")
    req.strs.setdefault("VE_PRIVATE", cfg.str("VE_PRIVATE") or "")
    req.strs["OSTEMPLATE"] = os.path.basename(ostemplate)
    req.strs["VE_LAYOUT"] = ploop.create_layout(cfg.str("VE_LAYOUT"))
    req.nums["LOCAL_UID"] = req.nums["LOCAL_GID"] = 0
    return 0


def _image_size(ctx: Ctx, req: Request, cfg: ctconf.Config) -> int | None:
    """fs_create(): a ploop container's image size (the hard DISKSPACE, KiB), 0 when none is
    set (an error), None for simfs."""
    if not ploop.is_ploop(cfg.str("VE_LAYOUT")):
        return None
    disk = req.disk.get("DISKSPACE") or cfg.disk("DISKSPACE")
    if disk is None or disk[1] <= 0:
        ctx.log(-1, "Error: diskspace not set (required for ploop)")
        return 0
    return disk[1]


def create(ctx: Ctx, req: Request) -> int:
    """vps_create(); prints `Creation of container private area failed` on any error."""
    rc, sample = _sample(ctx, req)
    if rc == 0:
        cfg = _prepare(ctx, req, sample)
        rc = _checks(ctx, req, cfg) or _build(ctx, req, cfg)
        if rc and sample is not None:
            with contextlib.suppress(OSError):
                os.unlink(ctx.conf_path())
    if rc:
        ctx.log(-1, "Creation of container private area failed")
        return rc
    new_lines = store.lines(req, cfg, ctx.veid)
    conffile.save(ctx.conf_path(), new_lines)
    ctx.log(0, f"CT configuration saved to {ctx.conf_path()}")
    ctx.log(0, "Container private area was created")
    return 0
