"""Fixed plans and drifts for the renderer tests (pure, deterministic: fake shas, no clock)."""

from __future__ import annotations

from typing import Any

from reconciler.drift import Drift, compute_drift
from reconciler.fields import desired_settings
from reconciler.plan import Inventory, Plan, Policy, plan
from reconciler.plan.observed import ObservedContainer, ObservedState
from reconciler.report import CommitInfo
from reconciler.spec.desired import DesiredContainer, Origin
from reconciler.spec.models import ContainerSpec

BASE = CommitInfo(sha="a" * 40, ref="main", subject="Base: three web containers")
HEAD = CommitInfo(sha="b" * 40, ref="feature/bigger", subject="Bigger web, new db | cache")


def container(ctid: int, name: str, node: str = "default", **spec: Any) -> DesiredContainer:
    values: dict[str, Any] = {"ctid": ctid, "ostemplate": "debian-12.0-x86_64-minimal", **spec}
    return DesiredContainer(
        name=name,
        node=node,
        spec=ContainerSpec.model_validate(values),
        origin=Origin(path=f"containers/{name}.yaml", line=1),
    )


def on_node(
    d: DesiredContainer,
    status: str = "running",
    running: dict[str, Any] | None = None,
    **saved: Any,
) -> ObservedContainer:
    values = desired_settings(d.spec, d.name)
    values.update(saved)
    live = running if running is not None else ({} if status == "running" else None)
    return ObservedContainer(ctid=d.ctid, status=status, saved=values, running=live)


def node(*containers: ObservedContainer) -> ObservedState:
    return ObservedState({c.ctid: c for c in containers})


def mixed_plan(name: str = "default", revision: str | None = HEAD.sha) -> Plan:
    """Create, live update, restart-class update, recreate, destroy, held and unmanaged."""
    web = container(101, "web", ram="4G", cpus=4, ip=["10.0.0.101/24"], hostname="web.lan")
    app = container(102, "app", features={"nfs": True}, netfilter="full")
    old = container(103, "old", ostemplate="centos-7-x86_64", allowRecreate=True)
    pinned = container(104, "pinned", ostemplate="centos-7-x86_64")
    db = container(105, "db", ram="8G", diskspace="100G", description="primary | <db>")
    gone = container(106, "gone")
    observed = node(
        on_node(web, ram=262144, cpus=2, ip=("10.0.0.100/24",)),
        on_node(app, features=(("nfs", False),), netfilter="stateless"),
        on_node(old, ostemplate="debian-12.0-x86_64-minimal"),
        on_node(pinned, status="stopped", ostemplate="debian-12.0-x86_64-minimal"),
        on_node(gone),
        ObservedContainer(ctid=900, status="running", saved={"name": "handmade"}, running={}),
    )
    owned = Inventory(owned=frozenset({101, 102, 103, 104, 106}))
    desired = (web, app, old, pinned, db)
    return plan(desired, observed, owned, Policy(prune=True), revision=revision, node=name)


def empty_plan(name: str = "default") -> Plan:
    web = container(101, "web", ram="4G")
    return plan((web,), node(on_node(web)), Inventory(owned=frozenset({101})), Policy(), node=name)


def held_plan() -> Plan:
    """Nothing to do but a destroy held back (no prune): the node does not match git."""
    web = container(101, "web", ram="4G")
    gone = container(106, "gone")
    owned = Inventory(owned=frozenset({101, 106}))
    return plan((web,), node(on_node(web), on_node(gone)), owned, Policy(), revision=HEAD.sha)


def mixed_drift() -> Drift:
    """Saved-only, running-only, both, a stopped container, missing and unmanaged."""
    web = container(101, "web", ram="4G", cpus=4, ip=["10.0.0.101/24"])
    app = container(102, "app", cpuunits=1000, onboot=True)
    db = container(105, "db")
    observed = node(
        on_node(web, running={"ram": 262144, "cpus": 4, "ip_addresses": ("10.0.0.101",)}),
        on_node(app, status="stopped", cpuunits=2000, onboot=False),
        ObservedContainer(ctid=900, status="running", saved={"name": "handmade"}, running={}),
        ObservedContainer(ctid=106, status="stopped", saved={"name": "gone"}),
    )
    owned = Inventory(owned=frozenset({101, 102, 105, 106}))
    return compute_drift((web, app, db), observed, inventory=owned, revision=BASE.sha)


def clean_drift() -> Drift:
    web = container(101, "web", ram="4G")
    return compute_drift((web,), node(on_node(web)), revision=BASE.sha)
