"""The nodes one command works on, and running it on each of them in parallel (shell).

Without --node, plan, apply and drift cover every node of the revision they can reach: every
node with `access: ssh`, and the one node that is this machine (the node its state directory
belongs to, $VZGITOPS_NODE, or the only `access: local` node). A node with `access: local` that
is another machine is left to its own agent (`vzgitops run --node NAME` there) and said so.

This machine's node keeps its state in the state directory itself (as a per-node agent does);
each node reached over ssh in `STATE/nodes/NAME`, so every node has its own lock, inventory and
history. One node failing (unreachable, locked, a bad observation) is that node's error: the
others are still planned or applied, and the exit code says something failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from reconciler.errors import UsageError, VzGitopsError
from reconciler.node.access import NodeAccess
from reconciler.reconcile import node_of
from reconciler.report.model import NodeSection, failed_section
from reconciler.spec.desired import DEFAULT_NODE, DesiredState
from reconciler.spec.models import Node
from reconciler.state import StateDir

T = TypeVar("T")
NODES_DIR = "nodes"
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
        for member in self.members:
            member.access.close()


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
    args: argparse.Namespace,
    desired: DesiredState,
    root: StateDir,
    local_access: Callable[[], NodeAccess],
    env_node: str | None,
) -> Fleet:
    """The members of one fleet command. A revision without Node documents has one node,
    this machine's, as before there were fleets."""
    if not desired.nodes:
        return Fleet((Member(desired.choose_node(args.node), root, local_access()),), (), root)
    bound = root.bound_node()
    if bound not in (None, DEFAULT_NODE) and bound not in {n.metadata.name for n in desired.nodes}:
        node_of(root, desired, None, record=False)  # raises: the revision dropped this node
    here = this_node(desired, root, env_node)
    names, skipped = choose(desired, args.nodes, here)
    declared = {n.metadata.name: n for n in desired.nodes}
    members = [_member(declared[name], name == here, root, local_access, args) for name in names]
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
    args: argparse.Namespace,
) -> Member:
    name = node.metadata.name
    if here or node.spec.access == "local":
        return Member(name, root, local_access())
    from reconciler.node.ssh import SshAccess  # only a command with an ssh node loads it

    state = StateDir(root.root / NODES_DIR / name)
    return Member(name, state, SshAccess.of(node, getattr(args, "ssh_config", None)))


def each(
    members: Sequence[Member], work: Callable[[Member], T], parallel: int
) -> list[tuple[Member, T | VzGitopsError]]:
    """`work` on every member, at most `parallel` at once, in the members' order; a node's
    VzGitopsError is its result (any other exception is a bug and is raised)."""

    def one(member: Member) -> T | VzGitopsError:
        try:
            return work(member)
        except VzGitopsError as error:
            return error

    if len(members) == 1:
        return [(members[0], one(members[0]))]
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(members)))) as pool:
        return list(zip(members, pool.map(one, members), strict=True))


def node_error(node: str, error: VzGitopsError) -> str:
    text = str(error)
    return text if node in text else f"node {node}: {text}"


def failed_sections(done: Sequence[tuple[Member, object]]) -> list[NodeSection]:
    """The report sections of the nodes whose result is an error, each saying why."""
    return [
        failed_section(member.node, node_error(member.node, outcome))
        for member, outcome in done
        if isinstance(outcome, VzGitopsError)
    ]


def fleet_for(args: argparse.Namespace, desired: DesiredState, root: StateDir) -> Fleet:
    """`fleet_of` for a command's arguments: local access is this machine's vzctl/vzlist and
    config directory (--vz-conf-dir)."""
    from reconciler.cli.steps import node_access

    fleet = fleet_of(args, desired, root, lambda: node_access(args), os.environ.get(NODE_ENV))
    for note in fleet.skipped:
        print(f"note: {note}", file=sys.stderr)
    return fleet
