"""The controller's status document and `vzgitops status` (model and renderer pure; I/O at the end).

`vzgitops run` writes `status.json` into the state directory durably after every cycle: which
revision was fetched and which is applied (sha, commit time, subject), the newer revision that is
held or invalid and why, each container's state, the last error, and the next scheduled action.
`vzgitops status` reads it and renders it as text or JSON; both come from the same `Status`
model, so they cannot disagree. A document whose controller is gone is shown as `dead`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reconciler.drift import Drift
from reconciler.errors import Disposition, VzGitopsError
from reconciler.plan import Held, Plan
from reconciler.report.text import printable
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
    next: NextAction | None = Field(default=None, description="The next scheduled action.")


def utc(at: float) -> datetime:
    return datetime.fromtimestamp(at, tz=UTC)


# ---- text (pure) -----------------------------------------------------------------------------


def span(seconds: float) -> str:
    """A duration for people: 42 s, 5 min, 3 h 20 min, 2 d 4 h."""
    whole = round(abs(seconds))
    if whole < 120:
        return f"{whole} s"
    minutes, hours, days = whole // 60, whole // 3600, whole // 86400
    if hours < 2:
        return f"{minutes} min"
    if days < 2:
        return f"{hours} h {minutes % 60} min"
    return f"{days} d {hours % 24} h"


def _when(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "-"
    seconds = (at - now).total_seconds()
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if abs(seconds) < 1:
        return f"{stamp} (now)"
    return f"{stamp} (in {span(seconds)})" if seconds > 0 else f"{stamp} ({span(seconds)} ago)"


def _revision(info: RevisionInfo | None, now: datetime) -> str:
    if info is None:
        return "none"
    subject = f' "{info.subject}"' if info.subject else ""
    return f"{info.sha[:12]}{subject}, at {_when(info.at, now)}"


def _pending_lines(pending: Pending | None) -> list[str]:
    if pending is None:
        return ["pending:    none"]
    subject = f' "{pending.subject}"' if pending.subject else ""
    lines = [f"pending:    {pending.sha[:12]}{subject} ({pending.kind}): {pending.reason}"]
    lines += [f"            {problem}" for problem in pending.problems[:20]]
    if len(pending.problems) > 20:
        lines.append(f"            ... and {len(pending.problems) - 20} more")
    return lines


def _held_lines(status: Status) -> list[str]:
    if not status.held:
        return []
    lines = [f"held:       {len(status.held)}; the node does not match git"]
    lines += [  # escaped before padding, so the columns line up
        f"  {h.ctid:<8} {printable(h.name):<20} {h.kind}: {h.reason}" for h in status.held[:20]
    ]
    if len(status.held) > 20:
        lines.append(f"  ... and {len(status.held) - 20} more")
    return lines


def _converged(status: Status) -> str:
    if status.converged and status.held:  # never "converged" while the node does not match git
        return f"{len(status.held)} held, the node does not match git"
    return {True: "converged", False: "NOT converged", None: ""}[status.converged]


def _container_lines(status: Status) -> list[str]:
    if not status.containers:
        return ["containers: none observed yet"]
    lines = ["containers:"]
    for c in status.containers:
        detail = f": {c.detail}" if c.detail else ""
        lines.append(f"  {c.ctid:<8} {c.name:<20} {c.state}{detail}")
    if status.unmanaged:
        lines.append("  unmanaged: " + ", ".join(str(ctid) for ctid in status.unmanaged))
    return lines


def _retry_text(error: ErrorInfo, now: datetime) -> str:
    """What happens next after the last error, as the tail of its line."""
    when = f"retry at {_when(error.retry_at, now)}" if error.retry_at else ""
    if error.kind == "needs-human":
        return "; needs a person: not retried until a new revision or SIGHUP"
    if error.kind == "permanent":
        return f"; permanent: {when or 'not retried'} unless a new revision or SIGHUP comes first"
    return f"; {when}" if when else ""


def render_text(status: Status, now: datetime) -> str:
    """The status for people, one fact per line."""
    converged = _converged(status)
    lines = [
        f"controller: {status.state} (pid {status.pid}, since {_when(status.started_at, now)})",
        f"source:     {status.repo} ({f'ref {status.ref}' if status.ref else 'default branch'}"
        + (f", path {status.path})" if status.path else ")"),
        f"fetched:    {_revision(status.fetched, now)}",
        f"applied:    {_revision(status.applied, now)}" + (f"; {converged}" if converged else ""),
        *_pending_lines(status.pending),
        *_container_lines(status),
        *_held_lines(status),
    ]
    if status.last_error is not None:
        retry = _retry_text(status.last_error, now)
        lines.append(
            f"last error: {_when(status.last_error.at, now)}: {status.last_error.message}{retry}"
        )
    else:
        lines.append("last error: none")
    nxt = status.next
    lines.append(f"next:       {nxt.action} at {_when(nxt.at, now)}" if nxt else "next:       -")
    lines.append(f"cycles:     {status.cycles} (last result: {status.last_result or '-'})")
    lines += [f"listening:  {name} on {where}" for name, where in sorted(status.listen.items())]
    return "\n".join(printable(line) for line in lines) + "\n"


# ---- reading and writing ---------------------------------------------------------------------


def status_path(state_root: Path) -> Path:
    return state_root / STATUS_FILE


def write_status(state_root: Path, status: Status) -> None:
    from reconciler.state import write_durably

    write_durably(status_path(state_root), (status.model_dump_json(indent=2) + "\n").encode())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_status(state_root: Path) -> Status:
    """The stored document; a running state whose process is gone reads as `dead`."""
    path = status_path(state_root)
    try:
        status = Status.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise VzGitopsError(
            f"no status in {state_root}: is 'vzgitops run' using --state-dir {state_root}?"
        ) from None
    except (OSError, ValidationError) as exc:
        raise VzGitopsError(f"{path} cannot be read: {type(exc).__name__}") from exc
    if status.state in ("starting", "running", "stopping") and not _alive(status.pid):
        status = status.model_copy(update={"state": "dead"})
    return status


def show_status(state_root: Path, fmt: Literal["text", "json"]) -> int:
    """`vzgitops status`: print the document; exit 0."""
    status = read_status(state_root)
    if fmt == "json":
        sys.stdout.write(status.model_dump_json(indent=2) + "\n")
    else:
        sys.stdout.write(render_text(status, datetime.now(tz=UTC)))
    return 0


# ---- per container (pure) --------------------------------------------------------------------


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
        return make("missing" if change.action == "create" else "drifted", detail or change.reason)
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
