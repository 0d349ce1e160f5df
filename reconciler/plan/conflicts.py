"""Names and addresses git wants that a container vzgitops does not own already has (pure).

vzctl gives a name to one container only (`vzctl create --name` exits 131 when it is taken) and
refuses to start a container with an address another running container has (exit 78). The
planner calls `conflicts` first, so such a container in git is held with the reason in the plan,
instead of being found out by a failed create or start on every apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from reconciler.plan.model import Held
from reconciler.plan.observed import ObservedContainer
from reconciler.spec.desired import DesiredContainer


def strangers(
    containers: Mapping[int, ObservedContainer], wanted: set[int], owned: Iterable[int]
) -> list[ObservedContainer]:
    """Containers on the node that git does not list and vzgitops does not own."""
    mine = set(owned)
    return [
        have
        for ctid, have in sorted(containers.items())
        if have.listed and ctid not in wanted and ctid not in mine
    ]


def leftovers(
    containers: Mapping[int, ObservedContainer],
    wanted: set[int],
    owned: Iterable[int],
    destroyed: set[int],
) -> list[ObservedContainer]:
    """Owned containers git no longer lists that this plan does not destroy (pruning off, or
    the destroy held): they keep their names and addresses too."""
    mine = set(owned)
    return [
        have
        for ctid, have in sorted(containers.items())
        if have.listed and ctid in mine and ctid not in wanted and ctid not in destroyed
    ]


def conflict(
    d: DesiredContainer,
    others: list[ObservedContainer],
    whose: str = "which vzgitops does not own",
) -> Held | None:
    """A `conflict` hold when another container already has this one's name or an address."""
    if d.spec.state == "absent":
        return None
    wanted = {ip.split("/")[0] for ip in d.spec.ip or ()}
    for other in others:
        taken = sorted(wanted & _addresses(other))
        what = [f"the name {d.name!r}"] if other.name == d.name else []
        what += [f"the IP address {ip}" for ip in taken]
        if what:
            reason = (
                f"container {other.ctid} on the node, {whose}, already has "
                f"{' and '.join(what)}; rename or remove container {other.ctid}, or change "
                f"{d.origin.render()}; nothing is done to container {d.ctid} until then"
            )
            return Held(ctid=d.ctid, name=d.name, kind="conflict", reason=reason)
    return None


def _addresses(have: ObservedContainer) -> set[str]:
    saved = have.saved.get("ip")
    running = (have.running or {}).get("ip_addresses")
    found: set[str] = set()
    for value in (saved, running):
        if isinstance(value, tuple) and not (value and value[0] == "unparsable"):
            found |= {str(ip).split("/")[0] for ip in value}
    return found
