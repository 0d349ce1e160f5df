"""The live revision of one node's controller (shell; `loop.Controller` calls it).

The live revision is the one applied to the node. After a restart it is recalled from
last-applied.json (sha, when, whether it converged); when that file cannot be read
(`StateUnusable`) nothing new is applied until it can (`gate`). Its desired state is read again
from git when a retry, a drift check or a backup first needs it, and a new revision's
predecessor (for what git moved to this node) is its parent commit on a first start. These are
functions over the values they need; the controller keeps what they return.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.controller.status import RevisionInfo, utc
from reconciler.errors import VzGitopsError
from reconciler.revcache import DesiredCache, desired_at
from reconciler.source import Commit, Source
from reconciler.spec.desired import DesiredState
from reconciler.state import StateDir


def revision_info(revision: Commit, at: float) -> RevisionInfo:
    """`revision` as the status shows it, fetched or applied at `at`."""
    return RevisionInfo(
        sha=revision.sha, subject=revision.subject, committed_at=revision.committed_at, at=utc(at)
    )


def recall(state: StateDir, clock: Callable[[], float]) -> tuple[RevisionInfo, bool] | None:
    """The live revision last-applied.json names and whether it converged; None when it names
    none. Raises `StateUnusable` when the file exists but cannot be read."""
    last = state.last_applied() or {}
    sha, at = last.get("revision"), last.get("at")
    if not (isinstance(sha, str) and len(sha) == 40):
        return None
    when = at if isinstance(at, int | float) else clock()
    return RevisionInfo(sha=sha, at=utc(when)), bool(last.get("converged", True))


def read_again(
    source: Source, path: str, cache: DesiredCache, live: RevisionInfo
) -> tuple[RevisionInfo, DesiredState]:
    """The live revision's commit (subject, commit time; applied when it was) and desired state,
    read from git: after a restart only its sha is known. Raises `VzGitopsError` when it cannot be
    read."""
    commit = source.locate(live.sha, path)
    desired = desired_at(source, commit, cache)
    return revision_info(commit, live.at.timestamp()), desired


def parent_desired(
    source: Source, path: str, cache: DesiredCache, commit: Commit
) -> DesiredState | None:
    """The desired state of `commit`'s parent; None when it cannot be read (a first commit)."""
    try:
        parent = source.locate(f"{commit.sha}^", path)
        return desired_at(source, parent, cache)
    except VzGitopsError:
        return None
