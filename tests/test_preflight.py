"""Pure pre-flight tests: plans checked against node facts, no processes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.plan import Plan
from reconciler.plan.facts import FactsUnknown, NodeFacts, arch_refusal, template_names
from reconciler.plan.observed import ObservedState
from reconciler.plan.preflight import needs_facts, preflight
from reconciler.spec.desired import DesiredContainer
from tests.test_plan import container, matching, node, run

G = 1 << 30
FACTS = NodeFacts(
    arch="x86_64",
    cpus=4,
    ram=8 * G,
    swap=2 * G,
    disk_free=100 * (1 << 20),  # KiB: 100G
    template_dir="/vz/template",
    templates=frozenset({"debian-12.0-x86_64-minimal", "centos-6-x86"}),
    ploop=True,
    ve_layout="simfs",  # as the simulated node's vz.conf (vzctl's default is ploop)
)


def checked(
    desired: list[DesiredContainer],
    observed: ObservedState,
    facts: NodeFacts | FactsUnknown | None = FACTS,
    overcommit: float | None = None,
) -> Plan:
    return preflight(run(desired, observed), tuple(desired), observed, facts, overcommit)


def reasons(p: Plan) -> dict[int, str]:
    return {h.ctid: h.reason for h in p.held if h.kind == "preflight"}


@pytest.mark.parametrize(
    ("spec", "facts", "reason"),
    [
        (
            {"ostemplate": "fedora-39-x86_64"},
            FACTS,
            "ostemplate: OS template cache fedora-39-x86_64 is not in /vz/template/cache on the node "
            "(vzctl create would exit 91); put fedora-39-x86_64.tar.gz there or run "
            "'vztmpl-dl fedora-39-x86_64'",
        ),
        (
            {},
            replace(FACTS, arch="i686"),
            "ostemplate: OS template debian-12.0-x86_64-minimal is 64-bit (x86_64) but the node is "
            "32-bit (i686)",
        ),
        ({"cpus": 8}, FACTS, "cpus: 8 is more than the node's 4 CPUs"),
        (
            {"cpumask": "0-1,6-7"},
            FACTS,
            "cpumask: 0-1,6-7 names CPUs 6, 7, but the node has CPUs 0-3 only",
        ),
        (
            {"ram": "9G", "swap": "0"},
            FACTS,
            "it needs 9G more RAM but the node has 8G (free -b) and its containers take 0B",
        ),
        (
            {"ram": "1G", "swap": "3G"},
            FACTS,
            "it needs 3G more swap but the node has 2G (free -b) and its containers take 0B",
        ),
        (
            {"diskspace": "200G"},
            FACTS,
            "it needs 200G more disk space but the node has 100G (df) and its containers take 0",
        ),
    ],
)
def test_a_create_the_node_cannot_take_is_held_with_the_reason(
    spec: dict[str, Any], facts: NodeFacts, reason: str
) -> None:
    p = checked([container(**spec)], node(), facts)
    assert p.changes == ()
    assert reasons(p) == {101: reason}
    assert p.summary() == "Plan: 0 to create, 0 to change, 0 to destroy, 1 held."


@pytest.mark.parametrize(
    ("arch", "template", "refused"),
    [
        ("x86_64", "centos-6-x86", False),
        ("x86_64", "centos-7-x86_64", False),
        ("amd64", "centos-7-amd64", False),
        ("i686", "centos-6-x86", False),
        ("i386", "ubuntu-22.04-amd64", True),
        ("i586", "centos-7-x86_64-minimal", True),
        ("i686", "mytemplate", False),  # names no arch: not judged
        ("aarch64", "centos-7-x86_64", False),  # another architecture: not judged
    ],
)
def test_template_arch_against_node_arch(arch: str, template: str, refused: bool) -> None:
    assert (arch_refusal(template, arch) is not None) == refused


def test_template_names_come_from_the_four_suffixes_vzctl_tries() -> None:
    listing = ["a.tar", "b.tar.gz", "c.tar.bz2", "d.tar.xz", "e.zip", ".tar.gz", "f.tar.gz.asc"]
    assert template_names(listing) == frozenset({"a", "b", "c", "d"})


def test_what_fits_applies_and_the_first_change_over_capacity_is_held() -> None:
    """In plan order: 101 and 102 fit in 8G, 103 does not; 104 (small) still fits after it."""
    desired = [
        container(101, "a", ram="3G", swap="0"),
        container(102, "b", ram="4G", swap="0"),
        container(103, "c", ram="2G", swap="0"),
        container(104, "d", ram="1G", swap="0"),
    ]
    p = checked(desired, node())
    assert [c.ctid for c in p.changes] == [101, 102, 104]
    assert list(reasons(p)) == [103]
    assert "its containers take 7G" in reasons(p)[103]


def test_stopped_containers_take_no_ram_but_their_disk_counts_once() -> None:
    stopped = container(101, "a", ram="6G", swap="0", state="stopped")
    new = container(102, "b", ram="6G", swap="0", diskspace="50G")
    p = checked([stopped, new], node(matching(stopped, status="stopped")))
    assert [c.ctid for c in p.changes] == [102]


def test_starting_a_stopped_container_needs_its_ram() -> None:
    running = container(101, "a", ram="6G", swap="0")
    was_stopped = container(102, "b", ram="4G", swap="0")
    observed = node(matching(running), matching(was_stopped, status="stopped"))
    p = checked([running, was_stopped], observed)
    assert [c.action for c in run([running, was_stopped], observed).changes] == ["start"]
    assert p.changes == ()
    assert "it needs 4G more RAM" in reasons(p)[102]


def test_lowering_a_limit_frees_room_for_a_raise_in_the_same_plan() -> None:
    shrinking = container(101, "a", ram="2G", swap="0")
    growing = container(102, "b", ram="6G", swap="0")
    observed = node(matching(shrinking, ram=1572864), matching(growing, ram=524288))  # 6G, 2G
    p = checked([shrinking, growing], observed)
    assert sorted(c.ctid for c in p.changes) == [101, 102]
    assert p.held == ()


def test_an_unmanaged_container_takes_capacity_too() -> None:
    stranger = replace(matching(container(150, "x", ram="7G", swap="0")), saved={"ram": 1835008})
    p = checked([container(101, "a", ram="2G", swap="0")], node(stranger))
    assert "its containers take 7G" in reasons(p)[101]


@pytest.mark.parametrize(("ratio", "held"), [(None, []), (2.0, [103]), (3.0, [])])
def test_cpu_overcommit_ratio_bounds_the_running_cpus(ratio: float | None, held: list[int]) -> None:
    desired = [container(101 + n, f"c{n}", cpus=4) for n in range(3)]  # 12 CPUs on 4
    p = checked(desired, node(), overcommit=ratio)
    assert list(reasons(p)) == held


def test_unlimited_values_are_not_counted() -> None:
    p = checked([container(ram="unlimited", swap="unlimited", diskspace="unlimited")], node())
    assert p.held == ()


NO_PLOOP = replace(FACTS, ploop=False)


@pytest.mark.parametrize(
    ("spec", "facts", "held"),
    [
        ({"layout": "ploop"}, NO_PLOOP, "layout: ploop, but the kernel has no ploop"),
        ({}, replace(NO_PLOOP, ve_layout="ploop"), "layout: not set, so vzctl create makes ploop"
         " (VE_LAYOUT=ploop in the node's vz.conf), but the kernel has no ploop"),
        ({}, replace(NO_PLOOP, ve_layout=None), "layout: not set, so vzctl create makes ploop"
         " (its default: the node's vz.conf sets no VE_LAYOUT), but the kernel has no ploop"),
        ({}, replace(NO_PLOOP, ve_layout="ploop:expanded"), "(VE_LAYOUT=ploop:expanded in"),
        ({"layout": "simfs"}, replace(NO_PLOOP, ve_layout="ploop"), None),
        ({}, NO_PLOOP, None),  # VE_LAYOUT=simfs
        ({"layout": "ploop"}, replace(FACTS, ploop=None), None),  # not asked: not judged
        ({"diskspace": "17T"}, replace(FACTS, ve_layout="ploop"), "diskspace: layout: not set,"
         " so vzctl create makes ploop (VE_LAYOUT=ploop in the node's vz.conf), and a ploop image"
         " is at most 16T (vzctl create would exit 151); write at most 16T, or spec.layout: simfs"),
        ({"diskinodes": "unlimited"}, replace(FACTS, ve_layout=None), "diskinodes: layout: not"
         " set, so vzctl create makes ploop (its default"),
        ({"diskspace": "16T", "diskinodes": 1 << 30}, replace(FACTS, ve_layout="ploop"), None),
        ({"diskspace": "unlimited"}, FACTS, None),
    ],
)  # fmt: skip
def test_a_create_the_node_would_make_ploop_needs_ploop_there(
    spec: dict[str, Any], facts: NodeFacts, held: str | None
) -> None:
    p = checked([container(**spec)], node(), replace(facts, disk_free=1 << 60))
    if held is None:
        assert reasons(p) == {}
    else:
        assert held in reasons(p)[101]
        assert "spec.layout: simfs" in reasons(p)[101]


def test_an_arriving_container_keeps_its_layout() -> None:
    d = container(layout="ploop")
    plan = run([d], node())
    p = preflight(plan, (d,), node(), NO_PLOOP, None, frozenset({101}))
    assert reasons(p) == {}


def test_a_ploop_container_is_not_resized_past_16t_with_or_without_facts() -> None:
    before, after = container(diskspace="10G"), container(diskspace="1G:unlimited")
    observed = node(matching(before, layout="ploop"))
    for facts in (FACTS, None):
        p = checked([after], observed, facts)
        assert reasons(p) == {
            101: "diskspace: the container is ploop (VE_LAYOUT in its config) and vzctl set "
            "resizes its image to the hard limit, at most 16T (it would exit 154); write at most 16T"
        }
    assert reasons(checked([after], node(matching(before, layout="simfs")), None)) == {}


def test_unknown_facts_hold_what_needs_them_and_nothing_else() -> None:
    same = container(101, "a", ram="1G", description="x")
    observed = node(matching(same, description="old"), *())
    desired = [same, container(102, "b")]
    p = checked(desired, observed, FactsUnknown("pre-flight could not ask the node: nproc failed"))
    assert [c.ctid for c in p.changes] == [101]  # a description needs no node
    assert reasons(p) == {102: "pre-flight could not ask the node: nproc failed"}


def test_offline_runs_only_the_node_free_checks() -> None:
    desired = [container(101, "a", hostname="w.lan"), container(102, "b", hostname="W.lan")]
    p = checked(desired, node(), None)
    assert [c.ctid for c in p.changes] == [101, 102]
    assert p.warnings == ("hostname w.lan is used by containers 101 (a), 102 (b)",)


def test_a_hostname_an_unmanaged_container_has_is_warned_about() -> None:
    stranger = replace(matching(container(150, "x")), saved={"hostname": "web.lan"})
    p = checked([container(101, "a", hostname="web.lan")], node(stranger))
    assert p.warnings == ("hostname web.lan is used by containers 101 (a), 150",)
    assert [c.ctid for c in p.changes] == [101]


def test_a_converged_node_needs_no_facts() -> None:
    d = container(ram="2G", cpus=2, cpumask="0-1")
    observed = node(matching(d))
    assert not needs_facts(run([d], observed), (d,), observed)
    assert needs_facts(run([d], node()), (d,), node())


@settings(max_examples=60, deadline=None)
@given(
    rams=st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=6),
    cpus=st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=6),
)
def test_what_pre_flight_lets_through_fits_the_node(rams: list[int], cpus: list[int]) -> None:
    """For any fleet of creates: the kept changes fit in RAM and CPUs, every create is either
    kept or held, and a held one would not have fitted on top of the kept ones before it."""
    desired = [
        container(101 + n, f"c{n}", ram=f"{ram}G", swap="0", cpus=cpus[n % len(cpus)])
        for n, ram in enumerate(rams)
    ]
    p = checked(desired, node(), overcommit=1.0)
    by_ctid = {d.ctid: d for d in desired}
    kept = [by_ctid[c.ctid] for c in p.changes]
    assert sum(int(str(d.spec.ram)[:-1]) for d in kept) * G <= FACTS.ram
    assert sum(d.spec.cpus or 0 for d in kept) <= FACTS.cpus
    assert {c.ctid for c in p.changes} | set(reasons(p)) == set(by_ctid)
