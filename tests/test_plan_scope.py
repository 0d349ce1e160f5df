"""What a plan covers (pure): `vzgitops suspend` holds changes as "suspended", `--target` keeps
only the targeted containers, and what suspend/resume do to the suspension they keep."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.errors import UsageError
from reconciler.plan import Plan
from reconciler.plan.observed import ObservedContainer
from reconciler.plan.scope import (
    ANY_NODE,
    SuspendedContainer,
    Suspension,
    hold_suspended,
    resolve_targets,
    restrict,
)
from tests.test_plan import container, matching, node, owned, run

WEB, DB, SPARE = (
    container(101, "web", cpus=2),
    container(102, "db", cpus=2),
    container(103, "spare"),
)


def three_changes() -> Plan:
    """web and db each change cpus; spare is created; 150 is on the node and not ours."""
    observed = node(
        matching(WEB, cpus=1),
        matching(DB, cpus=1),
        ObservedContainer(ctid=150, status="stopped", saved={"name": "stranger"}),
    )
    return run([WEB, DB, SPARE], observed, owned(101, 102))


def test_nothing_suspended_leaves_the_plan_as_it_is() -> None:
    plan = three_changes()
    assert hold_suspended(plan, Suspension()) == plan


def test_a_suspended_container_is_held_with_its_fields_and_the_rest_goes_ahead() -> None:
    plan = three_changes()
    held = hold_suspended(plan, Suspension().suspend(None, [101]))
    assert [c.ctid for c in held.changes] == [102, 103]
    [suspended] = held.held
    web = next(c for c in plan.changes if c.ctid == 101)
    assert (suspended.ctid, suspended.kind, suspended.fields) == (101, "suspended", web.fields)
    assert suspended.reason.startswith("container 101 is suspended ('vzgitops suspend')")
    assert held.summary() == "Plan: 1 to create, 1 to change, 0 to destroy, 1 held."


@pytest.mark.parametrize("where", [None, "default"])
def test_a_suspended_node_holds_every_change(where: str | None) -> None:
    held = hold_suspended(three_changes(), Suspension().suspend(where, []))
    assert held.changes == ()
    assert [(h.ctid, h.kind) for h in held.held] == [
        (101, "suspended"),
        (102, "suspended"),
        (103, "suspended"),
    ]
    assert all(h.reason.startswith("the node is suspended") for h in held.held)


def test_another_nodes_suspension_holds_nothing_here() -> None:
    suspension = Suspension().suspend("hn2", []).suspend("hn2", [101])
    assert hold_suspended(three_changes(), suspension) == three_changes()


@pytest.mark.parametrize(
    ("steps", "nodes", "containers"),
    [
        ([("suspend", None, [])], ("*",), ()),
        ([("suspend", None, [101, 102]), ("resume", None, [101])], (), ((ANY_NODE, 102),)),
        ([("suspend", "hn1", []), ("suspend", None, []), ("resume", "hn1", [])], (), ()),
        ([("suspend", "hn1", []), ("suspend", "hn2", []), ("resume", "hn2", [])], ("hn1",), ()),
        (
            [("suspend", "hn1", [7]), ("suspend", "hn2", [7]), ("resume", "hn1", [])],
            (),
            (("hn2", 7),),
        ),
        ([("suspend", None, []), ("suspend", None, [5]), ("resume", None, [5])], ("*",), ()),
        ([("suspend", None, []), ("suspend", None, [5]), ("resume", None, [])], (), ()),
        ([("resume", None, [])], (), ()),
    ],
)
def test_suspend_and_resume(
    steps: list[tuple[str, str | None, list[int]]],
    nodes: tuple[str, ...],
    containers: tuple[tuple[str, int], ...],
) -> None:
    found = Suspension()
    for verb, where, ctids in steps:
        found = getattr(found, verb)(where, ctids)
    assert found.nodes == nodes
    assert found.containers == tuple(SuspendedContainer(node=n, ctid=c) for n, c in containers)


@given(st.lists(st.integers(1, 20), max_size=6), st.sampled_from([None, "hn1"]))
def test_resume_undoes_suspend(ctids: list[int], where: str | None) -> None:
    assert Suspension().suspend(where, ctids).resume(where, ctids).empty


def test_a_partial_plan_keeps_only_its_targets_and_names_them() -> None:
    plan = restrict(three_changes(), frozenset({102, 150}))
    assert [c.ctid for c in plan.changes] == [102]
    assert [u.ctid for u in plan.unmanaged] == [150]
    assert plan.targets == (102, 150)


@pytest.mark.parametrize(
    ("words", "ctids"),
    [(["web"], {101}), (["102", "spare"], {102, 103}), (["stranger"], {150}), (["150"], {150})],
)
def test_targets_are_ctids_or_names_in_git_or_on_the_node(
    words: list[str], ctids: set[int]
) -> None:
    observed = node(ObservedContainer(ctid=150, status="stopped", saved={"name": "stranger"}))
    assert resolve_targets(words, [WEB, DB, SPARE], observed, "default") == ctids


@pytest.mark.parametrize("word", ["nosuch", "999", "\u0661\u0660\u0661"])
def test_a_target_nowhere_is_a_usage_error(word: str) -> None:
    with pytest.raises(UsageError, match=r"--target .*: no container with that CTID or name"):
        resolve_targets([word], [WEB], node(), "default")
