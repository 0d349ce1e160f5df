"""A node synthesised from a revision's desired state, for `vzgitops plan --offline` (pure).

In a pull request there is often no node to ask. `as_applied(base)` builds the ObservedState of
a node that matches the base revision exactly (every container present with its desired saved
values and state, owned by vzgitops), so planning the head against it shows what merging the
head would change, given that the node was converged on base. Running values are left unknown:
an offline plan never shows running-only differences. A container of base that declares
`restoreFrom` counts as restored.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.fields import desired_settings
from reconciler.plan import Inventory
from reconciler.plan.observed import ObservedContainer, ObservedState
from reconciler.spec.desired import DesiredContainer


def _present(d: DesiredContainer) -> bool:
    return d.spec.state != "absent"


def as_applied(desired: Sequence[DesiredContainer]) -> ObservedState:
    """The node as if `desired` had been applied and had converged."""
    containers = {
        d.ctid: ObservedContainer(
            ctid=d.ctid,
            status="running" if d.spec.state == "running" else "stopped",
            saved=desired_settings(d.spec, d.name),
        )
        for d in desired
        if _present(d)
    }
    return ObservedState(containers)


def inventory_of(desired: Sequence[DesiredContainer]) -> Inventory:
    """What vzgitops would own after applying `desired`: every container in it."""
    present = [d for d in desired if _present(d)]
    return Inventory(
        owned=frozenset(d.ctid for d in present),
        protected=frozenset(d.ctid for d in present if d.spec.protect),
        names={d.ctid: d.name for d in present},
        restored={d.ctid: d.spec.restoreFrom for d in present if d.spec.restoreFrom},
    )
