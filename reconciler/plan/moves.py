"""Moves: a container whose `metadata.node` changed is moved with vzmigrate, never created empty
on the new node and destroyed on the old one (pure).

Each node's plan says its half:

- the source (owns the container; git now places it on another node) never destroys it as "no
  longer in git": it holds it, kind `moving` (`held_out`);
- the destination (git places it here; it is absent, and another node of the fleet owns it)
  never creates it: its create, once pre-flight passed it (CTID, name and IPs free, arch,
  capacity; no template cache needed, the private area comes along), becomes a held
  `moving` "awaiting migration from SOURCE" (`await_arrivals`).

`pair` joins the halves of a fleet's plans: the source's hold becomes a `move` change, one
`vzmigrate` call run on the source, when the destination awaits it; when the destination holds
it for another reason (pre-flight, a conflict), the source's hold says so. `spec.migrate:
recreate` opts out: the container is created on the new node and destroyed on the old one
(after the safety dump), as for any container git drops.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from reconciler.plan.model import Change, Command, Held, Plan
from reconciler.spec.desired import DesiredState
from reconciler.spec.windows import closed

AWAITING = "awaiting migration from node"


@dataclass(frozen=True)
class Destination:
    """How the source node's vzmigrate reaches the destination (its sshd)."""

    host: str
    port: int
    user: str


def held_out(ctid: int, name: str, node: str, dest: str) -> Held:
    return Held(
        ctid=ctid,
        name=name,
        kind="moving",
        reason=f"git moves it to node {dest}; it moves (vzmigrate) when node {dest} is planned with this one (vzgitops apply without --node, or --node {node} --node {dest}), and is never destroyed here as no longer in git",
    )


def await_arrivals(plan: Plan, arriving: Mapping[int, str]) -> Plan:
    """The destination's half: each create of an arriving container becomes held `moving`."""
    if not arriving:
        return plan
    kept, held = [], list(plan.held)
    for change in plan.changes:
        source = arriving.get(change.ctid)
        if source is None or change.action != "create":
            kept.append(change)
            continue
        held.append(
            Held(
                ctid=change.ctid,
                name=change.name,
                kind="moving",
                fields=change.fields,
                reason=f"{AWAITING} {source} (vzmigrate runs there); never created empty here. If node {source} is gone, say how to make it anew: spec.restoreFrom (an archive) or spec.migrate: recreate",
            )
        )
    return plan.model_copy(
        update={"changes": tuple(kept), "held": tuple(sorted(held, key=lambda h: h.ctid))}
    )


def move_command(ctid: int, dest: Destination, online: bool) -> Command:
    """`vzmigrate [--online] --ssh-mux --ssh=OPTS -r yes USER@HOST CTID` (REFERENCE section
    10.1), run on the source: it copies the config and private area, starts the container on
    the destination if it ran, and destroys it on the source. `--ssh-mux`: one ssh connection
    for its ~10 remote steps and the copy (benchmarks.migrate: 1.23x a plain rsync, 2.84x
    without)."""
    ssh = shlex.join(["-p", str(dest.port)])
    live = ("--online",) if online else ()
    return Command(
        tool="vzmigrate",
        argv=(
            *live,
            "--ssh-mux",
            f"--ssh={ssh}",
            "-r",
            "yes",
            f"{dest.user}@{dest.host}",
            str(ctid),
        ),
    )


@dataclass(frozen=True)
class Pairing:
    """What `pair` decided for the fleet: the new plans, and the moves by source node."""

    plans: dict[str, Plan]
    moves: dict[str, tuple[Change, ...]]  # source node -> its move changes


def pair(
    plans: Mapping[str, Plan],
    placed: Mapping[int, str],
    destinations: Mapping[str, Destination | None],
    running: Mapping[str, frozenset[int]],
    online: frozenset[int],
    windows: Mapping[int, str],
    alone: bool = True,
) -> Pairing:
    """Join the sources' holds and the destinations' waits into `move` changes. With `alone`, a
    move whose destination is not planned here (a per-node agent, `--node laptop`) is made all
    the same, trusting vzmigrate's own checks there (CTID, IPs; REFERENCE section 10.1).

    `placed`: the node git places each container on; `destinations`: how each node is reached over ssh (None: it has no ssh address, so no
    source can migrate to it); `running`: the running containers of each node; `online`: the
    containers whose spec.migrate is online; `windows`: why a container's move waits now (a
    closed maintenance window), by CTID."""
    out = dict(plans)
    moves: dict[str, list[Change]] = {}
    for source, plan in plans.items():
        for held in plan.held:
            if held.kind != "moving" or held.reason.startswith(AWAITING):
                continue
            dest = placed.get(held.ctid)
            if dest is None or dest == source:
                continue
            change, why = _decide(
                held, source, dest, plans, destinations, running, online, windows, alone
            )
            if change is not None:
                moves.setdefault(source, []).append(change)
                out[source] = _replace_held(out[source], held, change, None)
            elif why is not None:
                out[source] = _replace_held(
                    out[source], held, None, f"{why}; git moves it to node {dest}"
                )
    return Pairing(out, {node: tuple(found) for node, found in moves.items()})


def _decide(
    held: Held,
    source: str,
    dest: str,
    plans: Mapping[str, Plan],
    destinations: Mapping[str, Destination | None],
    running: Mapping[str, frozenset[int]],
    online: frozenset[int],
    windows: Mapping[int, str],
    alone: bool,
) -> tuple[Change | None, str | None]:
    theirs = plans.get(dest)
    if theirs is None and not alone:
        return None, None  # the destination is not planned now: the hold says what to do
    waiting = [h for h in theirs.held if h.ctid == held.ctid] if theirs is not None else []
    if theirs is not None and (not waiting or not waiting[0].reason.startswith(AWAITING)):
        why = waiting[0].reason if waiting else "it is not awaited there"
        return None, f"the move to node {dest} waits: on {dest}, {why}"
    target = destinations.get(dest)
    if target is None:
        return (
            None,
            f"node {dest} has no ssh address (access: ssh, spec.ssh) for vzmigrate on {source} to reach",
        )
    if held.ctid in windows:
        return None, f"move: {windows[held.ctid]}"
    live = held.ctid in online and held.ctid in running.get(source, frozenset())
    command = move_command(held.ctid, target, live)
    how = "online (vzmigrate --online)" if live else "offline: stopped while it is copied"
    change = Change(
        ctid=held.ctid,
        name=held.name,
        action="move",
        commands=(command,),
        reason=f"git moved it from node {source} to node {dest}; {how}, then destroyed on {source} by vzmigrate",
    )
    return change, None


def _replace_held(plan: Plan, held: Held, change: Change | None, why: str | None) -> Plan:
    rest = tuple(h for h in plan.held if h is not held)
    if change is not None:
        return plan.model_copy(update={"held": rest, "changes": (change, *plan.changes)})
    moved = held.model_copy(update={"reason": why})
    return plan.model_copy(update={"held": tuple(sorted((*rest, moved), key=lambda h: h.ctid))})


def placed(desired: DesiredState) -> dict[int, str]:
    """The node git places each container on."""
    return {d.ctid: d.node for d in desired.containers}


def destinations(desired: DesiredState) -> dict[str, Destination | None]:
    """How each node's sshd is reached, for the vzmigrate of a source node."""
    found: dict[str, Destination | None] = {}
    for node in desired.nodes:
        ssh = node.spec.ssh
        found[node.metadata.name] = (
            Destination(ssh.host, ssh.port, ssh.user) if ssh is not None else None
        )
    return found


def paired(
    plans: Mapping[str, Plan],
    running: Mapping[str, frozenset[int]],
    desired: DesiredState,
    now: datetime,
    ignore_windows: bool = False,
    alone: bool = True,
) -> Pairing:
    """`pair` with what the revision says: spec.migrate, the destinations' ssh addresses and
    each container's maintenance windows at `now`."""
    online = frozenset(d.ctid for d in desired.containers if d.spec.migrate == "online")
    windows: Mapping[int, str] = {}
    if not ignore_windows:
        windows = closed(
            {
                d.ctid: d.spec.maintenance or desired.node_windows(d.node)
                for d in desired.containers
            },
            now,
        )
    return pair(plans, placed(desired), destinations(desired), running, online, windows, alone)
