"""The nodes of a fleet: which nodes one command or one central `vzgitops run` works on, each
with its state directory and access (shell).

Without --node, every node of the revision that can be reached from here: every node with
`access: ssh`, and the one node that is this machine (the node its state directory belongs to,
$VZGITOPS_NODE, or the only `access: local` node). A node with `access: local` that is another
machine is left to its own agent (`vzgitops run --node NAME` there) and said so.

This machine's node keeps its state in the state directory itself (as a per-node agent does);
each node reached over ssh in `STATE/nodes/NAME`, so every node has its own lock, inventory and
history, whether a command or the controller works on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import UsageError
from reconciler.node.access import NodeAccess
from reconciler.reconcile import node_of
from reconciler.spec.desired import DEFAULT_NODE, DesiredState
from reconciler.spec.models import Node
from reconciler.state import NODES_DIR as NODES_DIR
from reconciler.state import StateDir

NODE_ENV = "VZGITOPS_NODE"


@dataclass(frozen=True)
class Member:
    """One node of a fleet command: its name, state directory and access."""

    node: str
    state: StateDir
    access: NodeAccess


@dataclass(frozen=True)
class Fleet:
    members: tuple[Member, ...]
    skipped: tuple[str, ...]  # what was left out, and why (said on stderr)
    root: StateDir  # the state directory the command was given (this machine's node's)

    @property
    def several(self) -> bool:
        return len(self.members) > 1

    def close(self) -> None:
        """End every member's access at once: each ends its ssh master (one `ssh -O exit`),
        which one after the other added ~10 ms a node to a fleet command's wall time."""
        if len(self.members) < 2:
            for member in self.members:
                member.access.close()
            return
        with ThreadPoolExecutor(max_workers=len(self.members)) as pool:
            list(pool.map(lambda member: member.access.close(), self.members))


def this_node(desired: DesiredState, root: StateDir, env_node: str | None) -> str | None:
    """The node that is this machine: its state directory's, $VZGITOPS_NODE's, or the only
    local node the revision declares."""
    declared = {n.metadata.name for n in desired.nodes}
    for name in (root.bound_node(), env_node):
        if name and name in declared:
            return name
    local = [n.metadata.name for n in desired.nodes if n.spec.access == "local"]
    return local[0] if len(local) == 1 else None


def choose(
    desired: DesiredState, chosen: Sequence[str], here: str | None
) -> tuple[list[str], list[str]]:
    """(the nodes to work on, the skipped ones with why)."""
    declared = {n.metadata.name: n for n in desired.nodes}
    if chosen:
        return [desired.choose_node(name) for name in dict.fromkeys(chosen)], []
    names, skipped = [], []
    for name, node in sorted(declared.items()):
        if name == here or node.spec.access == "ssh":
            names.append(name)
        else:
            skipped.append(
                f"node {name} (access: local) is another machine: its own agent applies it "
                f"('vzgitops run --node {name}' there), or give it access: ssh"
            )
    if not names:
        raise UsageError(
            "no node of the repository is reachable from here: none has access: ssh and this "
            "machine is none of them; pass --node NAME (or set VZGITOPS_NODE)"
        )
    return names, skipped


def fleet_of(
    desired: DesiredState,
    root: StateDir,
    local_access: Callable[[], NodeAccess],
    *,
    chosen: Sequence[str],
    ssh_config: Path | None,
    env_node: str | None,
) -> Fleet:
    """The members for the nodes `chosen` (--node; none: every node reachable from here). A
    revision without Node documents has one node, this machine's, as before there were fleets."""
    if not desired.nodes:
        one = chosen[0] if len(chosen) == 1 else None
        return Fleet((Member(desired.choose_node(one), root, local_access()),), (), root)
    bound = root.bound_node()
    if bound not in (None, DEFAULT_NODE) and bound not in {n.metadata.name for n in desired.nodes}:
        node_of(root, desired, None, record=False)  # raises: the revision dropped this node
    here = this_node(desired, root, env_node)
    names, skipped = choose(desired, chosen, here)
    declared = {n.metadata.name: n for n in desired.nodes}
    members = [
        _member(declared[name], name == here, root, local_access, ssh_config) for name in names
    ]
    locals_ = [m.node for m in members if m.state is root]
    if len(locals_) > 1:
        raise UsageError(
            f"nodes {', '.join(locals_)} are all reached locally (access: local), but this machine "
            "is one node: run vzgitops on each of them, or give the others access: ssh"
        )
    return Fleet(tuple(members), tuple(skipped), root)


def _member(
    node: Node,
    here: bool,
    root: StateDir,
    local_access: Callable[[], NodeAccess],
    ssh_config: Path | None,
) -> Member:
    name = node.metadata.name
    if here or node.spec.access == "local":
        return Member(name, root, local_access())
    from reconciler.node.ssh import SshAccess  # only a command with an ssh node loads it

    state = root.node_state(name)
    return Member(name, state, SshAccess.of(node, ssh_config))
