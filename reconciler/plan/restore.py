"""Planning `spec.restoreFrom`: `restore CTID from ARCHIVE` instead of a create (pure).

A container that declares `restoreFrom` and is absent from the node is restored with
`vzrestore ARCHIVE CTID` (../shared/openvz/REFERENCE.md section 11); `latest` is its newest
archive in its dump directory, resolved here from the listing the caller made. vzrestore makes
the container stopped with the archive's settings: the apply that restores it plans again and
converges it to git's like any other. Once restored (the inventory records the archive), the
field is done and planning goes on as usual; on a container that exists and was not restored
by vzgitops it is refused (held): vzrestore never overwrites an existing container. A restore
that was interrupted is run again with `--force`, which removes what the first one unpacked.
"""

from __future__ import annotations

import re

from reconciler.plan.container import Acc
from reconciler.plan.model import Change, Command, FieldChange, Held, Inventory, Policy
from reconciler.plan.observed import ObservedContainer
from reconciler.spec.backup import LATEST
from reconciler.spec.desired import DesiredContainer

_NAME = re.compile(r"^vzdump-openvz-([0-9]+)-([0-9_-]+)\.")


def newest(ctid: int, names: tuple[str, ...]) -> str | None:
    """The newest archive name of `ctid` (the names carry their time, sortable as text)."""
    mine = [(m.group(2), n) for n in names if (m := _NAME.match(n)) and int(m.group(1)) == ctid]
    return max(mine)[1] if mine else None


def _resolve(d: DesiredContainer, policy: Policy) -> tuple[str | None, str]:
    """(the archive's path, or None) and where it was looked for. Without a listing (an
    offline plan, which is never applied) the declared name stands for the archive."""
    wanted = d.spec.restoreFrom or ""
    if d.ctid not in policy.archives:
        return wanted, ""
    where, names = policy.archives[d.ctid]
    name = newest(d.ctid, names) if wanted == LATEST else (wanted if wanted in names else None)
    return (f"{where.rstrip('/')}/{name}" if name else None), where


def _held(d: DesiredContainer, reason: str) -> Held:
    return Held(ctid=d.ctid, name=d.name, kind="refused", reason=reason)


def plan_restore(d: DesiredContainer, policy: Policy, acc: Acc) -> None:
    """An absent container with restoreFrom: the restore, or why it cannot be planned."""
    archive, where = _resolve(d, policy)
    if archive is None:
        missing = "no archive" if d.spec.restoreFrom == LATEST else f"no archive {d.spec.restoreFrom}"  # fmt: skip
        acc.held.append(
            _held(
                d,
                f"restoreFrom: {missing} of container {d.ctid} in {where or 'the dump directory'} ({d.origin.render()}); list them with 'vzgitops backups {d.ctid}', or remove restoreFrom to create it empty",
            )
        )
        return
    again = d.ctid in policy.interrupted_restores
    argv = (archive, str(d.ctid), *(("--force",) if again else ()))
    field = FieldChange(field="restoreFrom", before=None, after=archive, change_class="live")
    reason = f"restoreFrom: {d.spec.restoreFrom} in {d.origin.render()} and the container is absent; its settings then converge to git's"  # fmt: skip
    if again:
        reason += " (again: the last restore was interrupted; --force removes what it unpacked)"
    acc.changes.append(
        Change(ctid=d.ctid, name=d.name, action="restore", fields=(field,),
               commands=(Command(tool="vzrestore", argv=argv),), reason=reason)
    )  # fmt: skip


def refuse_existing(
    d: DesiredContainer, have: ObservedContainer, inventory: Inventory, acc: Acc
) -> None:
    """restoreFrom on a container that exists and was not restored: held, never overwritten."""
    if d.spec.restoreFrom is None or d.ctid in inventory.restored or not have.listed:
        return
    acc.held.append(
        _held(
            d,
            f"restoreFrom: container {d.ctid} exists on the node, and vzrestore never overwrites one; to restore it, destroy it first (state: absent with pruning, then state: running again), or remove restoreFrom from {d.origin.render()}",
        )
    )
