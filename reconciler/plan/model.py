"""Plan values: what a plan is made of (pure). A plan is a value the executor runs as is."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

Action = Literal[
    "create", "update", "restart", "start", "stop", "recreate", "destroy", "restore", "move"
]
ChangeClass = Literal["live", "restart", "recreate"]
HeldKind = Literal[
    "pending-restart",
    "needs-recreate",
    "destroy-held",
    "unowned",
    "refused",
    "conflict",
    "suspended",
    "preflight",
    "window",
    "moving",
]
HELD_KINDS: tuple[HeldKind, ...] = get_args(HeldKind)
Tool = Literal["vzctl", "vzdump", "vzrestore", "vzmigrate"]
PLAN_FORMAT = 1


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Command(Frozen):
    """One call of a node tool (vzctl; vzdump for the dump before a destroy; vzrestore for a
    restore): the argument list after the program name."""

    argv: tuple[str, ...] = Field(
        description="Arguments, e.g. ('set', '101', '--cpus', '2', '--save')."
    )
    tool: Tool = Field(
        default="vzctl",
        description="The program: vzctl, vzdump (a dump taken before a destroy), vzrestore (a restoreFrom) or vzmigrate (a move, run on the source node).",
    )

    @property
    def verb(self) -> str:
        """vzctl's command word; the tool's name for the other tools."""
        return self.argv[0] if self.tool == "vzctl" else self.tool

    def render(self) -> str:
        """The call as a person would type it (quoted for a shell; vzgitops itself uses no shell)."""
        return shlex.join((self.tool, *self.argv))


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
    def confirmed_first(self) -> bool:
        """Asked for at a terminal before it runs: it destroys data, or moves the container
        (downtime, and the data leave the node)."""
        return self.destructive or self.action == "move"

    @property
    def dumps_first(self) -> bool:
        """A vzdump runs before the destroy (the safety net); the destroy waits for it."""
        return any(c.tool == "vzdump" for c in self.commands)

    @property
    def restarts(self) -> bool:
        return any(c.verb == "restart" for c in self.commands) or self.action == "recreate"


class Held(Frozen):
    """A difference the plan does not act on, and why (policy, ownership, safety)."""

    ctid: int = Field(description="Container ID.")
    name: str = Field(description="Container name, or the ctid when unknown.")
    kind: HeldKind = Field(
        description="Category; conflict: the node has what git's wish collides with (its name or an IP on an unowned container, or DISABLED=yes where git wants it running); suspended: 'vzgitops suspend' holds the node or the container until 'vzgitops resume'; preflight: the node cannot take the change (no OS template cache, wrong arch, not enough RAM, swap, disk or CPUs); window: a restart, recreate, stop, destroy or move waits for a maintenance window; moving: git moved the container to another node, and the move waits (for the destination, or on it, for the migration from the source); refused: a restoreFrom that cannot run (the container exists, or its archive is not in the dump directory)."
    )
    fields: tuple[FieldChange, ...] = Field(default=(), description="Field differences held back.")
    reason: str = Field(description="One sentence a user can act on.")


class Unmanaged(Frozen):
    ctid: int = Field(description="Container ID.")
    name: str | None = Field(description="vzctl name, if any.")
    status: str = Field(description="Status on the node.")


class BackupLine(Frozen):
    """A container's declared backup policy, as a plan shows it."""

    ctid: int = Field(description="Container ID.")
    name: str = Field(description="Container name.")
    policy: str = Field(description="The policy in one line: schedule, mode, compression, retention.")  # fmt: skip
    last: str | None = Field(
        default=None, description="The last successful scheduled dump (UTC, ISO 8601), if any."
    )
    next_due: str = Field(description="When the next dump is due (UTC, ISO 8601), jitter included.")  # fmt: skip


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
    targets: tuple[int, ...] = Field(
        default=(),
        description="A partial plan (--target): the only containers planned; empty: all of them.",
    )
    warnings: tuple[str, ...] = Field(
        default=(),
        description="Pre-flight warnings that hold nothing, e.g. a hostname two containers share.",
    )
    backups: tuple[BackupLine, ...] = Field(
        default=(), description="Declared backup policies of the planned containers."
    )

    @property
    def empty(self) -> bool:
        return not self.changes

    def count(self, *actions: str) -> int:
        return sum(1 for c in self.changes if c.action in actions)

    def summary(self, subject: str = "Plan") -> str:
        """`Plan: 1 to create, 0 to change, 0 to destroy.` (`subject` in place of `Plan`)."""
        create = self.count("create")
        destroy = self.count("destroy")
        recreate = self.count("recreate")
        restore = self.count("restore")
        move = self.count("move")
        change = len(self.changes) - create - destroy - recreate - restore - move
        line = f"{subject}: {create} to create, {change} to change, {destroy} to destroy"
        if recreate:
            line += f", {recreate} to recreate"
        if restore:
            line += f", {restore} to restore"
        if move:
            line += f", {move} to move"
        if self.held:  # held work: the node does not match git, even with nothing to do
            line += f", {len(self.held)} held"
        return line + "."


@dataclass(frozen=True)
class Inventory:
    """Containers vzgitops owns (created or adopted); `trusted` is False after a rebuild."""

    owned: frozenset[int] = frozenset()
    protected: frozenset[int] = frozenset()
    names: Mapping[int, str] = field(default_factory=dict)
    trusted: bool = True
    # ctid -> the archive a restoreFrom restored it from (its restoreFrom is then done)
    restored: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    prune: bool = False
    allow_mass_destroy: bool = False
    restart: Literal["auto", "never"] = "auto"
    # Maintenance windows (spec/windows.py): ctid -> why its disruptive changes wait now, and
    # the same for containers git does not list (the node's windows), None when open.
    closed: Mapping[int, str] = field(default_factory=dict)
    node_closed: str | None = None

    def window(self, ctid: int, listed_in_git: bool) -> str | None:
        return self.closed.get(ctid) if listed_in_git else self.node_closed

    dump_before_destroy: bool = True
    dump_dir: str | None = None  # vzdump --dumpdir; None: the node's default (vz.conf DUMPDIR)
    # restoreFrom: ctid -> (its dump directory, the complete archive names found there), for
    # the absent containers that declare one; and the CTIDs whose vzrestore was interrupted
    # (its intent is left): restored again with --force, which removes what it unpacked.
    archives: Mapping[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    interrupted_restores: frozenset[int] = frozenset()


# ---- one container ---------------------------------------------------------------------------
