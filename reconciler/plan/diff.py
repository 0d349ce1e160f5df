"""Field differences between git and the node, saved and running values (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from reconciler.fields import BY_NAME, Canon
from reconciler.observe import ObservedContainer
from reconciler.plan.model import FieldChange


def show(name: str, value: Canon) -> str | None:
    if value is None:
        return None
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "unparsable":
        return str(value[1])
    return BY_NAME[name].show(value)


def diff_fields(want: Mapping[str, Canon], have: ObservedContainer) -> list[FieldChange]:
    """Field differences against the saved config, then live-only ones for running containers."""
    changes: list[FieldChange] = []
    for name, value in want.items():
        spec = BY_NAME[name]
        saved = have.saved.get(name)
        if name == "name" and saved is None:
            continue  # names are given at create; a container adopted without one keeps none
        if saved is None or not spec.equal(value, saved):
            after = show(name, value) or ""
            changes.append(
                FieldChange(
                    field=name,
                    before=show(name, saved),
                    after=after,
                    change_class=spec.change_class(saved, value),
                )
            )
        elif have.running is not None and _running_differs(name, value, have.running):
            after = show(name, value) or ""
            changes.append(
                FieldChange(
                    field=name,
                    before=_runningshow(name, have.running),
                    after=after,
                    change_class="live",
                    running_only=True,
                )
            )
    return changes


def _running_differs(name: str, want: Canon, running: Mapping[str, Canon]) -> bool:
    if name == "ip":
        live = running.get("ip_addresses")
        return live is not None and live != tuple(sorted(ip.split("/")[0] for ip in want))
    live = running.get(name)
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
