"""`vzgitops status` as text: a pure renderer of the `Status` model."""

from __future__ import annotations

from datetime import datetime

from reconciler.controller.status import ErrorInfo, Pending, RevisionInfo, Status
from reconciler.report.text import printable


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


def _suspended_lines(status: Status) -> list[str]:
    lines = (
        ["suspended:  the node: nothing is applied until 'vzgitops resume'"]
        if status.suspended
        else []
    )
    if status.suspended_containers:
        shown = ", ".join(str(c) for c in status.suspended_containers)
        lines.append(f"suspended:  containers {shown} (until 'vzgitops resume CTID')")
    return lines


def _backup_lines(status: Status, now: datetime) -> list[str]:
    """One line per container with a backup policy; a missed or failed one says ERROR."""
    if not status.backups:
        return []
    errors = sum(1 for b in status.backups if b.error)
    lines = [f"backups:    {len(status.backups)}" + (f", {errors} ERROR" if errors else "")]
    for b in status.backups:
        last = f"last {_when(b.last_success, now)}" if b.last_success else "never dumped"
        tail = f"; ERROR: {b.error}" if b.error else ""
        lines.append(f"  {b.ctid:<8} {b.name:<20} {b.state}: {last}; next {_when(b.next_due, now)}{tail}")  # fmt: skip
    return lines


def render_text(status: Status, now: datetime) -> str:
    """The status for people, one fact per line."""
    converged = _converged(status)
    lines = [
        f"controller: {status.state} (pid {status.pid}, since {_when(status.started_at, now)})",
        f"node:       {status.node}",
        f"source:     {status.repo} ({f'ref {status.ref}' if status.ref else 'default branch'}"
        + (f", path {status.path})" if status.path else ")"),
        f"fetched:    {_revision(status.fetched, now)}",
        f"applied:    {_revision(status.applied, now)}" + (f"; {converged}" if converged else ""),
        *_pending_lines(status.pending),
        *_container_lines(status),
        *_held_lines(status),
        *_suspended_lines(status),
        *_backup_lines(status, now),
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
