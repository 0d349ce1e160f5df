"""Pure planner tests: table-driven cases and properties, no processes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.fields import desired_settings, saved_settings
from reconciler.plan import Inventory, Plan, Policy, plan
from reconciler.plan.observed import ObservedContainer, ObservedState
from reconciler.spec.desired import DesiredContainer, Origin
from reconciler.spec.models import ContainerSpec


def container(ctid: int = 101, name: str = "web", **spec: Any) -> DesiredContainer:
    values: dict[str, Any] = {"ctid": ctid, "ostemplate": "debian-12.0-x86_64-minimal", **spec}
    return DesiredContainer(
        name=name,
        node="default",
        spec=ContainerSpec.model_validate(values),
        origin=Origin(path=f"{name}.yaml", line=1),
    )


def matching(
    d: DesiredContainer, status: str = "running", **conf_overrides: Any
) -> ObservedContainer:
    saved = desired_settings(d.spec, d.name)
    saved.update(conf_overrides)
    return ObservedContainer(ctid=d.ctid, status=status, saved=saved)


def node(*containers: ObservedContainer) -> ObservedState:
    return ObservedState({c.ctid: c for c in containers})


def owned(*ctids: int, protected: tuple[int, ...] = ()) -> Inventory:
    return Inventory(owned=frozenset(ctids), protected=frozenset(protected))


def run(
    desired: list[DesiredContainer],
    observed: ObservedState,
    inventory: Inventory | None = None,
    **policy: Any,
) -> Plan:
    inv = inventory if inventory is not None else owned(*observed.containers)
    return plan(tuple(desired), observed, inv, Policy(**policy))


DUMP_101 = ("101", "--mode", "stop", "--compress", "gzip", "--maxfiles", "0")


def argvs(p: Plan) -> list[tuple[str, ...]]:
    return [c.argv for ch in p.changes for c in ch.commands]


def test_converged_node_gives_empty_plan() -> None:
    d = container(ram="2G", cpus=2, ip=["192.168.10.101"], hostname="web.lan")
    p = run([d], node(matching(d)))
    assert p.empty
    assert p.summary() == "Plan: 0 to create, 0 to change, 0 to destroy."


def test_new_container_is_created_set_and_started() -> None:
    d = container(
        hostname="web.lan", ip=["192.168.10.101"], ram="2G", swap="512M", cpus=2, diskspace="20G"
    )
    p = run([d], node())
    assert [c.action for c in p.changes] == ["create"]
    commands = argvs(p)
    assert commands[0][:2] == ("create", "101")
    assert commands[0][2:4] == ("--ostemplate", "debian-12.0-x86_64-minimal")
    assert "--name" in commands[0] and "--ipadd" in commands[0] and "--diskspace" in commands[0]
    assert commands[1][:2] == ("set", "101") and commands[1][-1] == "--save"
    assert "--ram" in commands[1] and "--cpus" in commands[1]
    assert commands[2] == ("start", "101")
    assert p.summary() == "Plan: 1 to create, 0 to change, 0 to destroy."


def test_one_changed_field_is_one_set_call() -> None:
    d = container(cpus=2, ram="2G")
    have = matching(container(cpus=1, ram="2G"))
    p = run([d], node(have))
    assert argvs(p) == [("set", "101", "--cpus", "2", "--save")]
    (change,) = p.changes
    assert [(f.field, f.before, f.after, f.change_class) for f in change.fields] == [
        ("cpus", "1", "2", "live")
    ]


def test_all_changed_settings_go_in_one_set_call() -> None:
    d = container(cpus=4, cpulimit=400, hostname="new.lan", ram="4G")
    have = matching(container(cpus=1, cpulimit=100, hostname="old.lan", ram="1G"))
    p = run([d], node(have))
    sets = [a for a in argvs(p) if a[0] == "set"]
    assert len(sets) == 1
    assert {"--cpus", "--cpulimit", "--hostname", "--ram"} <= set(sets[0])


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("2048M", "0:524288"),
        ("2G", "0:2G"),
        ("2.5G", "0:655360"),
        ("unlimited", "0:unlimited"),
        ("2147483648B", "0:524288"),
        ("524288P", "0:524288"),
    ],
)
def test_memory_units_normalise_to_pages(written: Any, stored: str) -> None:
    d = container(ram=written)
    saved = saved_settings(
        {"PHYSPAGES": stored, "NAME": "web", "OSTEMPLATE": "debian-12.0-x86_64-minimal"}, 101
    )
    p = run([d], node(ObservedContainer(ctid=101, status="running", saved=saved)))
    assert p.empty, p


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("20G", "20971520:20971520"),
        ("2G:2.2G", "2G:2.2G"),
        ("2G:2.2G", "2097152:2306867"),
        ("1048576K", "1G:1G"),
    ],
)
def test_disk_units_normalise_to_kib(written: Any, stored: str) -> None:
    d = container(diskspace=written)
    saved = saved_settings(
        {"DISKSPACE": stored, "NAME": "web", "OSTEMPLATE": "debian-12.0-x86_64-minimal"}, 101
    )
    assert run([d], node(ObservedContainer(ctid=101, status="running", saved=saved))).empty


def test_ip_order_and_spelling_do_not_matter() -> None:
    d = container(ip=["192.168.10.102", "2001:db8::0001", "192.168.10.101/24"])
    saved = saved_settings(
        {
            "IP_ADDRESS": "192.168.10.101/24 2001:db8::1 192.168.10.102",
            "NAME": "web",
            "OSTEMPLATE": "debian-12.0-x86_64-minimal",
        },
        101,
    )
    assert run([d], node(ObservedContainer(ctid=101, status="running", saved=saved))).empty


def test_ip_changes_delete_and_add_only_the_difference() -> None:
    d = container(ip=["10.0.0.1", "10.0.0.3/24"])
    have = matching(container(ip=["10.0.0.1", "10.0.0.2", "10.0.0.3"]))
    (argv,) = argvs(run([d], node(have)))
    assert argv == ("set", "101", "--ipdel", "10.0.0.2", "--ipadd", "10.0.0.3/24", "--save")


def test_state_changes() -> None:
    d_run = container(state="running")
    d_stop = container(ctid=102, name="db", state="stopped")
    p = run([d_run, d_stop], node(matching(d_run, "stopped"), matching(d_stop, "running")))
    assert argvs(p) == [("start", "101"), ("stop", "102")]
    assert [c.action for c in p.changes] == ["start", "stop"]


def test_restart_class_change_restarts_a_running_container() -> None:
    d = container(features={"nfs": True})
    p = run([d], node(matching(container(features={"nfs": False}))))
    assert argvs(p) == [("set", "101", "--features", "nfs:on", "--save"), ("restart", "101")]
    assert p.changes[0].restarts


def test_restart_never_leaves_the_change_pending() -> None:
    d = container(netfilter="full", restart="never", cpus=2)
    p = run([d], node(matching(container(netfilter="stateless", cpus=1))))
    assert argvs(p) == [("set", "101", "--cpus", "2", "--save")]
    assert [h.kind for h in p.held] == ["pending-restart"]


def test_restart_class_on_a_stopped_container_needs_no_restart() -> None:
    d = container(state="stopped", capability={"net_admin": True})
    p = run([d], node(matching(container(state="stopped"), "stopped")))
    assert argvs(p) == [("set", "101", "--capability", "net_admin:on", "--save")]


def test_recreate_is_refused_unless_allowed() -> None:
    d = container(ostemplate="ubuntu-22.04-x86_64")
    p = run([d], node(matching(container())))
    assert p.empty and [h.kind for h in p.held] == ["needs-recreate"]
    allowed = container(ostemplate="ubuntu-22.04-x86_64", allowRecreate=True)
    p = run([allowed], node(matching(container())))
    assert [c.action for c in p.changes] == ["recreate"]
    assert [c.verb for ch in p.changes for c in ch.commands] == [
        "stop", "vzdump", "destroy", "create", "start"
    ]  # fmt: skip


def test_unowned_containers_are_never_touched() -> None:
    d = container(cpus=4)
    have = matching(container(cpus=1))
    p = run([d], node(have), inventory=owned(), prune=True)
    assert p.empty and [h.kind for h in p.held] == ["unowned"]
    stranger = ObservedContainer(ctid=555, status="running", saved={"name": "hand"})
    p = run([], node(stranger), inventory=owned(), prune=True, allow_mass_destroy=True)
    assert p.empty and [u.ctid for u in p.unmanaged] == [555]


def test_destroy_needs_prune() -> None:
    gone = matching(container(ctid=101))
    keep = [container(ctid=100 + i, name=f"c{i}") for i in range(2, 12)]
    observed = node(gone, *(matching(k) for k in keep))
    p = run(keep, observed)
    assert p.empty and [h.kind for h in p.held] == ["destroy-held"]
    p = run(keep, observed, prune=True)
    assert argvs(p) == [("stop", "101"), DUMP_101, ("destroy", "101")]


def test_absent_state_destroys_when_pruning() -> None:
    others = [container(ctid=100 + i, name=f"c{i}") for i in range(2, 12)]
    d = container(state="absent")
    observed = node(matching(container(), "stopped"), *(matching(k) for k in others))
    p = run([d, *others], observed, prune=True)
    assert argvs(p) == [DUMP_101, ("destroy", "101")]


def test_mass_destroy_is_refused() -> None:
    present = [matching(container(ctid=100 + i, name=f"c{i}")) for i in range(1, 11)]
    p = run([container(ctid=101, name="c1")], node(*present), prune=True)
    assert p.empty and len(p.held) == 9
    assert "refusing to destroy 9 of 10" in p.held[0].reason
    p = run([container(ctid=101, name="c1")], node(*present), prune=True, allow_mass_destroy=True)
    assert p.count("destroy") == 9


def test_never_destroy_all_owned() -> None:
    p = run([], node(matching(container())), prune=True)
    assert p.empty and "never all" in p.held[0].reason


def test_protected_container_is_never_destroyed() -> None:
    others = [container(ctid=100 + i, name=f"c{i}") for i in range(2, 12)]
    observed = node(matching(container()), *(matching(k) for k in others))
    p = run(others, observed, inventory=owned(*observed.containers, protected=(101,)), prune=True)
    assert p.empty and p.held[0].reason.startswith("protect: true")


def test_untrusted_inventory_never_prunes() -> None:
    others = [container(ctid=100 + i, name=f"c{i}") for i in range(2, 12)]
    observed = node(matching(container()), *(matching(k) for k in others))
    inventory = Inventory(owned=frozenset(observed.containers), trusted=False)
    p = run(others, observed, inventory=inventory, prune=True)
    assert p.empty and "rebuilt" in p.held[0].reason


def test_bootorder_orders_changes_and_destroys_come_first() -> None:
    a = container(ctid=101, name="a", bootorder=1)
    b = container(ctid=102, name="b", bootorder=9)
    c = container(ctid=103, name="c")
    p = run([a, b, c], node())
    assert [ch.ctid for ch in p.changes] == [102, 101, 103]


def test_running_only_difference_is_reapplied() -> None:
    d = container(cpus=2)
    have = ObservedContainer(
        ctid=101, status="running", saved=desired_settings(d.spec, "web"), running={"cpus": 1}
    )
    p = run([d], node(have))
    assert argvs(p) == [("set", "101", "--cpus", "2", "--save")]
    assert p.changes[0].fields[0].running_only


def test_unnamed_adopted_container_is_not_renamed() -> None:
    d = container(cpus=2)
    saved = {k: v for k, v in desired_settings(d.spec, "web").items() if k != "name"}
    assert run([d], node(ObservedContainer(ctid=101, status="running", saved=saved))).empty


def test_plan_is_deterministic() -> None:
    desired = [container(ctid=100 + i, name=f"c{i}", cpus=i % 4 + 1) for i in range(1, 30)]
    first = run(desired, node())
    second = run(list(reversed(desired)), node())
    assert first.model_dump() == second.model_dump()


sizes = st.sampled_from(["256M", "512M", "1G", "2G", "2.5G", "1073741824B", "262144P", "unlimited"])
specs = st.fixed_dictionaries(
    {},
    optional={
        "hostname": st.from_regex(r"[a-z][a-z0-9]{0,10}(\.[a-z]{2,5})?", fullmatch=True),
        "ip": st.lists(
            st.ip_addresses(v=4).filter(lambda a: not a.is_unspecified).map(str),
            max_size=3,
            unique=True,
        ),
        "ram": sizes,
        "swap": sizes,
        "diskspace": st.sampled_from(["10G", "2G:3G", "1048576K"]),
        "cpus": st.integers(1, 64),
        "cpuunits": st.integers(8, 500000),
        "cpulimit": st.integers(0, 6400),
        "onboot": st.booleans(),
        "bootorder": st.integers(0, 1000),
        "features": st.dictionaries(
            st.sampled_from(["nfs", "sysfs", "ppp"]), st.booleans(), max_size=2
        ),
        "numproc": st.sampled_from([240, "240:300", "unlimited"]),
        "description": st.from_regex(r"[A-Za-z0-9 ,.]{0,40}", fullmatch=True),
        "state": st.sampled_from(["running", "stopped"]),
    },
)


@settings(max_examples=200, deadline=None)
@given(spec=specs, ctid=st.integers(101, 2147483644))
def test_property_matching_node_gives_empty_plan(spec: dict[str, Any], ctid: int) -> None:
    d = container(ctid=ctid, **spec)
    status = "running" if d.spec.state == "running" else "stopped"
    assert run([d], node(matching(d, status))).empty


@settings(max_examples=100, deadline=None)
@given(spec=specs)
def test_property_empty_node_creates_exactly_once(spec: dict[str, Any]) -> None:
    p = run([container(**spec)], node())
    assert [a[0] for a in argvs(p)].count("create") == 1
    assert all(a[0] != "set" or a[-1] == "--save" for a in argvs(p))


@pytest.mark.parametrize(
    ("field", "want", "running", "differs"),
    [
        ("cpuunits", 1500, 1502, False),
        ("cpuunits", 1500, 1400, True),
        ("cpuunits", 300000, 500000, False),
        ("cpulimit", 33, 32, False),
        ("cpulimit", 200, 150, True),
    ],
)
def test_running_cpu_values_allow_for_kernel_rounding(
    field: str, want: int, running: int, differs: bool
) -> None:
    spec: dict[str, Any] = {field: want}
    d = container(**spec)
    have = ObservedContainer(
        ctid=101, status="running", saved=desired_settings(d.spec, "web"), running={field: running}
    )
    assert run([d], node(have)).empty is not differs


def test_every_destroy_dumps_first_unless_the_policy_says_not() -> None:
    gone = container()
    keep = [container(ctid=100 + i, name=f"c{i}") for i in range(2, 12)]
    observed = node(matching(gone, "stopped"), *(matching(k) for k in keep))
    dumped = run(keep, observed, prune=True, dump_dir="/backup/safety")
    (change,) = dumped.changes
    assert change.dumps_first
    assert change.commands[0].render() == (
        "vzdump 101 --mode stop --compress gzip --maxfiles 0 --dumpdir /backup/safety"
    )
    assert change.commands[1].argv == ("destroy", "101")
    plain = run(keep, observed, prune=True, dump_before_destroy=False)
    assert argvs(plain) == [("destroy", "101")] and not plain.changes[0].dumps_first


def test_a_plan_without_destroys_takes_no_dump() -> None:
    p = run([container(cpus=4)], node(matching(container())))
    assert p.changes and not any(c.tool == "vzdump" for ch in p.changes for c in ch.commands)
