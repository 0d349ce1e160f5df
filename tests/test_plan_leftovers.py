"""An owned container git dropped keeps its name and addresses until it is destroyed: a
container git wants with either is held as a conflict, unless this plan destroys the old one."""

from __future__ import annotations

from dataclasses import replace

from reconciler.fields import desired_settings
from reconciler.plan.observed import ObservedContainer
from tests.test_plan import container, node, owned, run


def dropped() -> ObservedContainer:
    old = container(150, "web", ip=["10.0.0.5"])
    return ObservedContainer(ctid=150, status="running", saved=desired_settings(old.spec, "web"))


def test_without_pruning_the_old_container_still_has_the_name() -> None:
    new = container(120, "web")
    p = run([new], node(dropped()), owned(150))
    assert p.changes == ()
    assert [(h.ctid, h.kind) for h in p.held] == [(120, "conflict"), (150, "destroy-held")]
    assert p.held[0].reason.startswith(
        "container 150 on the node, which git no longer lists and this plan does not destroy, "
        "already has the name 'web'; rename or remove container 150, or change web.yaml:1"
    )


def test_an_address_of_the_old_container_is_held_too() -> None:
    new = container(120, "api", ip=["10.0.0.5/24"])
    p = run([new], node(dropped()), owned(150))
    assert "already has the IP address 10.0.0.5" in p.held[0].reason


def test_when_the_plan_destroys_the_old_container_the_new_one_goes_ahead() -> None:
    new = container(120, "web")
    keep = container(121, "other")
    observed = node(
        dropped(), replace(dropped(), ctid=121, saved=desired_settings(keep.spec, "other"))
    )
    p = run([new, keep], observed, owned(150, 121), prune=True, allow_mass_destroy=True)
    assert [(c.ctid, c.action) for c in p.changes] == [(150, "destroy"), (120, "create")]
