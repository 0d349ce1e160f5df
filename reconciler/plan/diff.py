"""Field differences between git and the node, saved and running values (pure).

`compare` is the one comparison of a desired value with a container's saved and running
values: the planner (`diff_fields`) and drift (`reconciler.drift`) both call it, so a plan with
nothing to do and a clean drift report always go together. Running values are compared in the
form vzlist shows them: IP addresses without masks, cpuunits and cpulimit as the kernel rounds
them (REFERENCE §7.4).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

from reconciler.fields import BY_NAME, Canon, pages_canon
from reconciler.plan.model import FieldChange
from reconciler.plan.observed import ObservedContainer

Where = Literal["saved", "running", "both"]


def show(name: str, value: Canon) -> str | None:
    if value is None:
        return None
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "unparsable":
        return str(value[1])
    return BY_NAME[name].show(value)


def compare(name: str, want: Canon, have: ObservedContainer) -> Where | None:
    """Where the node's value of one field differs from `want`: in CTID.conf (`saved`), in the
    running container (`running`), in both; None when the node matches git."""
    saved = have.saved.get(name)
    if name == "name" and saved is None:
        return None  # names are given at create; a container adopted without one keeps none
    if saved is None and want == ():
        saved = ()  # no key in CTID.conf is vzctl's empty list: `nameserver: []` is met
    saved_differs = saved is None or not BY_NAME[name].equal(want, saved)
    running_differs = have.running is not None and _running_differs(name, want, have.running)
    if saved_differs:
        return "both" if running_differs else "saved"
    return "running" if running_differs else None


def running_value(name: str, running: Mapping[str, Canon] | None) -> Canon:
    """The running value of a field as vzlist shows it (IP addresses without masks), or None."""
    if running is None:
        return None
    return running.get("ip_addresses" if name == "ip" else name)


def live_value(name: str, want: Canon, have: ObservedContainer) -> Canon:
    """The canonical value in effect on the node: the running one if it differs, else saved."""
    saved = have.saved.get(name)
    running = running_value(name, have.running)
    if running is None or not _running_differs(name, want, have.running or {}):
        return saved
    if name == "ip":  # vzlist shows addresses without masks: keep a mask git or the config knows
        known = {ip.split("/")[0]: ip for ip in (*(saved or ()), *want)}
        return tuple(sorted(known.get(a, a) for a in running))
    return running


def diff_fields(want: Mapping[str, Canon], have: ObservedContainer) -> list[FieldChange]:
    """Field differences against the saved config, then live-only ones for running containers."""
    changes: list[FieldChange] = []
    for name, value in want.items():
        where = compare(name, value, have)
        if where is None:
            continue
        after = show(name, value) or ""
        if where == "running":
            before = _runningshow(name, have.running or {})
            changes.append(
                FieldChange(
                    field=name, before=before, after=after, change_class="live", running_only=True
                )
            )
            continue
        saved = have.saved.get(name)
        changes.append(
            FieldChange(
                field=name,
                before=show(name, saved),
                after=after,
                change_class=BY_NAME[name].change_class(saved, value),
            )
        )
    return changes


def _running_differs(name: str, want: Canon, running: Mapping[str, Canon]) -> bool:
    if name == "ip":
        live = running.get("ip_addresses")
        return live is not None and live != tuple(sorted(ip.split("/")[0] for ip in want))
    live = running.get(name)
    if name in ("ram", "swap") and isinstance(live, int):
        live = pages_canon(live)  # vzlist shows `unlimited` as the 2^51 pages vzctl stored
    if live is None or live == want:
        return False
    return name not in _KERNEL_ROUNDING or live not in _KERNEL_ROUNDING[name](want)


def _readbacks(exact: float) -> set[int]:
    return {math.floor(exact), round(exact), math.ceil(exact)}


def _cpuunits_readback(units: int) -> set[int]:
    """The kernel keeps a weight of 500000/cpuunits; vzlist shows 500000/weight (REFERENCE §7.4)."""
    return _readbacks(500000 / max(500000 // max(units, 1), 1))


def _cpulimit_readback(percent: int) -> set[int]:
    """The kernel keeps a rate of cpulimit*1024/100; vzlist shows rate*100/1024."""
    return _readbacks(int(percent * 1024 / 100) * 100 / 1024)


_KERNEL_ROUNDING = {"cpuunits": _cpuunits_readback, "cpulimit": _cpulimit_readback}


def _runningshow(name: str, running: Mapping[str, Canon]) -> str | None:
    if name == "ip":
        return ", ".join(running.get("ip_addresses", ())) + " (running)"
    shown = show(name, running.get(name))
    return f"{shown} (running)" if shown is not None else None
