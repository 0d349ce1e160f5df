"""The simulated node's hardware, and the host tools that report it: uname, nproc, free, df, ls.

`vzgitops sim init --arch i686 --cpus 2 --ram 4G --swap 1G --disk 100G --ploop` stores the
machine in `DIR/hardware.json`; `bin/uname`, `bin/nproc`, `bin/free` and `bin/df` (entry points
like `bin/vzctl`) answer from it in the output formats of coreutils 8 and procps-ng 3.3, the
tools a CentOS 6/7 OpenVZ node has. `bin/ls` lists the simulated kernel's `/proc/vz`
(`ploop_minor` is there only with `--ploop`, as the ploop modules make it) and hands any other
listing to coreutils' `ls`. vzgitops's pre-flight asks the node through them, so it runs the
same argv on a real node and on this one. `df` measures the used space of the private areas as
the simulated vzquota does, so creating containers fills the disk.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass

from vzsim.kernel import disk_usage
from vzsim.layout import Node

KERNEL = "2.6.32-042stab145.3"
HOSTNAME = "vzsim"
FILESYSTEM = "/dev/mapper/vg-vz"
ARCHES = ("x86_64", "i686", "i586", "i386", "aarch64", "ppc64le")
_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclass(frozen=True)
class Hardware:
    """What the simulated machine has; sizes in bytes. `ploop`: the kernel's ploop modules
    and a vzctl built with ploop (`vzsim.ploop`); without them a ploop create exits 99."""

    arch: str = "x86_64"
    cpus: int = 16
    ram: int = 64 << 30
    swap: int = 16 << 30
    disk: int = 1 << 40
    ploop: bool = False


def parse_size(text: str) -> int:
    """`4G`, `512M`, `1T` or a byte count -> bytes; ValueError otherwise."""
    text = text.strip().upper()
    factor = _UNITS.get(text[-1:], 1)
    digits = text[:-1] if text[-1:] in _UNITS else text
    if not digits.isdigit():
        raise ValueError(f"{text!r} is not a size such as 4G, 512M or 1T")
    return int(digits) * factor


def _path(root: str) -> str:
    return os.path.join(root, "hardware.json")


def save(root: str, hardware: Hardware) -> None:
    with open(_path(root), "w", encoding="utf-8") as fh:
        json.dump(asdict(hardware), fh, indent=2, sort_keys=True)
        fh.write("\n")


def load(root: str) -> Hardware:
    """The node's hardware; the defaults when `hardware.json` is missing (an older node)."""
    try:
        with open(_path(root), encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return Hardware()
    return Hardware(**{k: v for k, v in data.items() if k in Hardware.__dataclass_fields__})


def _usage(prog: str, message: str, help_name: str) -> int:
    sys.stderr.write(f"{prog}: {message}\nTry '{help_name} --help' for more information.\n")
    return 1


def uname(args: list[str], hw: Hardware) -> int:
    fields = {
        "-s": "Linux",
        "-n": HOSTNAME,
        "-r": KERNEL,
        "-v": "#1 SMP Wed Feb 1 00:00:00 MSK 2023",
        "-m": hw.arch,
        "-p": hw.arch,
        "-i": hw.arch,
        "-o": "GNU/Linux",
    }
    wanted = args or ["-s"]
    if wanted in (["-a"], ["--all"]):
        wanted = list(fields)
    for arg in wanted:
        if arg not in fields:
            return _usage("uname", f"invalid option -- '{arg.lstrip('-')}'", "uname")
    print(" ".join(fields[arg] for arg in fields if arg in wanted))
    return 0


def nproc(args: list[str], hw: Hardware) -> int:
    for arg in args:
        if arg != "--all":
            return _usage("nproc", f"unrecognized option '{arg}'", "nproc")
    print(hw.cpus)
    return 0


def free(args: list[str], hw: Hardware) -> int:
    """procps-ng 3.3 `free`: -b bytes, -k (the default) KiB, -m MiB."""
    scale = 1024
    for arg in args:
        if arg not in ("-b", "-k", "-m"):
            return _usage("free", f"invalid option -- '{arg.lstrip('-')}'", "free")
        scale = {"-b": 1, "-k": 1024, "-m": 1 << 20}[arg]
    used = min(hw.ram, 512 << 20)
    mem = (hw.ram, used, hw.ram - used, 0, 0, hw.ram - used)
    heads = ("used", "free", "shared", "buff/cache", "available")
    print(f"{'total':>20}" + "".join(f"{h:>12}" for h in heads))
    for label, values in (("Mem:", mem), ("Swap:", (hw.swap, 0, hw.swap))):
        first, *rest = (v // scale for v in values)
        print(f"{label:<5} {first:>14}" + "".join(f" {v:>11}" for v in rest))
    return 0


def df(args: list[str], hw: Hardware, node: Node) -> int:
    """coreutils `df -P -k PATH...`: one filesystem (the node's /vz) holds every path."""
    paths = [a for a in args if not a.startswith("-")]
    for arg in args:
        if arg.startswith("-") and arg not in ("-P", "-k", "-Pk", "-kP"):
            return _usage("df", f"invalid option -- '{arg.lstrip('-')}'", "df")
    for path in paths:
        if not os.path.exists(path):
            sys.stderr.write(f"df: '{path}': No such file or directory\n")
            return 1
    total = hw.disk // 1024
    used = min(total, disk_usage(os.path.join(node.root, "private"))[0])
    percent = -(-used * 100 // total) if total else 100
    print("Filesystem        1024-blocks      Used Available Capacity Mounted on")
    for _ in paths or [node.root]:
        print(f"{FILESYSTEM} {total:>12} {used:>9} {total - used:>9} {percent:>7}% /vz")
    return 0


PROC_VZ = "/proc/vz"
_PROC_VZ_FILES = ("veinfo", "vestat", "veip")  # what an OpenVZ kernel always has


def proc_vz(hw: Hardware) -> list[str]:
    """The simulated kernel's /proc/vz (ploop_minor: the ploop modules are loaded)."""
    return sorted([*_PROC_VZ_FILES, *(["ploop_minor"] if hw.ploop else [])])


def ls(args: list[str], hw: Hardware, state_dir: str) -> int:
    """coreutils `ls -1 /proc/vz` (or `/proc/vz/NAME`) from the simulated kernel; any other
    listing is the real `ls`'s (found on PATH after the node's own `bin/`)."""
    paths = [a for a in args if not a.startswith("-")]
    if len(paths) == 1 and set(args) - set(paths) <= {"-1"} and _in_proc_vz(paths[0]):
        return _list_proc_vz(paths[0].rstrip("/"), hw)
    own = os.path.join(state_dir, "bin")
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != own)
    real = shutil.which("ls", path=path or os.defpath)
    if real is None:
        sys.stderr.write("ls: not found on PATH\n")
        return 2
    return os.execv(real, [real, *args])  # noqa: S606 - the caller's argv, unchanged


def _in_proc_vz(path: str) -> bool:
    return path.rstrip("/") == PROC_VZ or path.startswith(PROC_VZ + "/")


def _list_proc_vz(path: str, hw: Hardware) -> int:
    entries = proc_vz(hw)
    if path == PROC_VZ:
        print("\n".join(entries))
        return 0
    if path[len(PROC_VZ) + 1 :] in entries:
        print(path)
        return 0
    sys.stderr.write(f"ls: cannot access '{path}': No such file or directory\n")
    return 2


def main(tool: str, argv: list[str], state_dir: str) -> int:
    """Entry point of `bin/uname`, `bin/nproc`, `bin/free`, `bin/df` and `bin/ls`."""
    hw = load(state_dir)
    args = argv[1:]
    if tool == "df":
        return df(args, hw, Node(state_dir))
    if tool == "ls":
        return ls(args, hw, state_dir)
    return {"uname": uname, "nproc": nproc, "free": free}[tool](args, hw)
