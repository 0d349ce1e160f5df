"""The state one simulated vzctl call works on: node, container id, config, logger.

Built once by `vzctl.main` after the command line is parsed and handed to the command
implementations in `lifecycle`, `create` and `setcmd`.
"""

from __future__ import annotations

import os

from vzsim import ctconf, kernel
from vzsim.layout import Node
from vzsim.output import Log


class Ctx:
    """One vzctl invocation on one container."""

    def __init__(
        self,
        node: Node,
        log: Log,
        veid: int,
        action: str,
        prog: str,
        ct: dict[str, ctconf.Value] | None,
    ) -> None:
        self.node, self.log, self.veid = node, log, veid
        self.action, self.prog, self.ct = action, prog, ct

    def cfg(self) -> ctconf.Config:
        """The effective config: vz.conf merged with CTID.conf."""
        return ctconf.effective(self.veid, self.node.globals, self.ct or {})

    def ct_cfg(self) -> ctconf.Config:
        """Only what CTID.conf itself says (what `set --save` merges with)."""
        return ctconf.Config(self.veid, dict(self.ct or {}))

    def reload(self) -> None:
        self.ct = ctconf.read_config(self.node.conf_path(self.veid), self.warn)

    def warn(self, message: str) -> None:
        self.log(-1, message)

    def record(self) -> kernel.Record | None:
        return kernel.load(self.node, self.veid)

    def running(self) -> bool:
        return kernel.is_running(self.record())

    def mounted(self, cfg: ctconf.Config) -> int:
        """vps_is_mounted(): 1 mounted, 0 not, -1 when VE_ROOT cannot be stat'ed (reported)."""
        root = cfg.path("VE_ROOT")
        if root is None:
            return 0
        if not os.path.exists(root):
            self.log(-1, f"stat({root}): No such file or directory")
            return -1
        return 1 if self.record() is not None else 0

    def conf_path(self) -> str:
        return self.node.conf_path(self.veid)


def remove_names(node: Node, veid: int) -> None:
    """remove_names(): drop every names/ symlink whose target is `<veid>.conf`."""
    try:
        names = os.listdir(node.names_dir)
    except OSError:
        return
    for name in names:
        link = node.name_link(name)
        try:
            if os.readlink(link).rsplit("/", 1)[-1].split(".", 1)[0] == str(veid):
                os.unlink(link)
        except OSError:
            continue
