"""Moves across the nodes of one fleet command (shell; the decisions are `plan.moves`).

- `arrivals`: before planning, which containers each node awaits: git places them there and
  another node of the fleet owns them (its inventory says so; names must match).
- `paired`: after planning, the sources' holds and the destinations' waits become `move`
  changes (`plan.moves.pair`), with the destinations' ssh addresses, what runs where,
  spec.migrate and the maintenance windows.
- `settle`: after a move ran, or when a move's intent is left over (a crash, a kill -9, a dropped
  connection), the container is owned where it is: on the destination once vzmigrate put it
  there (the source forgets it); left on the source to be moved again when the destination has
  no complete copy (a stopped partial copy there, made by the interrupted vzmigrate, is
  removed first); a container on neither node is an error for a person.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from reconciler.errors import NeedsHuman
from reconciler.fleet import Member
from reconciler.node.dumps import take
from reconciler.node.locks import clear_stale_lock
from reconciler.node.observe import FALLBACK_ARGV, parse_vzlist_table
from reconciler.plan.moves import placed
from reconciler.spec.desired import DesiredState
from reconciler.state import StateDir


def known_states(root: StateDir, desired: DesiredState) -> dict[str, StateDir]:
    """The state directory of every node this one keeps state for: its own node's (`root`)
    and each `root/nodes/NAME` that exists."""
    found: dict[str, StateDir] = {}
    bound = root.bound_node()
    if bound:
        found[bound] = root
    for node in desired.nodes:
        name = node.metadata.name
        state = root.node_state(name)
        if name not in found and state.node_path.exists():
            found[name] = state
    return found


def arrivals(states: Mapping[str, StateDir], desired: DesiredState) -> dict[str, dict[int, str]]:
    """node -> {ctid: source node} of the containers it awaits: git places them there and
    another node owns them (whether or not that node is planned now: `plan --node server`
    alone must not create empty what the laptop still holds)."""
    by_ctid = {d.ctid: d for d in desired.containers}
    found: dict[str, dict[int, str]] = {}
    for node, state in states.items():
        inventory = state.load_inventory()
        for ctid in inventory.owned:
            d = by_ctid.get(ctid)
            if d is None or d.node == node or not desired.nodes:
                continue
            if d.spec.migrate == "recreate" or inventory.names.get(ctid) != d.name:
                continue
            found.setdefault(d.node, {})[ctid] = node
    return found


def _listed(member: Member) -> dict[int, str]:
    done = member.access.run(FALLBACK_ARGV, timeout=120)
    if done.code != 0:
        raise NeedsHuman(
            f"node {member.node}: vzlist failed (exit {done.code}) while settling a move"
        )
    return parse_vzlist_table(done.stdout)


def settle(members: Sequence[Member], desired: DesiredState) -> list[str]:
    """Resolve every move intent of the members whose destination is a member too; returns
    what was done, for people."""
    by_node = {m.node: m for m in members}
    where = placed(desired)
    said: list[str] = []
    for source in members:
        for ctid, intent in sorted(source.state.intents().items()):
            dest = by_node.get(where.get(ctid, ""))
            if intent.get("action") != "move" or dest is None or dest is source:
                continue
            said.append(settle_one(source, dest, ctid, str(intent.get("name") or ctid)))
    return said


def settle_one(source: Member, dest: Member, ctid: int, name: str) -> str:
    clear_stale_lock(source.access, ctid)  # an interrupted vzmigrate leaves its lock file
    here, there = _listed(source).get(ctid), _listed(dest).get(ctid)
    if there is not None and (here is None or there == "running"):
        dest.state.record_owned(ctid, name, "migrate", identity=dest.access.identity(ctid))
        source.state.clear_intent(ctid)
        if here is None:
            source.state.forget(ctid)
            return f"container {ctid} ({name}) moved from node {source.node} to node {dest.node}; owned there"
        return _drop_leftover(source, dest, ctid, name)
    if here is not None:
        if there is not None:  # the copy an interrupted vzmigrate left stopped: not complete
            dest.access.run(("vzctl", "umount", str(ctid)), timeout=600)
            gone = dest.access.run(("vzctl", "destroy", str(ctid)), timeout=600)
            if gone.code != 0:
                raise NeedsHuman(
                    f"container {ctid} ({name}): the partial copy an interrupted move left on node {dest.node} could not be removed (vzctl destroy exit {gone.code}); remove it, then apply again"
                )
        source.state.clear_intent(ctid)
        return f"container {ctid} ({name}) is still on node {source.node}: its move to node {dest.node} did not finish and runs again"
    raise NeedsHuman(
        f"container {ctid} ({name}) is on neither node {source.node} nor node {dest.node} after an interrupted move; restore it from a backup (spec.restoreFrom) or set spec.migrate: recreate"
    )


def _drop_leftover(source: Member, dest: Member, ctid: int, name: str) -> str:
    """The move was interrupted after vzmigrate started the container on the destination and
    before it destroyed it on the source: the destination's copy runs and is the one; the
    stopped source copy is dumped (the safety net) and destroyed, as vzmigrate would have."""
    dump = take(source.access.run, ctid, "stop", None)
    if dump.archive is None:
        return f"container {ctid} ({name}): the move to node {dest.node} had started it there when it was interrupted; owned there. The stopped copy left on node {source.node} could not be dumped (vzdump exit {dump.code}), so it was kept: it is still owned there until it can be"
    source.state.record_safety_dump(ctid, dump.archive, time.time())
    gone = source.access.run(("vzctl", "destroy", str(ctid)), timeout=600)
    if gone.code == 0:
        source.state.forget(ctid)
    return f"container {ctid} ({name}): the move to node {dest.node} had started it there when it was interrupted; owned there, and the stopped copy left on node {source.node} was destroyed after a dump ({dump.archive})"
