"""Checks across the documents of one revision, and the merge of Defaults (pure).

`spec.load` validates each document on its own and hands the valid ones here. This module places
containers on nodes, merges Defaults into them (repository-wide, then the node's, then the
container's own fields win), and checks what no single document can: unique names, CTIDs per
node, IP and MAC addresses across the fleet, declared nodes, one Defaults per scope, node
capacity, and an OS template for every container that should exist.

Checks that conclude from something being absent (an undeclared node, a missing OS template)
only run when every Node and Defaults document of the revision was valid: otherwise the
missing piece may well be in a document that failed, and the message would mislead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from reconciler import units
from reconciler.errors import Problem
from reconciler.spec.desired import DEFAULT_NODE, DesiredContainer, DesiredState, Origin
from reconciler.spec.models import Container, ContainerSpec, Defaults, DefaultsSpec, Node, Settings
from reconciler.spec.yamlsafe import YamlDocument
from reconciler.spec.yamlvalues import Loc, dotted

_PER_CONTAINER = ("ip", "netif")


@dataclass(frozen=True)
class Entry:
    """One valid document and where it came from."""

    path: str
    doc: YamlDocument
    model: Container | Node | Defaults

    @property
    def name(self) -> str:
        return self.model.metadata.name

    def origin(self) -> str:
        return f"{self.path}:{self.doc.line}"

    def problem(self, loc: Loc, message: str, *, key: bool = False) -> Problem:
        line, col = self.doc.position(loc, key=key)
        return Problem(self.path, line, col, dotted(loc), message)


@dataclass(frozen=True)
class Placed:
    """A container document with its node and its spec after the Defaults merge."""

    entry: Entry
    node: str
    spec: ContainerSpec


def build(entries: list[Entry], complete: bool) -> tuple[DesiredState, list[Problem]]:
    """The desired state of valid `entries` and every cross-document problem among them.

    `complete` is False when a Node, Defaults or unreadable document failed validation.
    """
    nodes = [e for e in entries if isinstance(e.model, Node)]
    defaults = [e for e in entries if isinstance(e.model, Defaults)]
    containers = [e for e in entries if isinstance(e.model, Container)]
    declared = [n.name for n in nodes]
    problems = _duplicates((n, ("metadata", "name"), f"node name {n.name!r}") for n in nodes)
    problems += _check_defaults(defaults, declared, complete)
    placed, placing = _place(containers, declared, complete, _scopes(defaults))
    problems += placing + _fleet_checks(placed)
    if complete:
        problems += [p for c in placed if (p := _needs_template(c)) is not None]
    problems += [p for c in placed if (p := _disabled_running(c)) is not None]
    problems += [p for c in placed if (p := _ram_without_swap(c)) is not None]
    problems += [p for c in placed for p in _ploop_sizes(c)]
    problems += [p for n in nodes for p in _capacity(n, placed)]
    state = DesiredState(
        nodes=tuple(sorted((_node(n) for n in nodes), key=lambda n: n.metadata.name)),
        containers=tuple(sorted((_desired(c) for c in placed), key=_by_ctid)),
    )
    return state, problems


def _node(entry: Entry) -> Node:
    assert isinstance(entry.model, Node)
    return entry.model


def _desired(placed: Placed) -> DesiredContainer:
    origin = Origin(path=placed.entry.path, line=placed.entry.doc.line)
    return DesiredContainer(
        name=placed.entry.name, node=placed.node, spec=placed.spec, origin=origin
    )


def _by_ctid(container: DesiredContainer) -> tuple[int, str]:
    return container.ctid, container.node


def _defaults_spec(entry: Entry) -> DefaultsSpec:
    assert isinstance(entry.model, Defaults)
    return entry.model.spec


def _scopes(defaults: list[Entry]) -> dict[str | None, DefaultsSpec]:
    """Defaults by scope (None: the whole repository); the first of a duplicated scope wins."""
    scopes: dict[str | None, DefaultsSpec] = {}
    for entry in defaults:
        spec = _defaults_spec(entry)
        scopes.setdefault(spec.node, spec)
    return scopes


def _check_defaults(defaults: list[Entry], declared: list[str], complete: bool) -> list[Problem]:
    problems = _duplicates(
        (
            (e, ("spec", "node") if _defaults_spec(e).node else ("kind",), _scope(e))
            for e in defaults
        ),
        verb="are already set by",
    )
    for entry in defaults:
        spec = _defaults_spec(entry)
        problems += [
            entry.problem(("spec", name), "cannot be a default: each container needs its own")
            for name in _PER_CONTAINER
            if getattr(spec, name) is not None
        ]
        if complete and spec.node is not None and spec.node not in declared:
            problems.append(entry.problem(("spec", "node"), _unknown_node(spec.node, declared)))
    return problems


def _scope(entry: Entry) -> str:
    node = _defaults_spec(entry).node
    return f"Defaults for node {node!r}" if node else "Defaults for every node"


def _unknown_node(node: str, declared: list[str]) -> str:
    if not declared:
        return f"node {node!r} is not declared: the repository has no Node document"
    return f"node {node!r} is not declared; declared nodes: {', '.join(sorted(declared))}"


def _place(
    containers: list[Entry],
    declared: list[str],
    complete: bool,
    scopes: dict[str | None, DefaultsSpec],
) -> tuple[list[Placed], list[Problem]]:
    placed, problems = [], []
    for entry in containers:
        node, problem = _node_of(entry, declared, complete)
        if problem is not None:
            problems.append(problem)
        assert isinstance(entry.model, Container)
        layers = [s for s in (scopes.get(None), scopes.get(node)) if s is not None]
        placed.append(Placed(entry, node, merge(entry.model.spec, layers)))
    return placed, problems


def _node_of(entry: Entry, declared: list[str], complete: bool) -> tuple[str, Problem | None]:
    """The container's node; with no Node declared every container is on DEFAULT_NODE."""
    assert isinstance(entry.model, Container)
    named = entry.model.metadata.node
    if not declared:
        return DEFAULT_NODE, None
    if named is None and len(declared) == 1:
        return declared[0], None
    if not complete or named in declared:
        return named or DEFAULT_NODE, None
    loc = ("metadata", "node")
    if named is None:
        message = f"is required: the repository declares {len(declared)} nodes ({', '.join(sorted(declared))})"
        return DEFAULT_NODE, entry.problem(loc, message, key=True)
    return named, entry.problem(loc, _unknown_node(named, declared))


def merge(spec: ContainerSpec, layers: list[DefaultsSpec]) -> ContainerSpec:
    """`spec` with every field it leaves unset taken from the last layer that sets it.

    Whole fields are taken, never merged: a container's `features` replaces the default's.
    Addresses (`ip`, `netif`) are never defaults, whatever a Defaults document says.
    """
    update: dict[str, object] = {}
    for layer in layers:
        for name in Settings.model_fields:
            value = None if name in _PER_CONTAINER else getattr(layer, name)
            if value is not None and getattr(spec, name) is None:
                update[name] = value
    return spec.model_copy(update=update) if update else spec


def _fleet_checks(placed: list[Placed]) -> list[Problem]:
    return (
        _duplicates(
            (c.entry, ("metadata", "name"), f"container name {c.entry.name!r}") for c in placed
        )
        + _duplicates(
            (c.entry, ("spec", "ctid"), f"ctid {c.spec.ctid} on node {c.node!r}") for c in placed
        )
        + _duplicates(_addresses(placed))
        + _duplicates(_macs(placed))
        + _duplicates(_host_ifnames(placed))
        + [p for c in placed for p in _duplicates(_ifnames(c))]
    )


def _addresses(placed: list[Placed]) -> Iterator[tuple[Entry, Loc, str]]:
    for c in placed:
        for index, address in enumerate(c.spec.ip or []):
            yield c.entry, ("spec", "ip", index), f"IP address {address.split('/')[0]}"


def _macs(placed: list[Placed]) -> Iterator[tuple[Entry, Loc, str]]:
    for c in placed:
        for index, netif in enumerate(c.spec.netif or []):
            for name in ("mac", "host_mac"):
                mac = getattr(netif, name)
                if mac is not None and (name == "mac" or mac.upper() != netif.mac.upper()):
                    yield c.entry, ("spec", "netif", index, name), f"MAC address {mac.upper()}"


def _ifnames(c: Placed) -> Iterator[tuple[Entry, Loc, str]]:
    """vzctl keeps one NETIF entry per ifname (a second --netif_add of it merges into the
    first), so two interfaces of one name could never both be there."""
    for index, netif in enumerate(c.spec.netif or []):
        yield c.entry, ("spec", "netif", index, "ifname"), f"interface name {netif.ifname}"


def _host_ifnames(placed: list[Placed]) -> Iterator[tuple[Entry, Loc, str]]:
    for c in placed:
        for index, netif in enumerate(c.spec.netif or []):
            if netif.host_ifname is not None:
                key = f"host interface name {netif.host_ifname} on node {c.node!r}"
                yield c.entry, ("spec", "netif", index, "host_ifname"), key


def _duplicates(
    items: Iterable[tuple[Entry, Loc, str]], verb: str = "is already used by"
) -> list[Problem]:
    """A problem for every repeat of a key, pointing back at its first use."""
    first: dict[str, Entry] = {}
    problems = []
    for entry, loc, key in items:
        if key not in first:
            first[key] = entry
            continue
        owner = first[key]
        where = (
            "this document"
            if owner is entry
            else f"{_kind(owner)} {owner.name!r} ({owner.origin()})"
        )
        problems.append(entry.problem(loc, f"{key} {verb} {where}"))
    return problems


def _kind(entry: Entry) -> str:
    return entry.model.kind.lower() if entry.model.kind != "Defaults" else "Defaults"


def _needs_template(c: Placed) -> Problem | None:
    if c.spec.state == "absent" or c.spec.ostemplate is not None:
        return None
    message = (
        "is required for a running or stopped container; set it here or in a Defaults document"
    )
    return c.entry.problem(("spec", "ostemplate"), message, key=True)


def _disabled_running(c: Placed) -> Problem | None:
    """vzctl start refuses a disabled container (exit 105): such a spec could never converge."""
    if c.spec.state != "running" or not c.spec.disabled:
        return None
    assert isinstance(c.entry.model, Container)
    own = c.entry.model.spec.disabled is not None
    where = "" if own else " (from a Defaults document)"
    message = (
        f"disabled: true{where} with state: running can never be reached, vzctl refuses to "
        "start a disabled container (exit 105); write state: stopped, or disabled: false"
    )
    loc = ("spec", "disabled") if own else ("spec", "state")
    return c.entry.problem(loc, message, key=not own)


# vzctl 4.x's samples without SWAPPAGES (etc/conf): with them `--ram` alone exits 28.
_NO_SWAP_SAMPLES = ("basic", "light")


def _ram_without_swap(c: Placed) -> Problem | None:
    """vzctl's check_set_opt: a vswap `--ram` needs SWAPPAGES, from the command line or config."""
    if c.spec.ram is None or c.spec.swap is not None or c.spec.config not in _NO_SWAP_SAMPLES:
        return None
    message = (
        f"config: {c.spec.config} sets no swap, and vzctl refuses --ram without one "
        "(required UB parameter (swap) not set, exit 28); add swap, 0 for none"
    )
    return c.entry.problem(("spec", "ram"), message)


PLOOP_MAX_KIB = 16 << 30  # libploop's PLOOP_MAX_FS_SIZE, 16 TiB
PLOOP_KIB_PER_INODE = 16  # vzctl_create_image(): ext4's inode_ratio, 16384 bytes per inode


def _ploop_sizes(c: Placed) -> list[Problem]:
    """A ploop image is made of the hard disk-space limit, at most 16T, with 16 KiB per
    inode (../shared/openvz/REFERENCE.md 3; vzctl's create_image): more fails vzctl create."""
    if c.spec.layout != "ploop":
        return []
    assert isinstance(c.entry.model, Container)
    own = c.entry.model.spec
    inodes = 0 if c.spec.diskinodes is None else _hard_items(c.spec.diskinodes)
    most_inodes = PLOOP_MAX_KIB // PLOOP_KIB_PER_INODE
    checks = (
        ("diskspace", _disk(c.spec) > PLOOP_MAX_KIB,
         "layout: ploop makes an image of the hard limit, and a ploop image is at most 16T"
         " (vzctl create would exit 151); write at most 16T"),
        ("diskinodes", inodes > most_inodes,
         "layout: ploop gives the image 16K per inode, at most 16T, so vzctl create refuses"
         f" more than {most_inodes} inodes (exit 21); write at most {most_inodes}"),
    )  # fmt: skip
    return [
        c.entry.problem(("spec", name), message, key=getattr(own, name) is None)
        for name, over, message in checks
        if over
    ]


def _hard_items(value: str | int) -> int:
    return value if isinstance(value, int) else units.to_items(units.pair(value)[1])


_Measure = Callable[[ContainerSpec], int]


def _ram(spec: ContainerSpec) -> int:
    return 0 if spec.ram is None else units.to_pages(str(spec.ram))


def _disk(spec: ContainerSpec) -> int:
    return 0 if spec.diskspace is None else units.to_kib(units.pair(str(spec.diskspace))[1])


def _cpus(spec: ContainerSpec) -> int:
    return spec.cpus or 0


def _capacity(node_entry: Entry, placed: list[Placed]) -> list[Problem]:
    """Sums of the node's running and stopped containers against its declared capacity."""
    node = _node(node_entry)
    capacity = node.spec.capacity
    if capacity is None:
        return []
    mine = [c.spec for c in placed if c.node == node.metadata.name and c.spec.state != "absent"]
    checks: list[tuple[str, int | None, _Measure, Callable[[int], str], str]] = [
        ("ram", _limit(capacity.ram, units.to_pages), _ram, _pages, "RAM"),
        ("disk", _limit(capacity.disk, _hard_kib), _disk, _kib, "disk space"),
        ("cpus", capacity.cpus, _cpus, str, "CPUs"),
    ]
    problems = []
    for name, limit, measure, shown, what in checks:
        total = sum(measure(spec) for spec in mine)
        if limit is not None and limit != units.LONG_MAX and total > limit:
            message = (
                f"the {len(mine)} containers of node {node.metadata.name!r} need {shown(total)} "
                f"of {what} in total, more than its capacity of {shown(limit)}"
            )
            problems.append(node_entry.problem(("spec", "capacity", name), message))
    return problems


def _limit(value: str | int | None, parse: Callable[[str], int]) -> int | None:
    return None if value is None else parse(str(value))


def _hard_kib(text: str) -> int:
    return units.to_kib(units.pair(text)[1])


def _pages(value: int) -> str:
    return "unlimited" if value >= units.LONG_MAX else units.format_pages(value)


def _kib(value: int) -> str:
    return "unlimited" if value >= units.LONG_MAX else units.format_binary(value, 1024)
