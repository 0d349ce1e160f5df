"""A fleet command: running plan, apply or drift on each node of `reconciler.fleet` in
parallel, and the report sections of the nodes that failed (shell). One node failing
(unreachable, locked, a bad observation) is that node's error: the others are still planned or
applied, and the exit code says something failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from reconciler.errors import UsageError, VzGitopsError
from reconciler.fleet import NODE_ENV, Fleet, Member, fleet_of
from reconciler.report.model import NodeSection, failed_section
from reconciler.spec.desired import DEFAULT_NODE, DesiredState
from reconciler.state import StateDir

T = TypeVar("T")


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

    fleet = fleet_of(
        desired,
        root,
        lambda: node_access(args),
        chosen=args.nodes,
        ssh_config=getattr(args, "ssh_config", None),
        env_node=os.environ.get(NODE_ENV),
    )
    for note in fleet.skipped:
        print(f"note: {note}", file=sys.stderr)
    return fleet


def one_node(args: argparse.Namespace) -> Member:
    """The node of a command that works on one (backup, backups, import, adopt): this
    machine's, unless --repo is given with --node NAME for a node that is not the state
    directory's: then the repository's Node says how to reach it (over ssh, its state in
    STATE/nodes/NAME). Close its access when done."""
    from reconciler.cli.steps import load, node_access, state_dir

    root = StateDir(state_dir(args.state_dir))
    if args.repo is None or args.node is None or args.node == root.bound_node():
        return Member(args.node or DEFAULT_NODE, root, node_access(args))
    try:
        desired = load(args, root).desired
    except VzGitopsError as error:
        raise UsageError(
            f"{args.command} --node {args.node}: the repository {args.repo} says how to reach "
            f"that node, and it cannot be read: {error}"
        ) from error
    fleet = fleet_of(
        desired,
        root,
        lambda: node_access(args),
        chosen=[args.node],
        ssh_config=getattr(args, "ssh_config", None),
        env_node=os.environ.get(NODE_ENV),
    )
    return fleet.members[0]
