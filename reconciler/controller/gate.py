"""What keeps a new tip from being applied: a history rewrite, unsigned commits, an unknown
applied revision (shell: it asks git); and the `Pending` the status shows for a tip that is
held or does not validate."""

from __future__ import annotations

from typing import Literal

from reconciler.controller.events import Logger
from reconciler.controller.settings import Settings
from reconciler.controller.status import Pending, utc
from reconciler.errors import SpecError, UsageError
from reconciler.source import Source


def refusal(
    source: Source,
    settings: Settings,
    live: str | None,
    sha: str,
    unreadable_applied: str | None,
    log: Logger,
) -> str | None:
    """Why the tip `sha` must not be applied over the `live` revision, or None.

    An unreadable record of the applied revision refuses everything (a rewrite cannot be ruled
    out); a tip that does not descend from the live one is refused unless --allow-rewrite
    (then logged); with --verify-signatures every new commit must be signed by a trusted key,
    and a check that cannot be made refuses (fail closed)."""
    if unreadable_applied is not None:
        return f"the applied revision is unknown, so a history rewrite cannot be ruled out: {unreadable_applied}"
    if live is not None and not source.is_ancestor(live, sha):
        if not settings.allow_rewrite:
            return f"history rewrite: {sha[:12]} does not descend from the applied {live[:12]}; push a fix on top of the applied commit, or restart with --allow-rewrite to apply it"
        log("warning", "revision.rewrite", revision=sha, applied=live)
    if not settings.verify_signatures:
        return None
    try:
        unsigned = source.verify_signatures(
            live, sha, allowed_signers=settings.allowed_signers, gpg_home=settings.gpg_home
        )
    except UsageError as error:  # e.g. the applied commit is gone: fail closed
        return f"the signatures cannot be checked: {error}"
    if not unsigned:
        return None
    shown = ", ".join(c[:12] for c in unsigned[:5]) + (" ..." if len(unsigned) > 5 else "")
    return f"{len(unsigned)} new commit(s) are not signed by a trusted key: {shown}"


def not_valid(error: SpecError | None) -> str:
    """Why a tip that does not validate is not applied."""
    count = len(error.problems) if error else 0
    return f"it does not validate ({count} problem{'s' if count != 1 else ''})"


def withheld(
    sha: str, subject: str | None, kind: Literal["invalid", "held"], reason: str,
    live: str | None, at: float, error: SpecError | None = None,
) -> Pending:  # fmt: skip
    """The tip `sha`, not applied since `at` for `reason`, as the status shows it: with the
    problems of `error`, and that the `live` revision stays."""
    problems = tuple(p.render() for p in error.problems) if error else ()
    why = f"{reason}; the live revision stays {live[:12] if live else 'none'}"
    return Pending(sha=sha, subject=subject, kind=kind, reason=why, problems=problems,
                   since=utc(at))  # fmt: skip
