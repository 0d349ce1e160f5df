"""Where a simulated node keeps things: the state dir layout and its global vz.conf.

The directories a real node has at compiled-in paths (/etc/vz/conf, /etc/vz/names) live under
the state dir; the ones vz.conf names (LOCKDIR, TEMPLATE, VE_ROOT, VE_PRIVATE, DUMPDIR) are
read from `DIR/vz.conf`, as vzctl does. The simulated kernel keeps its per-container records
in `DIR/run`.
"""

from __future__ import annotations

import os

from vzsim import ctconf


class Node:
    """One simulated hardware node rooted at a state dir."""

    def __init__(self, root: str, warn: ctconf.Warn | None = None) -> None:
        self.root = os.path.abspath(root)
        self.vz_conf = os.path.join(self.root, "vz.conf")
        self.conf_dir = os.path.join(self.root, "conf")
        self.names_dir = os.path.join(self.root, "names")
        self.run_dir = os.path.join(self.root, "run")
        self.faults_path = os.path.join(self.root, "faults.json")
        self.oplog_path = os.path.join(self.root, "oplog.jsonl")
        self.host_resolv = os.path.join(self.root, "etc", "resolv.conf")
        self.globals = ctconf.read_config(self.vz_conf, warn) or {}

    def setting(self, key: str, default: str) -> str:
        value = self.globals.get(key)
        return value if isinstance(value, str) else default

    @property
    def lock_dir(self) -> str:
        return self.setting("LOCKDIR", os.path.join(self.root, "lock"))

    @property
    def dump_dir(self) -> str:
        return self.setting("DUMPDIR", os.path.join(self.root, "dump"))

    @property
    def template_dir(self) -> str:
        return self.setting("TEMPLATE", os.path.join(self.root, "template"))

    def conf_path(self, veid: int) -> str:
        return os.path.join(self.conf_dir, f"{veid}.conf")

    def sample_path(self, name: str) -> str:
        return os.path.join(self.conf_dir, f"ve-{name}.conf-sample")

    def name_link(self, name: str) -> str:
        return os.path.join(self.names_dir, name)

    def run_path(self, veid: int) -> str:
        return os.path.join(self.run_dir, f"{veid}.state")

    def dump_file(self, veid: int) -> str:
        return os.path.join(self.dump_dir, f"Dump.{veid}")

    def config(self, veid: int, warn: ctconf.Warn | None = None) -> ctconf.Config | None:
        """The effective config of a container, or None when CTID.conf does not exist."""
        ct = ctconf.read_config(self.conf_path(veid), warn)
        return None if ct is None else ctconf.effective(veid, self.globals, ct)

    def veid_by_name(self, name: str) -> int:
        """vzctl get_veid_by_name(): follow `names/NAME` to `CTID.conf`; -1 when unknown."""
        link = self.name_link(name)
        if "/" in name or not os.path.exists(link):
            return -1
        try:
            target = os.readlink(link)
        except OSError:
            return -1
        base = target.rsplit("/", 1)[-1]
        digits = base.split(".", 1)[0]
        if not base.endswith(".conf") or not digits.isdigit():
            return -1
        return int(digits)
