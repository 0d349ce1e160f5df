"""Observed state: what the node has, as the planner, drift and ownership read it (pure).

`observe` (shell) builds these values from `vzlist` and the `CTID.conf` files; `plan`, `drift`,
`ownership` and `importer` read them. `incomplete` says when an observation cannot be planned
from. No I/O here: a `conf_dir` is only named in messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath

from reconciler.errors import ObservationIncomplete
from reconciler.fields import Canon


@dataclass(frozen=True)
class ObservedContainer:
    """One container as the node has it: saved config values and, when running, live ones."""

    ctid: int
    status: str
    saved: Mapping[str, Canon]
    running: Mapping[str, Canon] | None = None
    listed: bool = True
    configured: bool = True  # its CTID.conf was read; False: listed by vzlist without one

    @property
    def is_running(self) -> bool:
        return self.status == "running"

    @property
    def name(self) -> str | None:
        value = self.saved.get("name")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class ObservedState:
    containers: Mapping[int, ObservedContainer] = field(default_factory=dict)
    running_known: bool = True
    warnings: tuple[str, ...] = ()

    def running_ctids(self) -> frozenset[int]:
        return frozenset(c for c, have in self.containers.items() if have.is_running)


_SHOWN = 10  # CTIDs named in a message; a wrong directory on a large node would list them all


def _ctids(ctids: list[int]) -> str:
    shown = ", ".join(str(c) for c in ctids[:_SHOWN])
    more = f" and {len(ctids) - _SHOWN} more" if len(ctids) > _SHOWN else ""
    return f"container{'s' if len(ctids) > 1 else ''} {shown}{more}"


def incomplete(observed: ObservedState, conf_dir: PurePath | None = None) -> str | None:
    """Pure: why this observation cannot be planned from, or None when listing and configs agree.

    vzlist -a lists every container that has a `CTID.conf` and a private area, and every
    running one; so a listed container without a readable config means the wrong directory
    (or a config lost under a running container), and a config that is not listed means a
    missing private area or a listing cut short. Either way the node is not what it seems.
    """
    no_conf = sorted(c.ctid for c in observed.containers.values() if not c.configured)
    unlisted = sorted(c.ctid for c in observed.containers.values() if not c.listed)
    where = conf_dir or "the container config directory"
    why = []
    if no_conf:
        names = ", ".join(f"{c}.conf" for c in no_conf[:_SHOWN])
        why.append(
            f"vzlist lists {_ctids(no_conf)} but there is no readable {names} in {where} "
            "(is --vz-conf-dir the node's container config directory?)"
        )
    if unlisted:
        why.append(
            f"{where} has a config for {_ctids(unlisted)} but vzlist does not list "
            f"{'them' if len(unlisted) > 1 else 'it'} (a private area missing, or the listing "
            "cut short)"
        )
    if not why:
        return None
    return "observation incomplete: " + "; ".join(why) + "; nothing is planned for this node"


def check_complete(observed: ObservedState, conf_dir: PurePath | None = None) -> ObservedState:
    """`observed`, or ObservationIncomplete when it cannot be planned from (see `incomplete`)."""
    why = incomplete(observed, conf_dir)
    if why is not None:
        raise ObservationIncomplete(why)
    return observed
