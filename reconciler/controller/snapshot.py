"""The status document of one node's controller, as of now (shell; `loop.Controller` calls it).

`status_of` reads what the controller recorded (revisions, containers, the last error, the
suspension, the schedule) and its scheduled backups into one `Status`; `publish` writes that to
status.json (`status_file`) and gives the metrics its node label. What is read is the `Shown`
protocol, so this module needs no controller, only its values.
"""

from __future__ import annotations

import os
from typing import Literal, Protocol

from reconciler.controller.backups import Backups
from reconciler.controller.enforce import Result
from reconciler.controller.schedule import Schedule
from reconciler.controller.settings import Seams, Settings
from reconciler.controller.status import (
    BackupStatus,
    ContainerStatus,
    ErrorInfo,
    NextAction,
    Pending,
    RevisionInfo,
    RunState,
    Status,
    utc,
)
from reconciler.controller.status_file import write_status
from reconciler.errors import VzGitopsError
from reconciler.plan import Held
from reconciler.plan.scope import Suspension
from reconciler.source import redact
from reconciler.spec.desired import DesiredState


class Shown(Protocol):
    """What one node's controller shows in its status document (`loop.Controller` is one)."""

    settings: Settings
    s: Seams
    schedule: Schedule
    backups: Backups
    run_state: RunState
    started_at: float
    cycles: int
    last_result: Result | None
    fetched: RevisionInfo | None
    live: RevisionInfo | None
    live_desired: DesiredState | None
    converged: bool | None
    pending: Pending | None
    containers: tuple[ContainerStatus, ...]
    unmanaged: tuple[int, ...]
    held: tuple[Held, ...]
    last_error: ErrorInfo | None
    suspension: Suspension | None

    def node_name(self) -> str: ...


def status_of(c: Shown) -> Status:
    """The status document as of now."""
    action, due_at = c.schedule.next_due()
    at = utc(c.s.clock() + max(0.0, due_at - c.s.monotonic()))
    stopped = c.run_state == "stopped"
    stopping = c.s.stopping.is_set() and not stopped
    node = c.node_name()
    return Status(
        state="stopping" if stopping else c.run_state,
        pid=os.getpid(),
        node=node,
        started_at=utc(c.started_at),
        updated_at=utc(c.s.clock()),
        repo=redact(c.settings.repo),
        ref=c.settings.ref,
        path=c.settings.path,
        drift=c.settings.drift,
        listen=c.s.listen,
        cycles=c.cycles,
        last_result=c.last_result,
        fetched=c.fetched,
        applied=c.live,
        converged=c.converged,
        pending=c.pending,
        containers=c.containers,
        unmanaged=c.unmanaged,
        held=c.held,
        last_error=c.last_error,
        suspended=c.suspension is not None and c.suspension.node_suspended(node),
        suspended_containers=tuple(sorted(c.suspension.ctids(node)) if c.suspension else ()),
        next=None if stopped else NextAction(action=_action(action), at=at),
        backups=_backups(c, node),
    )


def publish(c: Shown) -> None:
    """Write the status document; the metrics' node label follows it. Errors are logged."""
    snapshot = status_of(c)
    c.s.metrics.set_node(snapshot.node)
    try:
        write_status(c.s.state.root, snapshot)
    except OSError as error:
        c.s.log("error", "status.unwritable", error=str(error))


def _backups(c: Shown, node: str) -> tuple[BackupStatus, ...]:
    desired = c.live_desired
    if desired is None or c.live is None:
        return ()
    try:
        return c.backups.statuses(desired, node)
    except VzGitopsError:
        return ()


def _action(name: str) -> Literal["poll", "retry", "drift-check"]:
    return "retry" if name == "retry" else "drift-check" if name == "drift-check" else "poll"
