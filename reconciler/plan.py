"""The planner: desired + observed + inventory + policy -> Plan (pure, deterministic).

A plan is a value: an ordered tuple of changes, each naming its container, the fields that
differ (before -> after, with their change class), the exact vzctl argument lists that make
them so, and a reason for people. The executor runs exactly these commands and decides nothing.
No I/O, no clock: the same inputs always give the same plan.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from reconciler.fields import BY_NAME, FIELDS, NAME_FIELD, Canon, desired_settings
from reconciler.observe import ObservedContainer, ObservedState
from reconciler.spec.desired import DesiredContainer

Action = Literal["create", "update", "restart", "start", "stop", "recreate", "destroy"]
ChangeClass = Literal["live", "restart", "recreate"]
PLAN_FORMAT = 1


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Command(Frozen):
    """One vzctl call: the argument list after the program name."""

    argv: tuple[str, ...] = Field(
        description="vzctl arguments, e.g. ('set', '101', '--cpus', '2', '--save')."
    )

    @property
    def verb(self) -> str:
        return self.argv[0]

    def render(self) -> str:
        return "vzctl " + " ".join(self.argv)


class FieldChange(Frozen):
    field: str = Field(description="Spec field name.")
    before: str | None = Field(
        description="Value on the node (saved config), None when unset or new."
    )
    after: str = Field(description="Value in git.")
    change_class: ChangeClass = Field(description="live, restart (needs a restart) or recreate.")
    running_only: bool = Field(
        default=False,
        description="The saved value already matches; only the running value differs.",
    )


class Change(Frozen):
    ctid: int = Field(description="Container ID.")
    name: str = Field(description="Container name.")
    action: Action = Field(description="What happens to the container as a whole.")
    fields: tuple[FieldChange, ...] = Field(default=(), description="Field differences.")
    commands: tuple[Command, ...] = Field(description="vzctl calls, in order.")
    reason: str = Field(description="Why, for people; the executor never reads it.")

    @property
    def destructive(self) -> bool:
        return self.action in ("destroy", "recreate")

    @property
    def restarts(self) -> bool:
        return any(c.verb == "restart" for c in self.commands) or self.action == "recreate"


class Held(Frozen):
    """A difference the plan does not act on, and why (policy, ownership, safety)."""

    ctid: int = Field(description="Container ID.")
    name: str = Field(description="Container name, or the ctid when unknown.")
    kind: Literal["pending-restart", "needs-recreate", "destroy-held", "unowned", "refused"] = (
        Field(description="Category.")
    )
    fields: tuple[FieldChange, ...] = Field(default=(), description="Field differences held back.")
    reason: str = Field(description="One sentence a user can act on.")


class Unmanaged(Frozen):
    ctid: int = Field(description="Container ID.")
    name: str | None = Field(description="vzctl name, if any.")
    status: str = Field(description="Status on the node.")


class Plan(Frozen):
    format_version: int = Field(default=PLAN_FORMAT, description="Plan format version.")
    revision: str | None = Field(
        default=None, description="Git commit sha the desired state came from."
    )
    node: str = Field(default="default", description="Node name.")
    changes: tuple[Change, ...] = Field(default=(), description="Changes, in execution order.")
    held: tuple[Held, ...] = Field(default=(), description="Differences not acted on.")
    unmanaged: tuple[Unmanaged, ...] = Field(
        default=(), description="Containers on the node vzgitops does not own."
    )

    @property
    def empty(self) -> bool:
        return not self.changes

    def count(self, *actions: str) -> int:
        return sum(1 for c in self.changes if c.action in actions)

    def summary(self) -> str:
        create = self.count("create")
        destroy = self.count("destroy")
        recreate = self.count("recreate")
        change = len(self.changes) - create - destroy - recreate
        line = f"Plan: {create} to create, {change} to change, {destroy} to destroy"
        if recreate:
            line += f", {recreate} to recreate"
        return line + "."


@dataclass(frozen=True)
class Inventory:
    """Containers vzgitops owns (created or adopted); `trusted` is False after a rebuild."""

    owned: frozenset[int] = frozenset()
    protected: frozenset[int] = frozenset()
    names: Mapping[int, str] = field(default_factory=dict)
    trusted: bool = True


@dataclass(frozen=True)
class Policy:
    prune: bool = False
    allow_mass_destroy: bool = False
    restart: Literal["auto", "never"] = "auto"


# ---- one container ---------------------------------------------------------------------------


def _show(name: str, value: Canon) -> str | None:
    if value is None:
        return None
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "unparsable":
        return str(value[1])
    return BY_NAME[name].show(value)


def _diff(want: Mapping[str, Canon], have: ObservedContainer) -> list[FieldChange]:
    """Field differences against the saved config, then live-only ones for running containers."""
    changes: list[FieldChange] = []
    for name, value in want.items():
        spec = BY_NAME[name]
        saved = have.saved.get(name)
        if name == "name" and saved is None:
            continue  # names are given at create; a container adopted without one keeps none
        if saved is None or not spec.equal(value, saved):
            after = _show(name, value) or ""
            changes.append(
                FieldChange(
                    field=name,
                    before=_show(name, saved),
                    after=after,
                    change_class=spec.change_class(saved, value),
                )
            )
        elif have.running is not None and _running_differs(name, value, have.running):
            after = _show(name, value) or ""
            changes.append(
                FieldChange(
                    field=name,
                    before=_running_show(name, have.running),
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


def _running_show(name: str, running: Mapping[str, Canon]) -> str | None:
    if name == "ip":
        return ", ".join(running.get("ip_addresses", ())) + " (running)"
    shown = _show(name, running.get(name))
    return f"{shown} (running)" if shown is not None else None


def _set_argv(
    ctid: int, want: Mapping[str, Canon], have: Mapping[str, Canon], names: list[str]
) -> list[str]:
    argv: list[str] = []
    for name in names:
        argv += BY_NAME[name].argv(want[name], have.get(name))
    return ["set", str(ctid), *argv, "--save"] if argv else []


def _create_commands(ctid: int, want: Mapping[str, Canon], start: bool) -> list[Command]:
    create = ["create", str(ctid)]
    rest: list[str] = []
    for spec in (*FIELDS, NAME_FIELD):
        if spec.name not in want:
            continue
        if spec.create_option:
            create += spec.argv(want[spec.name], None)
        else:
            rest.append(spec.name)
    commands = [Command(argv=tuple(create))]
    set_argv = _set_argv(ctid, want, {}, rest)
    if set_argv:
        commands.append(Command(argv=tuple(set_argv)))
    if start:
        commands.append(Command(argv=("start", str(ctid))))
    return commands


def _all_fields(want: Mapping[str, Canon]) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(field=n, before=None, after=_show(n, v) or "", change_class="live")
        for n, v in want.items()
    )


@dataclass
class _Acc:
    changes: list[Change] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)


def _plan_create(d: DesiredContainer, want: Mapping[str, Canon], acc: _Acc) -> None:
    commands = _create_commands(d.ctid, want, d.spec.state == "running")
    acc.changes.append(
        Change(
            ctid=d.ctid,
            name=d.name,
            action="create",
            fields=_all_fields(want),
            commands=tuple(commands),
            reason=f"in git ({d.origin.render()}) but not on the node",
        )
    )


def _plan_recreate(
    d: DesiredContainer,
    want: Mapping[str, Canon],
    have: ObservedContainer,
    diffs: list[FieldChange],
    acc: _Acc,
) -> None:
    recreate = [f for f in diffs if f.change_class == "recreate"]
    if not d.spec.allowRecreate:
        names = ", ".join(f.field for f in recreate)
        acc.held.append(
            Held(
                ctid=d.ctid,
                name=d.name,
                kind="needs-recreate",
                fields=tuple(recreate),
                reason=f"{names} can only change by destroying and re-creating the container; set allowRecreate: true in {d.origin.render()} to allow it",
            )
        )
        return
    commands = [Command(argv=("stop", str(d.ctid)))] if have.is_running else []
    commands.append(Command(argv=("destroy", str(d.ctid))))
    commands += _create_commands(d.ctid, want, d.spec.state == "running")
    acc.changes.append(
        Change(
            ctid=d.ctid,
            name=d.name,
            action="recreate",
            fields=tuple(diffs),
            commands=tuple(commands),
            reason="allowRecreate is set and " + ", ".join(f.field for f in recreate) + " changed",
        )
    )


def _plan_update(
    d: DesiredContainer,
    want: Mapping[str, Canon],
    have: ObservedContainer,
    policy: Policy,
    acc: _Acc,
) -> None:
    diffs = _diff(want, have)
    if any(f.change_class == "recreate" for f in diffs):
        _plan_recreate(d, want, have, diffs, acc)
        return
    restart_policy = d.spec.restart or policy.restart
    keep_running = have.is_running and d.spec.state == "running"
    restart_fields = [f for f in diffs if f.change_class == "restart"]
    if (
        restart_fields
        and have.is_running
        and restart_policy == "never"
        and d.spec.state == "running"
    ):
        names = ", ".join(f.field for f in restart_fields)
        acc.held.append(
            Held(
                ctid=d.ctid,
                name=d.name,
                kind="pending-restart",
                fields=tuple(restart_fields),
                reason=f"{names} need a restart and the restart policy is never; restart the container or set restart: auto",
            )
        )
        diffs = [f for f in diffs if f.change_class != "restart"]
    commands: list[Command] = []
    if have.is_running and d.spec.state == "stopped":
        commands.append(Command(argv=("stop", str(d.ctid))))
    set_argv = _set_argv(d.ctid, want, have.saved, [f.field for f in diffs])
    if set_argv:
        commands.append(Command(argv=tuple(set_argv)))
    if keep_running and any(f.change_class == "restart" for f in diffs):
        commands.append(Command(argv=("restart", str(d.ctid))))
    if not have.is_running and d.spec.state == "running":
        commands.append(Command(argv=("start", str(d.ctid))))
    if commands:
        acc.changes.append(
            Change(
                ctid=d.ctid,
                name=d.name,
                action=_update_action(commands),
                fields=tuple(diffs),
                commands=tuple(commands),
                reason=_update_reason(diffs, commands, d),
            )
        )


def _update_action(commands: list[Command]) -> Action:
    verbs = [c.verb for c in commands]
    if verbs == ["start"]:
        return "start"
    if verbs == ["stop"]:
        return "stop"
    return "restart" if verbs == ["restart"] else "update"


def _update_reason(diffs: list[FieldChange], commands: list[Command], d: DesiredContainer) -> str:
    parts = []
    if diffs:
        parts.append(", ".join(f.field for f in diffs) + " differ from git")
    verbs = {c.verb for c in commands}
    if "start" in verbs or "stop" in verbs:
        parts.append(f"state should be {d.spec.state}")
    if "restart" in verbs:
        parts.append("restart-class settings changed on a running container")
    return "; ".join(parts)


def _plan_destroy(ctid: int, name: str, have: ObservedContainer, reason: str) -> Change:
    commands = [Command(argv=("stop", str(ctid)))] if have.is_running else []
    commands.append(Command(argv=("destroy", str(ctid))))
    return Change(ctid=ctid, name=name, action="destroy", commands=tuple(commands), reason=reason)


def _unowned(ctid: int, name: str, reason: str) -> Held:
    return Held(ctid=ctid, name=name, kind="unowned", reason=reason)


# ---- the whole node --------------------------------------------------------------------------


def _plan_desired(
    d: DesiredContainer,
    observed: ObservedState,
    inventory: Inventory,
    policy: Policy,
    acc: _Acc,
    doomed: list[Change],
) -> None:
    have = observed.containers.get(d.ctid)
    owned = d.ctid in inventory.owned
    if have is not None and have.listed and not owned:
        acc.held.append(
            _unowned(
                d.ctid,
                d.name,
                f"container {d.ctid} exists on the node but vzgitops does not own it; adopt it with 'vzgitops adopt {d.ctid}' or 'vzgitops import'",
            )
        )
        return
    if d.spec.state == "absent":
        if have is not None and have.listed:
            doomed.append(
                _plan_destroy(d.ctid, d.name, have, f"state: absent in {d.origin.render()}")
            )
        return
    want = desired_settings(d.spec, d.name)
    if have is None or not have.listed:
        if have is not None and not owned:
            acc.held.append(
                _unowned(
                    d.ctid,
                    d.name,
                    f"a config file for container {d.ctid} exists without a private area and vzgitops does not own it; remove it or adopt it",
                )
            )
            return
        _plan_create(d, want, acc)
        if have is not None:
            first = acc.changes[-1]
            acc.changes[-1] = first.model_copy(
                update={
                    "commands": (Command(argv=("destroy", str(d.ctid))), *first.commands),
                    "reason": first.reason + "; a stale config file is removed first",
                }
            )
        return
    _plan_update(d, want, have, policy, acc)


def _gate_destroys(doomed: list[Change], inventory: Inventory, policy: Policy, acc: _Acc) -> None:
    """Prune only when enabled, owned, unprotected, trusted, and within the safety limit."""
    if not doomed:
        return
    held_reason = None
    if not policy.prune:
        held_reason = "destroying needs pruning: pass --prune or set prune: true on the Node"
    elif not inventory.trusted:
        held_reason = "the inventory of owned containers was rebuilt after it was lost; confirm it with 'vzgitops adopt --confirm' before anything is destroyed"
    allowed = [c for c in doomed if c.ctid not in inventory.protected]
    for change in doomed:
        if change.ctid in inventory.protected:
            acc.held.append(
                Held(
                    ctid=change.ctid,
                    name=change.name,
                    kind="destroy-held",
                    reason="protect: true forbids destroying this container",
                )
            )
    limit = max(1, len(inventory.owned) // 10)
    too_many = len(allowed) > limit or (bool(allowed) and len(allowed) >= len(inventory.owned))
    if held_reason is None and not policy.allow_mass_destroy and too_many:
        held_reason = f"refusing to destroy {len(allowed)} of {len(inventory.owned)} owned containers at once (limit {limit}, and never all); pass --allow-mass-destroy if this is intended"
    for change in allowed:
        if held_reason is None:
            acc.changes.append(change)
        else:
            acc.held.append(
                Held(ctid=change.ctid, name=change.name, kind="destroy-held", reason=held_reason)
            )


def _order(changes: list[Change], bootorder: Mapping[int, int | None]) -> tuple[Change, ...]:
    """Destroys first (they free names and IPs), then by bootorder (higher first), then ctid."""

    def key(change: Change) -> tuple[int, int, int, int]:
        order = bootorder.get(change.ctid)
        return (
            0 if change.action == "destroy" else 1,
            0 if order is not None else 1,
            -(order or 0),
            change.ctid,
        )

    return tuple(sorted(changes, key=key))


def plan(
    desired: tuple[DesiredContainer, ...],
    observed: ObservedState,
    inventory: Inventory,
    policy: Policy,
    *,
    revision: str | None = None,
    node: str = "default",
) -> Plan:
    """Desired vs observed: the ordered changes that make the node match git."""
    acc = _Acc()
    doomed: list[Change] = []
    for d in desired:
        _plan_desired(d, observed, inventory, policy, acc, doomed)
    wanted = {d.ctid for d in desired}
    unmanaged = []
    for ctid, have in observed.containers.items():
        if ctid in wanted or not have.listed:
            continue
        if ctid in inventory.owned:
            name = have.name or inventory.names.get(ctid) or str(ctid)
            doomed.append(_plan_destroy(ctid, name, have, "owned by vzgitops and no longer in git"))
        else:
            unmanaged.append(Unmanaged(ctid=ctid, name=have.name, status=have.status))
    _gate_destroys(doomed, inventory, policy, acc)
    bootorder = {d.ctid: d.spec.bootorder for d in desired}
    return Plan(
        revision=revision,
        node=node,
        changes=_order(acc.changes, bootorder),
        held=tuple(sorted(acc.held, key=lambda h: h.ctid)),
        unmanaged=tuple(unmanaged),
    )
