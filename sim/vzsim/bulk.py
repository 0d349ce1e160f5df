"""Filling a simulated node with many containers at once, for tests and benchmarks.

`populate` writes exactly the files `vzctl create` (and `start`) would leave behind, without
running one process per container, so a 10,000-container node takes seconds to build.
"""

from __future__ import annotations

import os

from vzsim import conffile, kernel
from vzsim.layout import Node

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable


def _ip(ctid: int) -> str:
    return f"10.{(ctid >> 16) & 0xFF}.{(ctid >> 8) & 0xFF}.{ctid & 0xFF}"


def _conf_text(node: Node, sample: str, ctid: int, ostemplate: str) -> str:
    keys = {
        "IP_ADDRESS": _ip(ctid),
        "HOSTNAME": f"ct{ctid}.example.com",
        "VE_ROOT": node.setting("VE_ROOT", ""),
        "VE_PRIVATE": node.setting("VE_PRIVATE", ""),
        "VE_LAYOUT": "simfs",
        "OSTEMPLATE": ostemplate,
        "ORIGIN_SAMPLE": "vswap-256m",
        "LOCAL_UID": "0",
        "LOCAL_GID": "0",
    }
    return sample + "".join(conffile.quote(k, v) + "\n" for k, v in keys.items())


def populate(
    state_dir: str,
    ctids: Iterable[int],
    running: Iterable[int] = (),
    ostemplate: str = "debian-12.0-x86_64-minimal",
) -> None:
    """Create containers `ctids` (IP 10.x.y.z from the CTID); start those in `running`."""
    node = Node(state_dir)
    with open(node.sample_path("vswap-256m"), encoding="utf-8") as fh:
        sample = fh.read()
    for ctid in ctids:
        with open(node.conf_path(ctid), "w", encoding="utf-8") as fh:
            fh.write(_conf_text(node, sample, ctid, ostemplate))
        cfg = node.config(ctid)
        assert cfg is not None
        os.makedirs(os.path.join(cfg.path("VE_PRIVATE") or "", "etc"), exist_ok=True)
        os.makedirs(cfg.path("VE_ROOT") or "", exist_ok=True)
    for ctid in running:
        cfg = node.config(ctid)
        if cfg is None:
            continue
        record = kernel.running_record(cfg, None, cfg.path("VE_PRIVATE") or "")
        kernel.save(node, ctid, record)
        for ip in record["ip"]:
            kernel.claim_ip(node, ctid, ip)
