"""Containers git moved to this node, awaited from their old node (shell; called by
`reconcile.make_plan` before ownership is resolved).

A container git places here that is absent here is *awaited*, never created, when git moved it
from another node: the fleet saw the old node own it (`Options.arriving`), or the previous
revision placed it on another node (`Options.previous`: the controller's live revision, or the
revision's parent). What is awaited is kept in `awaiting.json`, so a later revision (or a
restarted agent) still waits instead of creating it empty. Once it is on this node with its
name it is owned here (how: migrate) and no longer awaited; `spec.migrate: recreate`, or git
placing it elsewhere again, ends the wait.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.node.access import NodeAccess
from reconciler.plan.observed import ObservedState
from reconciler.spec.desired import DesiredContainer, DesiredState
from reconciler.state import StateDir


def arriving_here(
    state: StateDir,
    desired: DesiredState,
    node: str,
    observed: ObservedState,
    access: NodeAccess,
    fleet: Mapping[int, str],
    previous: DesiredState | None,
    record: bool,
) -> dict[int, str]:
    """ctid -> old node of the containers this node awaits; arrived ones become owned."""
    if not desired.nodes:
        return {}
    here = {d.ctid: d for d in desired.for_node(node)}
    entries = _wanted(dict(state.awaiting()), here, fleet, previous, node, observed)
    arrived = [c for c in entries if c in observed.containers]
    owned = state.load_inventory().owned
    for ctid in arrived:
        have, name = observed.containers[ctid], str(entries[ctid]["name"])
        if record and have.listed and have.name == name and ctid not in owned:
            state.record_owned(ctid, name, "migrate", identity=access.identity(ctid))
    remaining = {c: e for c, e in entries.items() if c not in arrived}
    if record:
        state.write_awaiting(remaining)
    return {c: str(e["from"]) for c, e in remaining.items()}


def _wanted(
    entries: dict[int, dict[str, Any]],
    here: Mapping[int, DesiredContainer],
    fleet: Mapping[int, str],
    previous: DesiredState | None,
    node: str,
    observed: ObservedState,
) -> dict[int, dict[str, Any]]:
    for ctid, source in fleet.items():
        if ctid in here:
            entries.setdefault(ctid, {"from": source, "name": here[ctid].name})
    before = {d.ctid: d for d in previous.containers} if previous and previous.nodes else {}
    for ctid, d in here.items():
        old = before.get(ctid)
        moved = old is not None and old.node != node and old.name == d.name
        if old is not None and moved and ctid not in observed.containers:
            entries.setdefault(ctid, {"from": old.node, "name": d.name})
    return {
        c: e
        for c, e in entries.items()
        if c in here and here[c].spec.migrate != "recreate" and e.get("name") == here[c].name
    }
