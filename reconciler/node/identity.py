"""A container's identity on its node (shell): the (st_dev, st_ino) of its private area
(`VE_PRIVATE` of CTID.conf) and, where the file system keeps one, the inode's generation number
(see `reconciler.ownership` for why). Read here for the local node; over ssh by
`reconciler.node.ssh` with `stat` and `lsattr -v`, which report the same three numbers.
"""

from __future__ import annotations

import fcntl
import os
import struct
from pathlib import Path

from reconciler.node.vzconf import first_value

Identity = dict[str, int]
_LONG = struct.calcsize("l")
FS_IOC_GETVERSION = 0x80000000 | (_LONG << 16) | (ord("v") << 8) | 1  # _IOR('v', 1, long)


def private_path(conf_text: str, ctid: int) -> str | None:
    """VE_PRIVATE of a CTID.conf, with `$VEID` expanded; None when it sets none."""
    private = first_value(conf_text, "VE_PRIVATE")
    if not private:
        return None
    return private.replace("${VEID}", str(ctid)).replace("$VEID", str(ctid))


def local_identity(conf_dir: Path, ctid: int) -> Identity | None:
    """The identity of container `ctid` on this machine, None when it has no private area."""
    try:
        with open(os.path.join(conf_dir, f"{ctid}.conf"), encoding="utf-8", errors="replace") as f:
            path = private_path(f.read(), ctid)
    except OSError:
        return None
    return None if path is None else identity_at(path)


def identity_at(path: str) -> Identity | None:
    """The identity of the private area at `path`, None when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        found = os.fstat(fd)
        mark = {"dev": found.st_dev, "ino": found.st_ino}
        generation = _generation(fd)
    finally:
        os.close(fd)
    return mark if generation is None else {**mark, "gen": generation}


def _generation(fd: int) -> int | None:
    """The inode's generation number, None where the file system keeps none (tmpfs)."""
    try:
        answer = fcntl.ioctl(fd, FS_IOC_GETVERSION, bytes(_LONG))
    except OSError:
        return None
    return int(struct.unpack("l", answer)[0])
