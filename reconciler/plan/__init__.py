"""The planner: desired + observed + inventory + policy -> Plan (pure, deterministic).

A plan is a value: an ordered tuple of changes, each naming its container, the fields that
differ (before -> after, with their change class), the exact vzctl argument lists that make
them so, and a reason for people. The executor runs exactly these commands and decides nothing.
No I/O, no clock: the same inputs always give the same plan.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.fields import Canon, desired_settings
from reconciler.plan.conflicts import conflict, leftovers, strangers
from reconciler.plan.container import Acc, plan_create, plan_destroy, plan_update, unowned
from reconciler.plan.model import (
    PLAN_FORMAT,
    Action,
    BackupLine,
    Change,
    ChangeClass,
    Command,
    FieldChange,
    Held,
    Inventory,
    Plan,
    Policy,
    Unmanaged,
)
from reconciler.plan.moves import held_out
from reconciler.plan.observed import ObservedState, check_complete
from reconciler.plan.restore import plan_restore, refuse_existing
from reconciler.spec.desired import DesiredContainer

__all__ = [
    "PLAN_FORMAT",
    "Action",
    "BackupLine",
    "Change",
    "ChangeClass",
    "Command",
    "FieldChange",
    "Held",
    "Inventory",
    "Plan",
    "Policy",
    "Unmanaged",
    "plan",
]


def _plan_desired(
    d: DesiredContainer,
    observed: ObservedState,
    inventory: Inventory,
    policy: Policy,
    acc: Acc,
    doomed: list[Change],
) -> None:
    have = observed.containers.get(d.ctid)
    owned = d.ctid in inventory.owned
    if have is not None and have.listed and not owned:
        acc.held.append(
            unowned(
                d.ctid,
                d.name,
                f"container {d.ctid} exists on the node but vzgitops does not own it; adopt it with 'vzgitops adopt {d.ctid}' or 'vzgitops import'",
            )
        )
        return
    if d.spec.state == "absent":
        if have is not None and have.listed:
            doomed.append(
                plan_destroy(d.ctid, d.name, have, f"state: absent in {d.origin.render()}")
            )
        return
    want = desired_settings(d.spec, d.name)
    if have is None:
        _plan_missing(d, want, policy, acc)
        return
    refuse_existing(d, have, inventory, acc)
    plan_update(d, want, have, policy, acc)


def _plan_missing(d: DesiredContainer, want: Mapping[str, Canon], policy: Policy, acc: Acc) -> None:
    """A container the node has neither listed nor configured: create it, or restore it when it
    declares restoreFrom. (A config without a listing never reaches the planner: `plan`
    refuses an incomplete observation.)"""
    if d.spec.restoreFrom is not None:
        plan_restore(d, policy, acc)
    else:
        plan_create(d, want, acc)


def _gate_destroys(doomed: list[Change], inventory: Inventory, policy: Policy, acc: Acc) -> None:
    """Prune only when enabled, owned, unprotected, trusted, and within the safety limit."""
    if not doomed:
        return
    held_reason = None
    if not policy.prune:
        held_reason = "destroying needs pruning: pass --prune or set prune: true on the Node"
    elif not inventory.trusted:
        held_reason = "the inventory of owned containers was rebuilt after it was lost; confirm it with 'vzgitops adopt --confirm' before anything is destroyed"
    allowed = [c for c in doomed if c.ctid not in inventory.protected]
    for change in doomed:
        if change.ctid in inventory.protected:
            acc.held.append(
                Held(
                    ctid=change.ctid,
                    name=change.name,
                    kind="destroy-held",
                    reason="protect: true forbids destroying this container",
                )
            )
    limit = max(1, len(inventory.owned) // 10)
    too_many = len(allowed) > limit or (bool(allowed) and len(allowed) >= len(inventory.owned))
    if held_reason is None and not policy.allow_mass_destroy and too_many:
        held_reason = f"refusing to destroy {len(allowed)} of {len(inventory.owned)} owned containers at once (limit {limit}, and never all); pass --allow-mass-destroy if this is intended"
    for change in allowed:
        if held_reason is None:
            acc.changes.append(change)
        else:
            acc.held.append(
                Held(ctid=change.ctid, name=change.name, kind="destroy-held", reason=held_reason)
            )


_LEFT = "which git no longer lists and this plan does not destroy"


def _gate_leftovers(
    desired: tuple[DesiredContainer, ...], observed: ObservedState, inventory: Inventory, acc: Acc
) -> None:
    """A change colliding with an owned container git dropped but that stays (no pruning, or
    its destroy held) is held like one colliding with an unowned container."""
    destroyed = {c.ctid for c in acc.changes if c.action == "destroy"}
    wanted = {d.ctid for d in desired}
    others = leftovers(observed.containers, wanted, inventory.owned, destroyed)
    if not others:
        return
    by_ctid = {d.ctid: d for d in desired}
    kept = []
    for change in acc.changes:
        d = by_ctid.get(change.ctid)
        held = conflict(d, others, _LEFT) if d is not None else None
        if held is None:
            kept.append(change)
        else:
            acc.held.append(held)
    acc.changes[:] = kept


def _disruptive(change: Change) -> bool:
    return change.action in ("destroy", "recreate") or any(
        c.verb in ("stop", "restart") for c in change.commands
    )


def _gate_windows(acc: Acc, policy: Policy, wanted: set[int]) -> None:
    """Outside its maintenance window a destroy, recreate or stop waits (restarts were already
    left out of updates by `plan_update`, their live fields kept)."""
    kept = []
    for change in acc.changes:
        window = policy.window(change.ctid, change.ctid in wanted)
        if window is None or not _disruptive(change):
            kept.append(change)
            continue
        reason = f"{change.action}: {window}"
        acc.held.append(
            Held(ctid=change.ctid, name=change.name, kind="window", fields=change.fields,
                 reason=reason)
        )  # fmt: skip
    acc.changes[:] = kept


def dump_command(ctid: int, dump_dir: str | None) -> Command:
    """The safety-net dump: a stopped container's archive, kept until vzgitops prunes it."""
    where = ("--dumpdir", dump_dir) if dump_dir else ()
    argv = (str(ctid), "--mode", "stop", "--compress", "gzip", "--maxfiles", "0", *where)
    return Command(tool="vzdump", argv=argv)


def _dump_first(change: Change, policy: Policy) -> Change:
    """Put a vzdump right before the destroy of a destroy or recreate (when the policy asks):
    the executor stops at a failed command, so a failed dump means no destroy."""
    verbs = [c.verb for c in change.commands]
    if not policy.dump_before_destroy or "destroy" not in verbs or change.dumps_first:
        return change
    at = verbs.index("destroy")
    commands = list(change.commands)
    commands.insert(at, dump_command(change.ctid, policy.dump_dir))
    return change.model_copy(update={"commands": tuple(commands)})


def _order(changes: list[Change], bootorder: Mapping[int, int | None]) -> tuple[Change, ...]:
    """Destroys first (they free names and IPs), then by bootorder (higher first), then ctid."""

    def key(change: Change) -> tuple[int, int, int, int]:
        order = bootorder.get(change.ctid)
        return (
            0 if change.action == "destroy" else 1,
            0 if order is not None else 1,
            -(order or 0),
            change.ctid,
        )

    return tuple(sorted(changes, key=key))


def plan(
    desired: tuple[DesiredContainer, ...],
    observed: ObservedState,
    inventory: Inventory,
    policy: Policy,
    *,
    revision: str | None = None,
    node: str = "default",
    elsewhere: Mapping[int, tuple[str, str]] | None = None,
) -> Plan:
    """Desired vs observed: the ordered changes that make the node match git.

    `elsewhere`: the containers git places on other nodes (ctid -> name, node) and moves there
    with vzmigrate; one this node owns is held `moving`, never destroyed (`moves`).

    Raises ObservationIncomplete when `observed` has a listed container without a config or a
    config without a listing: what would be planned from it (a recreate, a create over a config)
    could destroy data.
    """
    check_complete(observed)
    acc = Acc()
    doomed: list[Change] = []
    wanted = {d.ctid for d in desired}
    others = strangers(observed.containers, wanted, inventory.owned)
    for d in desired:
        held = conflict(d, others)
        if held is not None:
            acc.held.append(held)
            continue
        _plan_desired(d, observed, inventory, policy, acc, doomed)
    unmanaged = []
    for ctid, have in observed.containers.items():
        if ctid in wanted or not have.listed:
            continue
        if ctid in inventory.owned:
            name = have.name or inventory.names.get(ctid) or str(ctid)
            moved = (elsewhere or {}).get(ctid)
            if moved is not None and moved[0] == name:
                acc.held.append(held_out(ctid, name, node, moved[1]))
                continue
            doomed.append(plan_destroy(ctid, name, have, "owned by vzgitops and no longer in git"))
        else:
            unmanaged.append(Unmanaged(ctid=ctid, name=have.name, status=have.status))
    _gate_destroys(doomed, inventory, policy, acc)
    _gate_windows(acc, policy, wanted)
    _gate_leftovers(desired, observed, inventory, acc)
    bootorder = {d.ctid: d.spec.bootorder for d in desired}
    return Plan(
        revision=revision,
        node=node,
        changes=_order([_dump_first(c, policy) for c in acc.changes], bootorder),
        held=tuple(sorted(acc.held, key=lambda h: h.ctid)),
        unmanaged=tuple(unmanaged),
    )
