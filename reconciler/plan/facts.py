"""What pre-flight knows about the node itself (pure values; built by `node/facts.py`).

The machine (`uname -m`, `nproc`, `free -b`), the free space where containers' private areas
live (`df -P -k`), the OS template caches in `$TEMPLATE/cache` (see
../shared/openvz/REFERENCE.md 1.3 and 2.2), and ploop: whether the kernel has it
(`/proc/vz/ploop_minor`, what vzctl's is_ploop_supported() looks for) and the layout `vzctl
create` gives a container without `--layout` (VE_LAYOUT of vz.conf, else ploop: REFERENCE.md 3). When the node could not be asked, `NodeFacts` is
replaced by `FactsUnknown` with the reason, so every check that needs the node holds its change
instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# vzctl create tries these suffixes in this order (REFERENCE.md 1.3)
TEMPLATE_SUFFIXES = (".tar", ".tar.gz", ".tar.bz2", ".tar.xz")
_32BIT = frozenset({"x86", "i386", "i486", "i586", "i686"})
_64BIT = frozenset({"x86_64", "amd64"})


Layout = Literal["simfs", "ploop"]


def layout_of(ve_layout: str | None) -> Layout:
    """What vzctl 4.x makes of a VE_LAYOUT value: `simfs`, else ploop (config.c
    parse_ve_layout takes `ploop` and `ploop:MODE`, case-sensitive; unset or invalid leaves the
    default of create.c, ploop in a vzctl built with ploop, as vzctl.spec builds it)."""
    return "simfs" if ve_layout == "simfs" else "ploop"


@dataclass(frozen=True)
class NodeFacts:
    """The node's machine, as its own tools report it."""

    arch: str
    cpus: int
    ram: int  # bytes (MemTotal)
    swap: int  # bytes (SwapTotal)
    disk_free: int  # KiB available on the filesystem of VE_PRIVATE
    template_dir: str
    templates: frozenset[str]  # cache names without their suffix
    conf_dir: str = "/etc/vz/conf"
    samples: frozenset[str] | None = (
        None  # config samples (ve-NAME.conf-sample): NAME; None: unknown
    )
    ploop: bool | None = None  # the kernel has ploop (/proc/vz/ploop_minor); None: not asked
    ve_layout: str | None = None  # VE_LAYOUT of vz.conf as written; None: not set

    @property
    def default_layout(self) -> Layout:
        """The layout vzctl create stores for a container created without `--layout`."""
        return layout_of(self.ve_layout)


@dataclass(frozen=True)
class FactsUnknown:
    """The node could not be asked; `reason` says why (one sentence)."""

    reason: str


def template_names(listing: list[str]) -> frozenset[str]:
    """Names of the caches in a `$TEMPLATE/cache` listing (other files are ignored)."""
    names = set()
    for entry in listing:
        for suffix in TEMPLATE_SUFFIXES:
            if entry.endswith(suffix) and len(entry) > len(suffix):
                names.add(entry[: -len(suffix)])
    return frozenset(names)


def arch_family(token: str) -> str | None:
    """x86 (32-bit) or x86_64 for the names vzctl, uname and distributions use; else None."""
    lowered = token.lower()
    if lowered in _32BIT:
        return "x86"
    if lowered in _64BIT:
        return "x86_64"
    return None


def template_arch(template: str) -> str | None:
    """The arch family a `distro-version-arch[-flavour]` template names, if any."""
    families = {arch_family(part) for part in template.split("-")} - {None}
    return families.pop() if len(families) == 1 else None


def arch_refusal(template: str, node_arch: str) -> str | None:
    """Why `template` cannot run on a node whose `uname -m` is `node_arch`, or None.

    A 64-bit node runs 32-bit (x86) and 64-bit templates; a 32-bit node only x86 ones. A
    template naming no known arch, or a node of another architecture, is not judged.
    """
    wanted, node = template_arch(template), arch_family(node_arch)
    if wanted == "x86_64" and node == "x86":
        return f"OS template {template} is 64-bit (x86_64) but the node is 32-bit ({node_arch})"
    return None


SAMPLE_PREFIX, SAMPLE_SUFFIX = "ve-", ".conf-sample"


def sample_names(listing: list[str]) -> frozenset[str]:
    """Names of the config samples in a listing of the config directory (vzctl --config NAME
    reads CONF_DIR/ve-NAME.conf-sample)."""
    return frozenset(
        line[len(SAMPLE_PREFIX) : -len(SAMPLE_SUFFIX)]
        for line in (entry.strip() for entry in listing)
        if line.startswith(SAMPLE_PREFIX)
        and line.endswith(SAMPLE_SUFFIX)
        and len(line) > len(SAMPLE_PREFIX) + len(SAMPLE_SUFFIX)
    )
