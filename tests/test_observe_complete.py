"""The pure completeness check: a listing and configs that disagree are never planned from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import ObservationIncomplete
from reconciler.node.observe import build_state
from reconciler.plan import Inventory, Policy, plan
from reconciler.plan.observed import check_complete, incomplete
from tests.test_plan import container

CONF = Path("/etc/vz/conf")
WEB = {"NAME": "web", "HOSTNAME": "web.lan", "OSTEMPLATE": "debian-12.0-x86_64-minimal"}


def listed(*ctids: int, status: str = "stopped") -> dict[int, dict[str, Any]]:
    return {ctid: {"ctid": ctid, "status": status} for ctid in ctids}


def configs(*ctids: int) -> dict[int, dict[str, str]]:
    return {ctid: dict(WEB) for ctid in ctids}


@pytest.mark.parametrize(
    ("on_list", "with_conf", "expected"),
    [
        ((), (), None),
        ((101, 102), (101, 102), None),
        (
            (101,),
            (),
            "vzlist lists container 101 but there is no readable 101.conf in /etc/vz/conf",
        ),
        (
            (101, 102, 103),
            (102,),
            "vzlist lists containers 101, 103 but there is no readable 101.conf, 103.conf in",
        ),
        ((), (104,), "/etc/vz/conf has a config for container 104 but vzlist does not list it"),
        (
            (101,),
            (101, 104, 105),
            "has a config for containers 104, 105 but vzlist does not list them",
        ),
    ],
)
def test_listing_and_configs_must_agree(
    on_list: tuple[int, ...], with_conf: tuple[int, ...], expected: str | None
) -> None:
    observed = build_state(listed(*on_list), configs(*with_conf))
    why = incomplete(observed, CONF)
    if expected is None:
        assert why is None and check_complete(observed, CONF) is observed
    else:
        assert why is not None and expected in why and "nothing is planned" in why
        with pytest.raises(ObservationIncomplete, match="observation incomplete"):
            check_complete(observed, CONF)


def test_both_disagreements_are_named_in_one_message() -> None:
    why = incomplete(build_state(listed(101), configs(102)), CONF)
    assert why is not None
    assert "lists container 101 but" in why and "config for container 102 but" in why


def test_a_large_node_names_the_first_containers_and_counts_the_rest() -> None:
    why = incomplete(build_state(listed(*range(1000, 1025)), {}), CONF)
    assert why is not None
    assert (
        "containers 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009 and 15 more" in why
    )
    assert "1010" not in why


DESIRED = container(101, "web", hostname="web.lan", state="stopped")


@pytest.mark.parametrize(
    ("on_list", "with_conf"),
    [((101,), ()), ((), (101,))],
    ids=["listed-without-config", "config-without-listing"],
)
@pytest.mark.parametrize("prune", [False, True])
def test_the_planner_refuses_instead_of_recreating(
    on_list: tuple[int, ...], with_conf: tuple[int, ...], prune: bool
) -> None:
    observed = build_state(listed(*on_list), configs(*with_conf))
    inventory = Inventory(owned=frozenset({101}), protected=frozenset())
    with pytest.raises(ObservationIncomplete, match="container 101"):
        plan((DESIRED,), observed, inventory, Policy(prune=prune))
