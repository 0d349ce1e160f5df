"""ploop on the simulated node: whether it has it, and the image of a ploop container.

A node has ploop when `sim init --ploop` says so (`Hardware.ploop`: vzctl built with ploop, the
kernel's ploop modules loaded, `/proc/vz/ploop_minor` present); without it `vzctl create
--layout ploop` fails with 99 as vzctl's is_ploop_supported() makes it (src/lib/image.c,
create.c). With it, the private area holds `root.hdd/DiskDescriptor.xml` and the image
`root.hdd/root.hdd` (the files are unpacked next to it, where the simulated guest reads them).
Sizes are checked as libploop checks them: an image is at most PLOOP_MAX_FS_SIZE (16 TiB, the
v2 format with large_disk_support), and vzctl_create_image() refuses a DISKINODES whose
16 KiB per inode exceed it.
"""

from __future__ import annotations

import os

from reconciler.vzexit import VzctlExit
from vzsim import hardware
from vzsim.ctx import Ctx

MAX_KB = 16 << 30  # PLOOP_MAX_FS_SIZE (16 TiB) in KiB
KB_PER_INODE = 16  # vzctl_create_image(): ext4's inode_ratio of 16384 bytes
_DESCRIPTOR = """<?xml version="1.0"?>
<Parallels_disk_image>
  <Disk_Parameters>
    <Disk_size>{sectors}</Disk_size>
  </Disk_Parameters>
</Parallels_disk_image>
"""


def is_ploop(layout: str | None) -> bool:
    return (layout or "").startswith("ploop")


def create_layout(value: str | None) -> str:
    """The layout vzctl create makes of VE_LAYOUT (vz.conf, sample, --layout): simfs, else ploop
    (parse_ve_layout ignores an invalid value, and create.c's default is ploop in a vzctl built
    with ploop, as this one is: it says "No ploop support in the kernel", not "not compiled in")."""
    return "simfs" if value == "simfs" else "ploop"


def supported(ctx: Ctx) -> bool:
    """is_ploop_supported(): /proc/vz/ploop_minor (what `bin/ls` lists there too); prints why
    not, as vzctl does."""
    if "ploop_minor" in hardware.proc_vz(hardware.load(ctx.node.root)):
        return True
    ctx.log(-1, "No ploop support in the kernel, or kernel is way too old.")
    ctx.log(-1, "Make sure you have OpenVZ kernel 042stab058.7 or later running,")
    ctx.log(-1, "and kernel ploop modules loaded.")
    return False


def _too_big(ctx: Ctx, kb: int) -> bool:
    if kb <= MAX_KB:
        return False
    ctx.log(
        -1,
        f"An incorrect block device size is specified: {2 * kb} sectors."
        f" The maximum allowed size is {2 * MAX_KB} sectors",
    )
    return True


def _write(private: str, kb: int) -> None:
    where = os.path.join(private, "root.hdd")
    os.makedirs(where, mode=0o700, exist_ok=True)
    with open(os.path.join(where, "DiskDescriptor.xml"), "w", encoding="utf-8") as fh:
        fh.write(_DESCRIPTOR.format(sectors=2 * kb))
    open(os.path.join(where, "root.hdd"), "a", encoding="utf-8").close()


def create_image(ctx: Ctx, private: str, kb: int, inodes: int | None) -> int:
    """vzctl_create_image(): the image of `kb` KiB (the hard DISKSPACE) in `private`."""
    ctx.log(0, f"Creating image: {private}/root.hdd/root.hdd size={kb}K")
    if inodes is not None and inodes * KB_PER_INODE > MAX_KB:
        ctx.log(-1, f"Error: diskinodes value specified ({inodes}) is too high.")
        ctx.log(-1, f"Maximum allowed diskinodes value is {MAX_KB // KB_PER_INODE}.")
        return VzctlExit.INVALID_PARAMETER_VALUE
    if _too_big(ctx, max(kb, (inodes or 0) * KB_PER_INODE)):
        ctx.log(-1, "Failed to create image: Invalid argument [1]")
        return VzctlExit.CREATE_IMAGE
    _write(private, kb)
    return 0


def resize_image(ctx: Ctx, private: str, kb: int) -> int:
    """vzctl_resize_image(): the image grows or shrinks to `kb` KiB."""
    if _too_big(ctx, kb):
        ctx.log(-1, "Failed to resize image: Invalid argument [1]")
        return VzctlExit.RESIZE_IMAGE
    _write(private, kb)
    return 0
