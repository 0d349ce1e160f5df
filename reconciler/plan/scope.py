"""What a plan covers: `--target` (a partial plan) and `vzgitops suspend` (held changes) (pure).

`reconcile.make_plan` calls these on every plan it makes, for `plan`, `apply` and the
controller alike: `hold_suspended` turns the changes of a suspended node or container into held
changes of kind "suspended" (never dropped silently), and `restrict` keeps only the targeted
containers. `Suspension` is the value `state` keeps in `suspended.json`; the CLI changes it with
`suspend`/`resume`, the controller reads it at every cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import Field

from reconciler.errors import UsageError
from reconciler.plan.model import Change, Frozen, Held, Plan
from reconciler.plan.observed import ObservedState
from reconciler.spec.desired import DesiredContainer

ANY_NODE = "*"  # suspended without --node: whichever node the state directory serves
SUSPENSION_VERSION = 1


class SuspendedContainer(Frozen):
    node: str = Field(description="Node name, or '*' when suspended without --node.")
    ctid: int = Field(description="Container ID.")


class Suspension(Frozen):
    """What `vzgitops suspend` holds: whole nodes, and single containers."""

    version: int = Field(default=SUSPENSION_VERSION, description="Format version.")
    nodes: tuple[str, ...] = Field(
        default=(), description="Suspended nodes; '*': suspended without --node."
    )
    containers: tuple[SuspendedContainer, ...] = Field(
        default=(), description="Suspended containers."
    )

    @property
    def empty(self) -> bool:
        return not self.nodes and not self.containers

    def node_suspended(self, node: str) -> bool:
        return ANY_NODE in self.nodes or node in self.nodes

    def ctids(self, node: str) -> frozenset[int]:
        return frozenset(c.ctid for c in self.containers if c.node in (ANY_NODE, node))

    def suspend(self, node: str | None, ctids: Sequence[int]) -> Suspension:
        """With `ctids`, those containers; without, the whole node."""
        where = node or ANY_NODE
        if not ctids:
            return self.model_copy(update={"nodes": tuple(sorted({*self.nodes, where}))})
        added = {*self.containers, *(SuspendedContainer(node=where, ctid=c) for c in ctids)}
        return self.model_copy(
            update={"containers": tuple(sorted(added, key=lambda c: (c.ctid, c.node)))}
        )

    def resume(self, node: str | None, ctids: Sequence[int]) -> Suspension:
        """Lift what matches: `node` None matches every node, a name matches it and '*'; no
        `ctids` lifts the node and all its containers, else only those containers."""

        def matches(where: str) -> bool:
            return node is None or where in (node, ANY_NODE)

        kept = tuple(
            c for c in self.containers if not (matches(c.node) and (not ctids or c.ctid in ctids))
        )
        nodes = self.nodes if ctids else tuple(n for n in self.nodes if not matches(n))
        return self.model_copy(update={"nodes": nodes, "containers": kept})


def _suspended(change: Change, node_wide: bool) -> Held:
    what = "the node is suspended" if node_wide else f"container {change.ctid} is suspended"
    return Held(
        ctid=change.ctid,
        name=change.name,
        kind="suspended",
        fields=change.fields,
        reason=f"{what} ('vzgitops suspend'): its {change.action} waits for 'vzgitops resume'; {change.reason}",
    )


def hold_suspended(plan: Plan, suspension: Suspension) -> Plan:
    """The plan with every change of a suspended node or container held as "suspended"."""
    node_wide = suspension.node_suspended(plan.node)
    ctids = suspension.ctids(plan.node)
    held = [c for c in plan.changes if node_wide or c.ctid in ctids]
    if not held:
        return plan
    kept = tuple(c for c in plan.changes if not (node_wide or c.ctid in ctids))
    more = tuple(_suspended(c, node_wide) for c in held)
    return plan.model_copy(
        update={"changes": kept, "held": tuple(sorted((*plan.held, *more), key=lambda h: h.ctid))}
    )


def restrict(plan: Plan, targets: frozenset[int]) -> Plan:
    """A partial plan: only the targeted containers' changes, held changes and unmanaged ones."""
    return plan.model_copy(
        update={
            "changes": tuple(c for c in plan.changes if c.ctid in targets),
            "held": tuple(h for h in plan.held if h.ctid in targets),
            "unmanaged": tuple(u for u in plan.unmanaged if u.ctid in targets),
            "targets": tuple(sorted(targets)),
        }
    )


def _lookup(
    word: str, desired: Sequence[DesiredContainer], observed: ObservedState, node: str
) -> int:
    listed = {ctid: c for ctid, c in observed.containers.items() if c.listed}
    if word.isascii() and word.isdigit():
        ctid = int(word)
        if ctid in listed or any(d.ctid == ctid for d in desired):
            return ctid
    else:
        for d in desired:
            if d.name == word:
                return d.ctid
        for ctid, have in listed.items():
            if have.name == word:
                return ctid
    raise UsageError(
        f"--target {word!r}: no container with that CTID or name in git (node {node}) or on the node"
    )


def resolve_targets(
    words: Iterable[str], desired: Sequence[DesiredContainer], observed: ObservedState, node: str
) -> frozenset[int]:
    """The CTIDs `--target` names (a CTID or a container name, in git or on the node)."""
    return frozenset(_lookup(w, desired, observed, node) for w in words)
