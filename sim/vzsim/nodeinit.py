"""Creating a simulated node: `vzgitops sim init DIR` (see `cli`).

Writes the state dir a real 4.x node would have under /etc/vz and /vz (vz.conf, sample
configs, template caches with small real `.tar.gz` OS templates), the machine's hardware
(`hardware.json`, reported by `bin/uname`, `nproc`, `free` and `df`), the `bin/vzctl`,
`bin/vzlist`, `bin/vzdump`, `bin/vzrestore` and `bin/vzmigrate` entry points pinned to this
interpreter and to where vzsim and vzgitops are installed, and an `env` file to source.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import sys
import tarfile

from vzsim import hardware

DEFAULT_TEMPLATES = (
    "debian-12.0-x86_64-minimal",
    "debian-11.0-x86_64-minimal",
    "ubuntu-22.04-x86_64",
    "centos-7-x86_64",
    "centos-6-x86",
)
SAMPLES = [
    "basic",
    "light",
    "vswap-256m",
    "vswap-512m",
    "vswap-1024m",
    "vswap-1g",
    "vswap-2g",
    "vswap-4g",
]
MANAGED: tuple[str, ...] = (
    "bin",
    "conf",
    "names",
    "private",
    "root",
    "lock",
    "run",
    "template",
    "dump",
    "etc",
)
MANAGED += ("vz.conf", "env", "faults.json", "faults.json.lock", "oplog.jsonl", "hardware.json")
# The simulated host's resolver, inherited by containers with NAMESERVER=inherit.
HOST_RESOLV = "nameserver 10.255.255.53\n"

VZ_CONF = """## Global parameters
VIRTUOZZO=yes
LOCKDIR="{d}/lock"
DUMPDIR="{d}/dump"
VE0CPUUNITS=1000
VE_STOP_MODE=suspend

## Logging parameters
LOGGING=yes
LOGFILE="{d}/vzctl.log"
LOG_LEVEL=0
VERBOSE=0

## Disk quota parameters
DISK_QUOTA=yes
VZFASTBOOT=no

## Comment out to fail CT start if ARP query detects CT IP being used
ERROR_ON_ARPFAIL="no"

## Template parameters
TEMPLATE="{d}/template"

## Defaults for containers
VE_ROOT="{d}/root/$VEID"
VE_PRIVATE="{d}/private/$VEID"
CONFIGFILE="vswap-256m"
DEF_OSTEMPLATE="centos-6-x86"
NAMESERVER=inherit # Copy from host system's /etc/resolv.conf
## Filesystem layout for new CTs: either simfs or ploop
VE_LAYOUT="simfs"

# User namespace configuration
LOCAL_UID=100000
LOCAL_GID=100000

## Load vzwdog module
VZWDOG="no"

## iptables kernel modules to be loaded by init.d/vz script
IPTABLES_MODULES="ipt_REJECT ipt_tos ipt_limit ipt_multiport iptable_filter iptable_mangle \
ipt_TCPMSS ipt_tcpmss ipt_ttl ipt_length ip6_tables ip6table_filter ip6table_mangle ip6t_REJECT"

## Enable IPv6
IPV6="yes"
"""

ENTRY = '''#!{python} -IS
"""Simulated OpenVZ `{tool}` of the node at {d} (written by `vzgitops sim init`)."""
import sys

sys.path[:0] = {paths!r}
from vzsim.{tool} import main

sys.exit(main(sys.argv, {d!r}))
'''

HOST_ENTRY = '''#!{python} -IS
"""Simulated `{tool}` of the node at {d}: answers from hardware.json (`vzgitops sim init`)."""
import sys

sys.path[:0] = {paths!r}
from vzsim.hardware import main

sys.exit(main({tool!r}, sys.argv, {d!r}))
'''
HOST_TOOLS = ("uname", "nproc", "free", "df", "ls")


TOOLS = ("vzctl", "vzlist", "vzdump", "vzrestore", "vzmigrate")


class InitError(Exception):
    """The node cannot be created as asked."""


def check_template_name(name: str) -> None:
    if not name or "/" in name or ".." in name or name.startswith("-") or "\0" in name:
        raise InitError(f"invalid template name {name!r}: no '/', '..' or leading '-'")


def _guest_files(name: str) -> dict[str, str]:
    distro, _, rest = name.partition("-")
    version = rest.split("-")[0] if rest else ""
    files = {
        "etc/os-release": f'NAME="{distro.capitalize()}"\nVERSION_ID="{version}"\nID={distro}\n',
        "etc/hostname": "localhost\n",
        "etc/hosts": "127.0.0.1 localhost.localdomain localhost\n::1 localhost.localdomain localhost\n",
        "etc/resolv.conf": "",
        "sbin/init": "#!/bin/sh\n# simulated init\nexec sleep 2147483647\n",
        "bin/sh": "",
    }
    if distro in ("centos", "fedora", "redhat", "rhel", "scientific"):
        files["etc/sysconfig/network"] = "NETWORKING=yes\n"
    else:
        files["etc/network/interfaces"] = "auto lo\niface lo inet loopback\n"
    return files


def build_template(path: str, name: str) -> None:
    """A small, byte-for-byte reproducible OS template tarball."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for directory in ("dev", "proc", "sys", "root", "tmp", "var", "var/log"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
        for member, text in sorted(_guest_files(name).items()):
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size, info.mtime = len(data), 0
            info.mode = 0o755 if member.startswith(("sbin/", "bin/")) else 0o644
            tar.addfile(info, io.BytesIO(data))
    import gzip

    with open(path, "wb") as fh:
        fh.write(gzip.compress(buf.getvalue(), mtime=0))


def _prepare_dir(root: str, force: bool) -> None:
    if os.path.exists(root) and not os.path.isdir(root):
        raise InitError(f"{root} exists and is not a directory")
    if os.path.isdir(root) and os.listdir(root):
        if not force:
            raise InitError(f"{root} is not empty (use --force to recreate the node)")
        for entry in MANAGED:
            path = os.path.join(root, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.unlink(path)


def _write(path: str, text: str, mode: int = 0o644) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, mode)


def _import_paths() -> list[str]:
    """Where `python -IS` (no site-packages, no .pth files: editable installs do not apply)
    finds vzsim and the reconciler modules it imports: the directories holding the two
    packages, wherever pip put them (`sim/` and the checkout, or one site-packages)."""
    packages = (os.path.dirname(os.path.abspath(__file__)), _package_dir("reconciler"))
    return list(dict.fromkeys(os.path.dirname(package) for package in packages))


def _package_dir(name: str) -> str:
    """The directory of package `name`, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise InitError(f"package {name} is not installed (pip install -e .)")
    return os.path.abspath(next(iter(spec.submodule_search_locations)))


def _entry_points(root: str) -> None:
    paths = _import_paths()
    for tool in TOOLS:
        script = ENTRY.format(python=sys.executable, tool=tool, d=root, paths=paths)
        _write(os.path.join(root, "bin", tool), script, 0o755)
    for tool in HOST_TOOLS:
        script = HOST_ENTRY.format(python=sys.executable, tool=tool, d=root, paths=paths)
        _write(os.path.join(root, "bin", tool), script, 0o755)


def _configs(root: str) -> None:
    data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
    for sample in SAMPLES:
        name = f"ve-{sample}.conf-sample"
        shutil.copyfile(os.path.join(data, name), os.path.join(root, "conf", name))
    shutil.copyfile(os.path.join(data, "0.conf"), os.path.join(root, "conf", "0.conf"))
    _write(os.path.join(root, "vz.conf"), VZ_CONF.format(d=root))
    _write(os.path.join(root, "etc", "resolv.conf"), HOST_RESOLV)


def init_node(
    directory: str,
    templates: list[str],
    force: bool = False,
    machine: hardware.Hardware | None = None,
) -> str:
    """Create the node (with `machine`'s hardware, or the default); returns its state dir."""
    for name in templates:
        check_template_name(name)
    root = os.path.abspath(directory)
    _prepare_dir(root, force)
    for sub in ("bin", "conf", "names", "private", "root", "lock", "run", "dump", "etc"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    os.makedirs(os.path.join(root, "template", "cache"), exist_ok=True)
    _configs(root)
    for name in dict.fromkeys([*DEFAULT_TEMPLATES, *templates]):
        build_template(os.path.join(root, "template", "cache", f"{name}.tar.gz"), name)
    _entry_points(root)
    hardware.save(root, machine or hardware.Hardware())
    env = f'export PATH="{root}/bin:$PATH"\nexport VZGITOPS_VZ_CONF_DIR="{root}/conf"\n'
    _write(os.path.join(root, "env"), env)
    return root
