"""The node's vzdump archives (shell): where they go, which exist, taking one now.

Called by `vzgitops backup` and `vzgitops backups` (cli/commands.py). Archive names are
vzdump's (../shared/openvz/REFERENCE.md section 11):
`vzdump-openvz-CTID-YYYY_MM_DD-HH_MM_SS.tar[.gz]` (older `.tgz`); vzdump writes `BASENAME.dat`
and renames it when complete, so only a complete archive has such a name and a killed dump is
never listed. A dump is one `vzdump` call through the `Runner` seam, like every vzctl call.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import PurePath

from reconciler.errors import CommandTimeout, VzGitopsError, vzctl_detail
from reconciler.node.facts import vz_conf_setting
from reconciler.node.process import Runner

ARCHIVE = re.compile(
    r"^vzdump-openvz-(\d+)-(\d{4})_(\d\d)_(\d\d)-(\d\d)_(\d\d)_(\d\d)\.(tar|tar\.gz|tar\.lzo|tgz)$"
)
SUFFIX = re.compile(r"\.(tar|tar\.gz|tar\.lzo|tgz)$")
CREATING = re.compile(r"^INFO: creating archive '(.+)'$", re.MULTILINE)
MODES = ("stop", "suspend", "snapshot")
DEFAULT_DUMP_DIR = "/vz/dump"
DUMP_TIMEOUT = 6 * 3600.0


@dataclass(frozen=True)
class Archive:
    """One complete vzdump archive on the node."""

    ctid: int
    taken: str  # node-local time from the name, `YYYY-MM-DD HH:MM:SS`
    size: int
    path: str

    def as_dict(self) -> dict[str, object]:
        return {"ctid": self.ctid, "time": self.taken, "size": self.size, "file": self.path}


@dataclass(frozen=True)
class Dump:
    """What one `vzdump CTID` call did."""

    ctid: int
    code: int
    archive: str | None
    detail: str

    @property
    def ok(self) -> bool:
        return self.code == 0 and self.archive is not None


def node_dump_dir(run: Runner, conf_dir: PurePath, override: str | None) -> str:
    """--dump-dir, else DUMPDIR of the node's vz.conf (beside the config directory, as
    /etc/vz/vz.conf is beside /etc/vz/conf), else /vz/dump; read on the node (`cat`)."""
    if override:
        return override
    value = vz_conf_setting(run, conf_dir, "DUMPDIR")
    return value if value.startswith("/") else DEFAULT_DUMP_DIR


def parse_name(name: str) -> tuple[int, str] | None:
    """(ctid, `YYYY-MM-DD HH:MM:SS`) of an archive name; None for anything else (`.dat`, logs)."""
    found = ARCHIVE.match(name)
    if found is None:
        return None
    y, mo, d, h, mi, s = found.groups()[1:7]
    return int(found.group(1)), f"{y}-{mo}-{d} {h}:{mi}:{s}"


def list_archives(run: Runner, dump_dir: str, ctids: frozenset[int] | None = None) -> list[Archive]:
    """The complete archives in `dump_dir` (of `ctids`, when given), by CTID then time; read
    with `find` through the Runner, so it works wherever vzctl runs. A missing directory has
    none."""
    argv = ("find", dump_dir, "-maxdepth", "1", "-type", "f", "-name", "vzdump-openvz-*")
    done = run((*argv, "-printf", "%s %f\\n"))
    if done.code != 0:
        if "No such file or directory" in done.stderr:
            return []
        raise VzGitopsError(f"cannot list the dump directory {dump_dir}: {done.output}")
    found = []
    for line in done.stdout.splitlines():
        size, _, name = line.partition(" ")
        parsed = parse_name(name)
        if parsed is None or not size.isdigit() or (ctids is not None and parsed[0] not in ctids):
            continue
        path = f"{dump_dir.rstrip('/')}/{name}"
        found.append(Archive(parsed[0], parsed[1], int(size), path))
    return sorted(found, key=lambda a: (a.ctid, a.taken, a.path))


def taken_at(archive: Archive) -> float:
    """When an archive was taken (Unix time), from its name's node-local time (the node's
    clock and zone are this host's: vzgitops runs where vzctl does, or beside it)."""
    return time.mktime(time.strptime(archive.taken, "%Y-%m-%d %H:%M:%S"))


def remove(run: Runner, archive: str) -> bool:
    """`rm -f` an archive and its log through the Runner; whether it worked."""
    try:
        return run(("rm", "-f", "--", archive, log_of(archive))).code == 0
    except (CommandTimeout, VzGitopsError):
        return False


def log_of(archive: str) -> str:
    """The log vzdump writes beside an archive: `BASENAME.log`."""
    return SUFFIX.sub(".log", archive)


def dump_argv(
    ctid: int, mode: str, dump_dir: str | None, compress: str = "gzip"
) -> tuple[str, ...]:
    """`vzdump` arguments: no vzdump-side purge (vzgitops keeps its own retention);
    `compress` is vzdump's own word (0, gzip, lzo)."""
    if mode not in MODES:
        raise ValueError(f"unknown vzdump mode {mode!r}")
    if compress not in ("0", "gzip", "lzo"):
        raise ValueError(f"unknown vzdump compression {compress!r}")
    where = ("--dumpdir", dump_dir) if dump_dir else ()
    return ("vzdump", str(ctid), "--mode", mode, "--compress", compress, "--maxfiles", "0", *where)


def take(run: Runner, ctid: int, mode: str, dump_dir: str | None, compress: str = "gzip") -> Dump:
    """Run one vzdump; the archive it reports creating counts only when it exits 0."""
    done = run(dump_argv(ctid, mode, dump_dir, compress), timeout=DUMP_TIMEOUT)
    made = CREATING.search(done.stdout)
    archive = made.group(1) if made and done.code == 0 else None
    errors = [ln for ln in done.stdout.splitlines() if ln.startswith("ERROR:")]
    said = vzctl_detail("\n".join(errors), "") if errors else vzctl_detail(done.stdout, done.stderr)
    detail = "" if done.code == 0 else said
    return Dump(ctid, done.code, archive, detail)
