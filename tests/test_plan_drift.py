"""Plan and drift agree (pure, hypothesis): both come from one per-field comparison.

The observed states are what the simulated node shows for a container that was applied from
git: the saved values as vzctl wrote them and the running values as vzlist reads them back
through the kernel (cpuunits and cpulimit rounded as in `vzsim.kernel`), optionally
with hand changes on top (`vzctl set --save`, `vzctl set` without --save, a stop or start).
If the planner has nothing to do, there is no drift; a hand change the planner would correct
is drift.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.drift import compute_drift
from reconciler.fields import desired_settings
from reconciler.offline import inventory_of
from reconciler.plan import Plan, Policy, plan
from reconciler.plan.observed import ObservedContainer, ObservedState
from reconciler.spec.desired import DesiredContainer
from tests.report.cases import container
from vzsim.kernel import fairsched_cpulimit, fairsched_cpuunits

RAM = ("256M", "512M", "1G", "2.5G")
IPS = ("10.0.0.1/24", "10.0.0.2", "10.0.1.7/16", "fd00::5/64")


@st.composite
def desired_containers(draw: st.DrawFn, ctid: int) -> DesiredContainer:
    spec: dict[str, Any] = {"state": draw(st.sampled_from(["running", "stopped"]))}
    optional: dict[str, st.SearchStrategy[Any]] = {
        "ram": st.sampled_from(RAM),
        "cpus": st.integers(1, 8),
        "cpuunits": st.integers(8, 500000),
        "cpulimit": st.integers(0, 800),
        "ip": st.lists(st.sampled_from(IPS), max_size=3, unique=True),
    }
    for name, values in optional.items():
        if draw(st.booleans()):
            spec[name] = draw(values)
    return container(ctid, f"ct{ctid}", **spec)


def kernel_readback(want: dict[str, Any]) -> dict[str, Any]:
    """The running values vzlist shows for a container started from `want` (the sim's kernel)."""
    live: dict[str, Any] = {}
    if "cpus" in want:
        live["cpus"] = want["cpus"]
    live["cpuunits"] = fairsched_cpuunits(want.get("cpuunits", 1000))
    if want.get("cpulimit"):
        live["cpulimit"] = fairsched_cpulimit(want["cpulimit"])
    if "ram" in want:
        live["ram"] = want["ram"]
    live["ip_addresses"] = tuple(sorted(ip.split("/")[0] for ip in want.get("ip", ())))
    return live


HAND_CHANGES = st.sampled_from(
    [
        ("saved", "cpus", 16),
        ("saved", "cpuunits", 4321),
        ("saved", "ram", 1000),
        ("saved", "ip", ("10.9.9.9",)),
        ("running", "cpus", 16),
        ("running", "cpuunits", 4321),
        ("running", "cpulimit", 77),
        ("running", "ram", 1000),
        ("running", "ip_addresses", ("10.9.9.9",)),
        ("both", "cpus", 16),
        ("both", "cpuunits", 4321),
        ("status", "toggle", None),
    ]
)


def observed_as_applied(
    d: DesiredContainer, hand: tuple[str, str, Any] | None
) -> ObservedContainer:
    saved = desired_settings(d.spec, d.name)
    running = d.spec.state == "running"
    live = kernel_readback(saved)
    if hand is not None:
        where, name, value = hand
        if where == "status":
            running = not running
            live = kernel_readback(saved)
        if where in ("saved", "both"):
            saved[name] = value
        if where in ("running", "both"):
            live[name] = value
    return ObservedContainer(
        ctid=d.ctid,
        status="running" if running else "stopped",
        saved=saved,
        running=live if running else None,
    )


def acted_on(planned: Plan) -> set[int]:
    return {c.ctid for c in planned.changes} | {h.ctid for h in planned.held}


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_plan_and_drift_agree_on_every_container(data: st.DataObject) -> None:
    ctids = data.draw(st.lists(st.integers(101, 130), min_size=1, max_size=4, unique=True))
    desired = tuple(data.draw(desired_containers(ctid)) for ctid in ctids)
    hands = {d.ctid: data.draw(st.none() | HAND_CHANGES) for d in desired}
    observed = ObservedState({d.ctid: observed_as_applied(d, hands[d.ctid]) for d in desired})
    planned = plan(desired, observed, inventory_of(desired), Policy())
    drift = compute_drift(desired, observed, inventory=inventory_of(desired))
    if planned.empty and not planned.held:
        assert drift.clean, drift
    assert acted_on(planned) == {c.ctid for c in drift.containers}


@settings(max_examples=200, deadline=None)
@given(desired_containers(101))
def test_a_node_as_the_kernel_shows_it_has_no_changes_and_no_drift(d: DesiredContainer) -> None:
    observed = ObservedState({101: observed_as_applied(d, None)})
    planned = plan((d,), observed, inventory_of((d,)), Policy())
    assert planned.empty and not planned.held, planned
    assert compute_drift((d,), observed).clean
