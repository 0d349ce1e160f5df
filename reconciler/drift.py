"""Drift: the node compared with the desired state it was last given (pure).

Called by `vzgitops drift` and by the controller's scheduled drift check. Planning asks "what
would make the node match git"; drift asks "where does the node differ from what was applied",
and it answers per container and field with all three values: the desired one, the one saved in
`CTID.conf` and the one the running container uses. A `vzctl set` without `--save` changes only
the running value and a hand edit of `CTID.conf` only the saved one; both are drift.

Each field is compared by the planner's own comparison (`plan.diff.compare`: the canonical forms
of `fields/`, running values as the kernel rounds them), so drift and plan can never disagree
about what "equal" means. No I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from reconciler.fields import Canon, desired_settings
from reconciler.plan import Inventory
from reconciler.plan.diff import Where, compare, running_value, show
from reconciler.plan.diff import live_value as field_live_value
from reconciler.plan.observed import ObservedContainer, ObservedState
from reconciler.spec.desired import DesiredContainer

DRIFT_FORMAT = 1
STATE_FIELD = "state"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldDrift(Frozen):
    """One field whose saved or running value differs from the desired one."""

    field: str = Field(description="Spec field name; `state` for running/stopped.")
    desired: str = Field(description="Value in git (the last applied revision).")
    saved: str | None = Field(description="Value in CTID.conf; None when unset or not stored.")
    running: str | None = Field(
        description="Value the running container uses; None when stopped or not observable."
    )
    where: Where = Field(description="Which value differs from git: saved, running or both.")


class ContainerDrift(Frozen):
    ctid: int = Field(description="Container ID.")
    name: str = Field(description="Container name in git.")
    status: str = Field(description="Status on the node (running, stopped, ...).")
    fields: tuple[FieldDrift, ...] = Field(description="Drifted fields, in field-table order.")


class MissingContainer(Frozen):
    ctid: int = Field(description="Container ID.")
    name: str = Field(description="Container name in git.")
    desired_state: str = Field(description="State in git: running or stopped.")


class ExtraContainer(Frozen):
    ctid: int = Field(description="Container ID.")
    name: str | None = Field(description="vzctl name, if any.")
    status: str = Field(description="Status on the node.")
    owned: bool = Field(
        description="vzgitops created or adopted it (then git removed it); False: never managed."
    )


class Drift(Frozen):
    """Every difference between the node and the desired state, as one value."""

    format_version: int = Field(default=DRIFT_FORMAT, description="Drift format version.")
    node: str = Field(default="default", description="Node name.")
    revision: str | None = Field(
        default=None, description="Git commit of the desired state compared against."
    )
    checked: int = Field(default=0, description="Containers in git that are on the node.")
    containers: tuple[ContainerDrift, ...] = Field(
        default=(), description="Containers with drifted fields, by ctid."
    )
    missing: tuple[MissingContainer, ...] = Field(
        default=(), description="Containers in git that are not on the node."
    )
    unmanaged: tuple[ExtraContainer, ...] = Field(
        default=(), description="Containers on the node that are not in git."
    )
    running_known: bool = Field(
        default=True, description="False when running values could not be read (vzlist fallback)."
    )

    @property
    def clean(self) -> bool:
        return not (self.containers or self.missing or self.unmanaged)

    def counts(self) -> dict[str, int]:
        """Metrics-friendly counts (gauges); keys are stable."""
        fields = [f for c in self.containers for f in c.fields]
        return {
            "checked": self.checked,
            "drifted": len(self.containers),
            "fields": len(fields),
            "saved_only": sum(1 for f in fields if f.where == "saved"),
            "running_only": sum(1 for f in fields if f.where == "running"),
            "both": sum(1 for f in fields if f.where == "both"),
            "missing": len(self.missing),
            "unmanaged": len(self.unmanaged),
        }

    def summary(self) -> str:
        """`Drift: 1 drifted (2 fields), 0 missing, 0 unmanaged.`; a public interface."""
        if self.clean:
            return f"No drift: {self.checked} containers match git."
        c = self.counts()
        return (
            f"Drift: {c['drifted']} drifted ({c['fields']} fields), "
            f"{c['missing']} missing, {c['unmanaged']} unmanaged."
        )


# ---- one container ---------------------------------------------------------------------------


def _show_running(name: str, value: Canon) -> str | None:
    if name == "ip" and value is not None:
        return ", ".join(value) or "(none)"
    return show(name, value)


def _field_drift(name: str, want: Canon, have: ObservedContainer) -> FieldDrift | None:
    where = compare(name, want, have)
    if where is None:
        return None
    return FieldDrift(
        field=name,
        desired=show(name, want) or "",
        saved=show(name, have.saved.get(name)),
        running=_show_running(name, running_value(name, have.running)),
        where=where,
    )


def live_value(name: str, want: Canon, have: ObservedContainer) -> Canon:
    """The canonical value in effect on the node (for `drift --adopt`); `state` included."""
    if name == STATE_FIELD:
        return "running" if have.is_running else "stopped"
    return field_live_value(name, want, have)


def _state_drift(d: DesiredContainer, have: ObservedContainer) -> FieldDrift | None:
    want = d.spec.state
    if want != "absent" and (want == "running") == have.is_running:
        return None
    return FieldDrift(
        field=STATE_FIELD,
        desired=want,
        saved=None,
        running=have.status,
        where="running",
    )


def container_drift(d: DesiredContainer, have: ObservedContainer) -> ContainerDrift | None:
    """The drifted fields of one container that is on the node, or None when it matches."""
    found = [_state_drift(d, have)]
    if d.spec.state != "absent":
        want = desired_settings(d.spec, d.name)
        found += [_field_drift(name, value, have) for name, value in want.items()]
    fields = tuple(f for f in found if f is not None)
    if not fields:
        return None
    return ContainerDrift(ctid=d.ctid, name=d.name, status=have.status, fields=fields)


# ---- the whole node --------------------------------------------------------------------------


def _extras(
    wanted: set[int], observed: ObservedState, inventory: Inventory | None
) -> tuple[ExtraContainer, ...]:
    owned = inventory.owned if inventory is not None else frozenset()
    return tuple(
        ExtraContainer(ctid=ctid, name=have.name, status=have.status, owned=ctid in owned)
        for ctid, have in sorted(observed.containers.items())
        if ctid not in wanted and have.listed
    )


def compute_drift(
    desired: Sequence[DesiredContainer],
    observed: ObservedState,
    *,
    inventory: Inventory | None = None,
    revision: str | None = None,
    node: str = "default",
) -> Drift:
    """The node against `desired` (one node's containers, e.g. `DesiredState.for_node`)."""
    drifted: list[ContainerDrift] = []
    missing: list[MissingContainer] = []
    checked = 0
    for d in sorted(desired, key=lambda c: c.ctid):
        have = observed.containers.get(d.ctid)
        if have is None or not have.listed:
            if d.spec.state != "absent":
                missing.append(
                    MissingContainer(ctid=d.ctid, name=d.name, desired_state=d.spec.state)
                )
            continue
        checked += 1
        found = container_drift(d, have)
        if found is not None:
            drifted.append(found)
    return Drift(
        node=node,
        revision=revision,
        checked=checked,
        containers=tuple(drifted),
        missing=tuple(missing),
        unmanaged=_extras({d.ctid for d in desired}, observed, inventory),
        running_known=observed.running_known,
    )
