"""The simulated `vzrestore ARCHIVE CTID [--force]` (vzdump 1.2): `main(argv, state_dir)`.

`DIR/bin/vzrestore` calls this in a fresh process. Per ../shared/openvz/REFERENCE.md
section 11: it takes the container's vzctl lock, refuses when `CTID.conf`, the private area
or the root directory exists unless `--force` (which wipes them first), unpacks the archive
into the private area, then writes `CTID.conf` from the archive's `etc/vzdump/vps.conf` with
VE_ROOT/VE_PRIVATE set to vz.conf's and `host_ifname=vethOLD.` renamed to `vethNEW.`, plus
the action scripts. `CTID.conf` is written last, so a restore killed midway leaves no
container, only a private area a re-run needs `--force` for (as on a node); a restore that
fails removes what it unpacked. The simulator also refuses `--force` over a running
container, and reads no archive from stdin (`-`). Messages go to stdout as `INFO:`/`ERROR:`
lines; exit status 0, 255 on any failure, or an injected fault's exit code
(`vzgitops sim fault --verb vzrestore`).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tarfile
import time

from reconciler.atomicwrite import replace_file
from vzsim import dumpfile, faults, kernel, lock, oplog
from vzsim.dumpopts import check_vmids
from vzsim.layout import Node
from vzsim.output import raw_bytes_ok

USAGE = "usage: vzrestore [OPTIONS] <ARCHIVE> <VMID>\n\n\t--force      overwrite existing conf file, private and root directory\n\n"
_VETH = re.compile(rb"veth\d+\.")
_PATH_KEY = re.compile(rb"^(VE_ROOT|VE_PRIVATE)=.*$", re.MULTILINE)


class RestoreError(Exception):
    """The restore failed; `code` is the exit status."""

    def __init__(self, message: str, code: int = 255) -> None:
        super().__init__(message)
        self.code = code


def _say(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def _parse(args: list[str]) -> tuple[str, int, bool] | int:
    force = "--force" in args or "-force" in args
    operands = [a for a in args if a not in ("--force", "-force")]
    unknown = [a for a in operands if a.startswith("-") and a != "-"]
    if unknown or len(operands) != 2:
        if unknown:
            sys.stderr.write(f"Unknown option: {unknown[0].lstrip('-')}\n")
        sys.stderr.write(USAGE)
        return 255
    vmids = check_vmids([operands[1]])
    if isinstance(vmids, str):
        sys.stderr.write(vmids + "\n")
        return 255
    return operands[0], vmids[0], force


class Target:
    """Where container CTID's files go on this node."""

    def __init__(self, node: Node, veid: int) -> None:
        self.node, self.veid = node, veid
        config = node.config(veid)
        if config is None:
            from vzsim import ctconf

            config = ctconf.effective(veid, node.globals, {})
        self.conf = node.conf_path(veid)
        self.private = config.path("VE_PRIVATE") or os.path.join(node.root, "private", str(veid))
        self.root = config.path("VE_ROOT") or os.path.join(node.root, "root", str(veid))


def _refuse_existing(target: Target, force: bool) -> None:
    veid = target.veid
    if force:
        _say("you choose to force overwriting VPS config file, private and root directories.")
        if kernel.is_running(kernel.load(target.node, veid)):
            raise RestoreError(f"unable to restore VM '{veid}' - VM is running")
        for path in (target.private, target.root):
            shutil.rmtree(path, ignore_errors=True)
        return
    if os.path.isfile(target.conf):
        raise RestoreError(f"unable to restore VM '{veid}' - VM already exists")
    for path in (target.private, target.root):
        if os.path.isdir(path):
            raise RestoreError(
                f"unable to restore VPS '{veid}' - directory '{path}' already exists"
            )


def _conf_text(node: Node, veid: int, vps_conf: bytes) -> bytes:
    def path_line(found: re.Match[bytes]) -> bytes:
        key = found.group(1).decode()
        value = node.setting(key, os.path.join(node.root, key[3:].lower(), "$VEID"))
        return f'{key}="{value}"'.encode()

    text = _PATH_KEY.sub(path_line, vps_conf)
    return _VETH.sub(f"veth{veid}.".encode(), text)


def _unpack(target: Target, archive: str, decision: faults.Decision) -> None:
    os.makedirs(target.private)
    os.makedirs(target.root, exist_ok=True)
    _say(f"INFO: extracting archive '{archive}'")
    with dumpfile.open_archive(archive) as tar:
        files = dumpfile.read_config(tar)
        if "conf" not in files:
            raise RestoreError(f"archive '{archive}' holds no {dumpfile.CONF_MEMBER}")
        dumpfile.extract(tar, target.private)
    _delay(decision)
    _say(f"INFO: extracting configuration to '{target.conf}'")
    for suffix in dumpfile.SCRIPT_EXT:
        if suffix in files:
            script = os.path.join(target.node.conf_dir, f"{target.veid}.{suffix}")
            replace_file(script, files[suffix], tmp=f"{script}.{os.getpid()}.tmp")
    text = _conf_text(target.node, target.veid, files["conf"])
    replace_file(target.conf, text, tmp=f"{target.conf}.{os.getpid()}.tmp")


def _undo(target: Target) -> None:
    shutil.rmtree(target.private, ignore_errors=True)
    shutil.rmtree(target.root, ignore_errors=True)
    kernel.remove_file(target.conf)


def _lock(node: Node, veid: int) -> None:
    for attempt in range(5):
        if lock.acquire(node.lock_dir, veid, lambda level, message: None) == lock.ACQUIRED:
            return
        if attempt < 4:
            time.sleep(0.1)
    raise RestoreError(f"can't lock VM {veid}")


def _fault(node: Node, veid: int) -> faults.Decision:
    decision = faults.decide(node.faults_path, "vzrestore", veid) or faults.Decision()
    if decision.fail is not None:
        message = f"simulated failure (exit {decision.fail}) injected by `vzgitops sim fault`"
        raise RestoreError(message, decision.fail)
    return decision


def _delay(decision: faults.Decision) -> None:
    if decision.latency:
        time.sleep(decision.latency)
    while decision.hang:
        time.sleep(3600)


def _restore(node: Node, archive: str, veid: int, force: bool) -> None:
    target = Target(node, veid)
    decision = _fault(node, veid)
    _refuse_existing(target, force)
    try:
        _unpack(target, archive, decision)
    except BaseException:
        _undo(target)
        raise


def _locked_restore(node: Node, archive: str, veid: int, force: bool) -> int:
    try:
        _lock(node, veid)
    except RestoreError as exc:
        sys.stderr.write(f"{exc}\n")
        return exc.code
    try:
        _say(f"INFO: restore openvz backup '{archive}' using ID {veid}")
        _restore(node, archive, veid, force)
        _say(f"INFO: restore openvz backup '{archive}' successful")
        return 0
    except (RestoreError, OSError, tarfile.TarError) as exc:
        _say(f"ERROR: restore openvz backup '{archive}' failed - {exc}")
        return exc.code if isinstance(exc, RestoreError) else 255
    finally:
        lock.release(node.lock_dir, veid)


def main(argv: list[str], state_dir: str) -> int:
    """Run one simulated vzrestore; returns its exit status."""
    raw_bytes_ok()
    parsed = _parse(list(argv[1:]))
    if isinstance(parsed, int):
        return parsed
    archive, veid, force = parsed
    if not os.path.isfile(archive):
        sys.stderr.write(f"ERROR: file '{archive}' does not exist\n")
        return 255
    node = Node(state_dir)
    rc = _locked_restore(node, archive, veid, force)
    oplog.append(node.oplog_path, "vzrestore", "vzrestore", veid, list(argv), rc)
    return rc
