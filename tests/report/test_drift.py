"""Pure drift computation: table-driven cases and a property (no processes)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.drift import Drift, compute_drift
from reconciler.offline import as_applied, inventory_of
from reconciler.plan import Policy, plan
from reconciler.plan.observed import ObservedContainer
from tests.report.cases import container, node, on_node


def one(observed: ObservedContainer, **spec: Any) -> Drift:
    return compute_drift((container(101, "web", **spec),), node(observed))


def fields(drift: Drift) -> list[tuple[str, str, str | None, str | None, str]]:
    return [
        (f.field, f.desired, f.saved, f.running, f.where)
        for c in drift.containers
        for f in c.fields
    ]


WEB = container(101, "web", ram="2G", cpus=2, ip=["10.0.0.1/24"], features={"nfs": True})


@pytest.mark.parametrize(
    ("observed", "expected"),
    [
        (on_node(WEB), []),
        (on_node(WEB, ram=524288 * 2), [("ram", "2G", "4G", None, "saved")]),
        (
            on_node(WEB, running={"ram": 262144}),
            [("ram", "2G", "2G", "1G", "running")],
        ),
        (
            on_node(WEB, cpus=4, running={"cpus": 4}),
            [("cpus", "2", "4", "4", "both")],
        ),
        (
            on_node(WEB, running={"ip_addresses": ("10.0.0.1", "10.0.0.9")}),
            [("ip", "10.0.0.1/24", "10.0.0.1/24", "10.0.0.1, 10.0.0.9", "running")],
        ),
        (on_node(WEB, running={"ip_addresses": ("10.0.0.1",)}), []),
        (on_node(WEB, features=(("nfs", True), ("sit", False))), []),
        (
            on_node(WEB, status="stopped"),
            [("state", "running", None, "stopped", "running")],
        ),
        (
            on_node(WEB, cpus=("unparsable", "two")),
            [("cpus", "2", "two", None, "saved")],
        ),
    ],
    ids=[
        "matches",
        "hand-edited-config",
        "set-without-save",
        "set-with-save",
        "extra-running-ip",
        "ip-without-mask-matches",
        "extra-feature-not-managed",
        "stopped-by-hand",
        "unparsable-config",
    ],
)
def test_field_drift(observed: ObservedContainer, expected: list[tuple[Any, ...]]) -> None:
    drift = compute_drift((WEB,), node(observed))
    assert fields(drift) == expected
    assert drift.clean == (expected == [])


def test_missing_and_unmanaged_are_drift() -> None:
    db = container(105, "db", state="stopped")
    gone = container(106, "gone", state="absent")
    stray = ObservedContainer(ctid=900, status="running", saved={"name": "x"})
    drift = compute_drift((WEB, db, gone), node(on_node(WEB), stray))
    assert [(m.ctid, m.desired_state) for m in drift.missing] == [(105, "stopped")]
    assert [(u.ctid, u.name, u.owned) for u in drift.unmanaged] == [(900, "x", False)]
    assert drift.counts() == {
        "checked": 1, "drifted": 0, "fields": 0, "saved_only": 0, "running_only": 0,
        "both": 0, "missing": 1, "unmanaged": 1,
    }  # fmt: skip
    assert drift.summary() == "Drift: 0 drifted (0 fields), 1 missing, 1 unmanaged."


def test_absent_container_still_on_the_node_is_state_drift() -> None:
    gone = container(106, "gone", state="absent")
    drift = compute_drift((gone,), node(on_node(gone, status="stopped")))
    assert fields(drift) == [("state", "absent", None, "stopped", "running")]


def test_clean_summary() -> None:
    drift = compute_drift((WEB,), node(on_node(WEB)))
    assert drift.summary() == "No drift: 1 containers match git."


def test_drift_agrees_with_the_planner_on_saved_values() -> None:
    """A saved difference is drift exactly when the planner would change that field."""
    observed = on_node(WEB, ram=131072, cpus=2)
    drift = compute_drift((WEB,), node(observed))
    planned = plan((WEB,), node(observed), inventory_of((WEB,)), Policy())
    assert [f.field for f in planned.changes[0].fields] == [
        f.field for c in drift.containers for f in c.fields
    ]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(min_value=101, max_value=400), min_size=0, max_size=6, unique=True),
    st.sampled_from(["running", "stopped"]),
    st.sampled_from(["512M", "1G", "2.5G"]),
)
def test_a_node_that_matches_git_has_no_drift(ctids: list[int], state: str, ram: str) -> None:
    desired = tuple(
        container(c, f"ct{c}", state=state, ram=ram, cpus=1, ip=[f"10.1.{c % 250}.1"])
        for c in ctids
    )
    drift = compute_drift(desired, as_applied(desired), inventory=inventory_of(desired))
    assert drift.clean and drift.checked == len(ctids)
