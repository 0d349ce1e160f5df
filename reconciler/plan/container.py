"""Planning one container: create, update (set, restart, start/stop), recreate, destroy (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.fields import BY_NAME, FIELDS, NAME_FIELD, Canon
from reconciler.plan.diff import diff_fields, live_value, show
from reconciler.plan.model import Action, Change, Command, FieldChange, Held, Policy
from reconciler.plan.observed import ObservedContainer
from reconciler.spec.desired import DesiredContainer


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
        FieldChange(field=n, before=None, after=show(n, v) or "", change_class="live")
        for n, v in want.items()
    )


@dataclass
class Acc:
    changes: list[Change] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)


def plan_create(d: DesiredContainer, want: Mapping[str, Canon], acc: Acc) -> None:
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


def plan_recreate(
    d: DesiredContainer,
    want: Mapping[str, Canon],
    have: ObservedContainer,
    diffs: list[FieldChange],
    acc: Acc,
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


def plan_update(
    d: DesiredContainer,
    want: Mapping[str, Canon],
    have: ObservedContainer,
    policy: Policy,
    acc: Acc,
) -> None:
    if _disabled_on_node(d, want, have):
        acc.held.append(_disabled_held(d))
        return
    diffs = diff_fields(want, have)
    if any(f.change_class == "recreate" for f in diffs):
        plan_recreate(d, want, have, diffs, acc)
        return
    window = policy.window(d.ctid, True)
    restart = "never" if window else (d.spec.restart or policy.restart)
    diffs = _hold_restarts(d, have, diffs, restart, acc, window)
    commands = _update_commands(d, want, have, diffs)
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


def _disabled_on_node(
    d: DesiredContainer, want: Mapping[str, Canon], have: ObservedContainer
) -> bool:
    """Git wants it running, leaves `disabled` alone, and the node has DISABLED=yes."""
    to_start = d.spec.state == "running" and not have.is_running
    return to_start and "disabled" not in want and have.saved.get("disabled") is True


def _disabled_held(d: DesiredContainer) -> Held:
    reason = (
        f"the container is disabled on the node (DISABLED=yes) and {d.origin.render()} does not "
        "set disabled, so vzctl would refuse to start it (exit 105); write disabled: false to "
        "start it, or state: stopped; nothing is done to it until then"
    )
    return Held(ctid=d.ctid, name=d.name, kind="conflict", reason=reason)


def _hold_restarts(
    d: DesiredContainer,
    have: ObservedContainer,
    diffs: list[FieldChange],
    restart_policy: str,
    acc: Acc,
    window: str | None = None,
) -> list[FieldChange]:
    """Under `restart: never`, fields that need a running container restarted are held (listed
    as pending) and left out of the update; the diffs that remain."""
    restart_fields = [f for f in diffs if f.change_class == "restart"]
    keep_running = have.is_running and d.spec.state == "running"
    if not (restart_fields and keep_running and restart_policy == "never"):
        return diffs
    names = ", ".join(f.field for f in restart_fields)
    reason = f"{names} need a restart and the restart policy is never; restart the container or set restart: auto"
    acc.held.append(
        Held(
            ctid=d.ctid,
            name=d.name,
            kind="window" if window else "pending-restart",
            fields=tuple(restart_fields),
            reason=f"{names} need a restart, {window}" if window else reason,
        )
    )
    return [f for f in diffs if f.change_class != "restart"]


def _update_commands(
    d: DesiredContainer,
    want: Mapping[str, Canon],
    have: ObservedContainer,
    diffs: list[FieldChange],
) -> list[Command]:
    """stop (when it must stop), one `set --save`, restart (when a field needs it), start."""
    commands: list[Command] = []
    if have.is_running and d.spec.state == "stopped":
        commands.append(Command(argv=("stop", str(d.ctid))))
    set_argv = _set_argv(d.ctid, want, _current(want, have, diffs), [f.field for f in diffs])
    if set_argv:
        commands.append(Command(argv=tuple(set_argv)))
    keep_running = have.is_running and d.spec.state == "running"
    if keep_running and any(f.change_class == "restart" for f in diffs):
        commands.append(Command(argv=("restart", str(d.ctid))))
    if not have.is_running and d.spec.state == "running":
        commands.append(Command(argv=("start", str(d.ctid))))
    return commands


def _current(
    want: Mapping[str, Canon], have: ObservedContainer, diffs: list[FieldChange]
) -> Mapping[str, Canon]:
    """The values `vzctl set` starts from: saved ones, and the running one where only the running
    value differs (an address added without --save is deleted, one deleted is added back)."""
    running = {f.field: live_value(f.field, want[f.field], have) for f in diffs if f.running_only}
    return {**have.saved, **running}


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


def plan_destroy(ctid: int, name: str, have: ObservedContainer, reason: str) -> Change:
    commands = [Command(argv=("stop", str(ctid)))] if have.is_running else []
    commands.append(Command(argv=("destroy", str(ctid))))
    return Change(ctid=ctid, name=name, action="destroy", commands=tuple(commands), reason=reason)


def unowned(ctid: int, name: str, reason: str) -> Held:
    return Held(ctid=ctid, name=name, kind="unowned", reason=reason)


# ---- the whole node --------------------------------------------------------------------------
