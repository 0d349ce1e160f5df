"""The controller's status document: the `Status` model and its per-container states (pure).

`vzgitops run` writes it into the state directory after every cycle (`status_file`): which
revision was fetched and which is applied (sha, commit time, subject), the newer revision that is
held or invalid and why, each container's state, the last error, and the next scheduled action.
`vzgitops status` renders it as text (`status_text`) or JSON; both come from this one model, so
they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from reconciler.drift import Drift
from reconciler.errors import Disposition
from reconciler.plan import Held, Plan
from reconciler.spec.desired import DesiredContainer

STATUS_VERSION = 1


STATUS_FILE = "status.json"


ContainerState = Literal["in-sync", "drifted", "deferred", "failed", "held", "missing"]


RunState = Literal["starting", "running", "stopping", "stopped", "dead"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RevisionInfo(Frozen):
    sha: str = Field(description="Full commit sha.")
    subject: str | None = Field(default=None, description="First line of the commit message.")
    committed_at: datetime | None = Field(default=None, description="Commit time.")
    at: datetime = Field(description="When it was fetched, or applied.")


class Pending(Frozen):
    """A newer revision that is not applied, and why."""

    sha: str = Field(description="Commit sha of the newer revision.")
    subject: str | None = Field(default=None, description="Its commit subject.")
    kind: Literal["invalid", "held"] = Field(
        description="invalid: it does not validate; held: a policy (rewrite, signature) holds it."
    )
    reason: str = Field(description="One sentence a user can act on.")
    problems: tuple[str, ...] = Field(default=(), description="Validation problems, rendered.")
    since: datetime = Field(description="When it was first seen.")


class ContainerStatus(Frozen):
    ctid: int = Field(description="Container ID.")
    name: str = Field(description="Container name in git.")
    state: ContainerState = Field(description="How the container compares with the live revision.")
    detail: str | None = Field(default=None, description="Why, when it is not in sync.")


BackupState = Literal["ok", "never", "missed", "failed"]


class BackupStatus(Frozen):
    """One container's scheduled backups: the last successful dump, its age, the next one."""

    ctid: int = Field(description="Container ID.")
    name: str = Field(description="Container name in git.")
    policy: str = Field(description="Its backup policy in one line.")
    state: BackupState = Field(
        description="ok; never (no dump yet, none due long ago); missed (overdue by more than one period): an error; failed (the last dump failed): an error."
    )
    last_success: datetime | None = Field(default=None, description="When the last dump succeeded.")  # fmt: skip
    archive: str | None = Field(default=None, description="The archive it made.")
    age_seconds: float | None = Field(default=None, description="Seconds since then.")
    next_due: datetime = Field(description="When the next dump is due, jitter included.")
    error: str | None = Field(default=None, description="Why it is an error: missed or failed.")


class ErrorInfo(Frozen):
    at: datetime = Field(description="When it happened.")
    message: str = Field(description="The error, one sentence.")
    retry_at: datetime | None = Field(default=None, description="When the next attempt runs.")
    kind: Disposition = Field(
        default="retry-later",
        description="What happens next: retry-later (backed off), needs-human (nothing is "
        "retried until a new revision or SIGHUP), permanent (tried again only on a new "
        "revision, SIGHUP or after a long interval).",
    )


class NextAction(Frozen):
    action: Literal["poll", "retry", "drift-check"] = Field(description="What runs next.")
    at: datetime = Field(description="When, unless a trigger (webhook, watch, SIGHUP) comes first.")


class Status(Frozen):
    status_version: int = Field(default=STATUS_VERSION, description="Status format version.")
    state: RunState = Field(description="The controller's state.")
    pid: int = Field(description="Process id of `vzgitops run`.")
    node: str = Field(default="default", description="The node this controller applies.")
    started_at: datetime = Field(description="When the controller started.")
    updated_at: datetime = Field(description="When this document was written.")
    repo: str = Field(description="Repository (credentials removed).")
    ref: str | None = Field(default=None, description="Ref followed; None: the default branch.")
    path: str = Field(default="", description="Subdirectory with the YAML files.")
    drift: Literal["correct", "report"] = Field(description="What drift checks do.")
    listen: dict[str, str] = Field(default_factory=dict, description="Bound HTTP endpoints.")
    cycles: int = Field(default=0, description="Reconcile cycles since start.")
    last_result: str | None = Field(default=None, description="Result of the last cycle.")
    fetched: RevisionInfo | None = Field(default=None, description="Tip of the ref, last fetched.")
    applied: RevisionInfo | None = Field(default=None, description="The live revision.")
    converged: bool | None = Field(
        default=None,
        description="The live revision applied as far as policy allows: nothing left to retry "
        "(`held` lists what policy holds back).",
    )
    pending: Pending | None = Field(default=None, description="A newer revision not applied.")
    containers: tuple[ContainerStatus, ...] = Field(default=(), description="Per container.")
    unmanaged: tuple[int, ...] = Field(default=(), description="Containers vzgitops does not own.")
    held: tuple[Held, ...] = Field(
        default=(),
        description="Changes the latest plan holds back (destroys without --prune or refused, "
        "recreates, restarts): while any remain the node does not match git.",
    )
    last_error: ErrorInfo | None = Field(default=None, description="The last error, if any.")
    suspended: bool = Field(
        default=False,
        description="'vzgitops suspend' holds the whole node: every change is held until 'vzgitops resume'.",
    )
    suspended_containers: tuple[int, ...] = Field(
        default=(), description="Containers 'vzgitops suspend CTID' holds."
    )
    next: NextAction | None = Field(default=None, description="The next scheduled action.")
    backups: tuple[BackupStatus, ...] = Field(
        default=(), description="Scheduled backups, per container with a backup policy."
    )


def utc(at: float) -> datetime:
    return datetime.fromtimestamp(at, tz=UTC)


def _drift_detail(drift: Drift | None, ctid: int) -> str | None:
    found = next((c for c in drift.containers if c.ctid == ctid), None) if drift else None
    if found is None:
        return None
    return "; ".join(
        f"{f.field}: git {f.desired}, node {f.running if f.where == 'running' else f.saved}"
        for f in found.fields
    )


def _one(
    d: DesiredContainer,
    plan: Plan,
    failed: Mapping[int, str],
    deferred: Mapping[int, datetime],
    drift: Drift | None,
) -> ContainerStatus:
    def make(state: ContainerState, detail: str | None = None) -> ContainerStatus:
        return ContainerStatus(ctid=d.ctid, name=d.name, state=state, detail=detail)

    if d.ctid in failed:
        return make("failed", failed[d.ctid])
    change = next((c for c in plan.changes if c.ctid == d.ctid), None)
    detail = _drift_detail(drift, d.ctid)
    if change is not None:
        if d.ctid in deferred:
            until = deferred[d.ctid].strftime("%Y-%m-%dT%H:%M:%SZ")
            return make(
                "deferred",
                f"{detail or change.reason}; changed again by hand, next correction after {until}",
            )
        missing = change.action in ("create", "restore")
        return make("missing" if missing else "drifted", detail or change.reason)
    held = next((h for h in plan.held if h.ctid == d.ctid), None)
    if held is not None:
        return make("held", held.reason)
    return make("drifted", detail) if detail else make("in-sync")


def container_states(
    desired: Sequence[DesiredContainer],
    plan: Plan,
    failed: Mapping[int, str],
    deferred: Mapping[int, datetime],
    drift: Drift | None = None,
) -> tuple[ContainerStatus, ...]:
    """Each desired container against the latest plan, failures, deferrals and drift."""
    return tuple(
        _one(d, plan, failed, deferred, drift) for d in sorted(desired, key=lambda c: c.ctid)
    )
