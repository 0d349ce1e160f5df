"""Exact ownership: the inventory and leftover intents resolved against observation (shell;
called by `reconcile.inventory_for` on every plan and by `vzgitops adopt`).

A container's identity is the (st_dev, st_ino) of its private area (`VE_PRIVATE` of CTID.conf)
and, where the file system has one (ext4, xfs, btrfs), the inode's generation number: vzctl
create makes the directory anew (it unpacks into `VE_PRIVATE.tmp` and renames it, REFERENCE
§3), so a hand-made container with the same CTID gets another one, and `vzctl set` never
changes it. The generation matters: ext4 gives a new directory the inode number just freed.

- A leftover create intent makes its container owned only when the container is listed, carries
  the vzctl name of the intent, and has a private area other than the one recorded before the
  call; if nothing exists for that CTID the create made nothing and the intent is dropped.
- An owned container whose identity differs from the recorded one was replaced; one missing
  from the node without a destroy intent vanished. Up to max(1, 10%) of the owned containers
  are forgotten with a warning; more at once is implausible: `OwnershipImplausible`.
- A missing inventory where state was kept before is rebuilt, untrusted, from what
  observation proves: containers whose vzctl name matches git or the last good inventory.

Nothing is written unless `record` is true (`vzgitops plan` computes the same view in memory).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import OwnershipImplausible
from reconciler.node.identity import Identity
from reconciler.plan import Inventory
from reconciler.plan.observed import ObservedState
from reconciler.state import StateDir, restored_of

Identify = Callable[[int], Identity | None]  # a node's `NodeAccess.identity`


@dataclass
class _Work:
    """What resolving found: the inventory entries as they should be, and what to write."""

    entries: dict[int, dict[str, Any]]
    rebuilt: bool
    changed: bool = False
    done_intents: list[int] = field(default_factory=list)
    unknown: set[int] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)


def resolve(
    state: StateDir,
    observed: ObservedState,
    identify: Identify,
    claims: Mapping[int, str],
    record: bool,
) -> tuple[Inventory, tuple[str, ...]]:
    """The exact inventory for this observation, and warnings; with `record`, also written.

    `claims` are the names git gives CTIDs, used only to rebuild a lost inventory.
    """
    work = _start(state, observed, identify, claims)
    intents = state.intents()
    for ctid, intent in intents.items():
        _settle_intent(work, ctid, intent, observed, identify)
    gone = _check_entries(work, intents, observed, identify)
    _forget_gone(work, gone)
    if record:
        _write(state, work)
    owned = frozenset(work.entries) - work.unknown
    protected = frozenset(c for c in owned if work.entries[c].get("protect"))
    names = {c: str(e.get("name", c)) for c, e in work.entries.items()}
    restored = restored_of({str(c): e for c, e in work.entries.items()})
    inventory = Inventory(owned, protected, names, not work.rebuilt, restored)
    return inventory, tuple(work.warnings)


def _start(
    state: StateDir, observed: ObservedState, identify: Identify, claims: Mapping[int, str]
) -> _Work:
    data = state.read_inventory_raw()
    if data is not None:
        entries = {
            int(k): dict(v)
            for k, v in data["containers"].items()
            if str(k).isdigit() and isinstance(v, dict)
        }
        return _Work(entries, bool(data.get("rebuilt", False)))
    if not state.kept_state_before():
        return _Work({}, False)  # a fresh state directory owns nothing, and knows it
    work = _Work(_rebuild(state, observed, identify, claims), True, changed=True)
    work.warnings.append(
        f"the inventory {state.inventory_path} is missing; rebuilt from the node with the {len(work.entries)} container(s) whose vzctl name matches git or the last good inventory; nothing is destroyed until 'vzgitops adopt --confirm'"
    )
    return work


def _rebuild(
    state: StateDir, observed: ObservedState, identify: Identify, claims: Mapping[int, str]
) -> dict[int, dict[str, Any]]:
    previous = state.previous_inventory()
    wanted = {**{c: str(e.get("name", "")) for c, e in previous.items()}, **claims}
    entries: dict[int, dict[str, Any]] = {}
    for ctid, name in sorted(wanted.items()):
        have = observed.containers.get(ctid)
        now = identify(ctid)
        was = previous.get(ctid, {}).get("identity")
        if have is None or not have.listed or have.name != name or now is None:
            continue
        if was is not None and was != now:
            continue
        entries[ctid] = {
            "name": name,
            "how": "rebuilt",
            "since": time.time(),
            "protect": bool(previous.get(ctid, {}).get("protect", False)),
            "identity": now,
        }
    return entries


def _settle_intent(
    work: _Work, ctid: int, intent: dict[str, Any], observed: ObservedState, identify: Identify
) -> None:
    """A leftover create intent: owned if its container carries the identity it was given,
    dropped otherwise. Other intents are settled by `_check_entries`."""
    argv = intent.get("argv") or [""]
    if intent.get("action") == "restore":
        _settle_restore(work, ctid, intent, observed, identify)
        return
    if intent.get("action") not in ("create", "recreate") or argv[0] != "create":
        return
    have = observed.containers.get(ctid)
    now = identify(ctid)
    if have is None:
        if ctid not in work.entries:  # the create made nothing; an owned CTID keeps its intent
            work.done_intents.append(ctid)
        return
    work.done_intents.append(ctid)
    name = intent.get("name")
    if have.listed and have.name == name and now is not None and now != intent.get("before"):
        entry = work.entries.get(ctid) or {
            "how": "create",
            "since": intent.get("at"),
            "protect": False,
        }
        entry.update({"name": name, "identity": now})
        work.entries[ctid] = entry
        work.changed = True
        return
    work.warnings.append(
        f"container {ctid} is on the node but is not the one an interrupted 'vzctl create' of {name!r} would have made (another name, or a private area that existed before); vzgitops does not own it"
    )


def _settle_restore(
    work: _Work, ctid: int, intent: dict[str, Any], observed: ObservedState, identify: Identify
) -> None:
    """A leftover vzrestore intent: its container is owned (and restored) if it is listed with
    a private area other than the one before the call (vzrestore writes CTID.conf last, and
    the archive's NAME, which may be another's); with nothing on the node the intent stays,
    so the restore is planned again with --force over what it may have unpacked."""
    have = observed.containers.get(ctid)
    now = identify(ctid)
    if have is None or ctid in work.entries:
        return
    work.done_intents.append(ctid)
    if have.listed and now is not None and now != intent.get("before"):
        archive = str((intent.get("argv") or [""])[0])
        work.entries[ctid] = {"how": "restore", "since": intent.get("at"), "protect": False,
                              "name": intent.get("name"), "identity": now, "restored": archive}  # fmt: skip
        work.changed = True
        return
    work.warnings.append(
        f"container {ctid} is on the node but is not the one an interrupted vzrestore would have made (its private area existed before); vzgitops does not own it"
    )


def _check_entries(
    work: _Work, intents: Mapping[int, dict[str, Any]], observed: ObservedState, identify: Identify
) -> list[int]:
    """Owned containers checked against the node: the CTIDs that vanished or were replaced."""
    gone: list[int] = []
    for ctid, entry in sorted(work.entries.items()):
        have = observed.containers.get(ctid)
        intent = intents.get(ctid, {})
        verb, action = (intent.get("argv") or [""])[0], intent.get("action")
        if have is None:
            if (action == "destroy" and verb == "destroy") or action == "move":
                # its destroy finished, or vzmigrate moved it away; forgetting it was interrupted
                del work.entries[ctid]
                work.done_intents.append(ctid)
                work.changed = True
                if action == "move":
                    work.warnings.append(
                        f"container {ctid} ({entry.get('name', ctid)}) was moved to another node by vzmigrate; it is no longer owned here"
                    )
            elif action not in ("create", "recreate") or verb not in ("create", "destroy"):
                gone.append(ctid)  # else vzgitops removed it itself to create it again
            continue
        if not have.listed:
            continue  # a config file without a private area: the plan re-creates or holds it
        _check_identity(work, ctid, entry, identify(ctid), gone)
    return gone


def _check_identity(
    work: _Work, ctid: int, entry: dict[str, Any], now: Identity | None, gone: list[int]
) -> None:
    recorded = entry.get("identity")
    if recorded is None and now is not None:
        entry["identity"] = now  # recorded by a version that kept no identity: trust it once
        work.changed = True
    elif recorded is not None and now is None:
        work.unknown.add(ctid)
        work.warnings.append(
            f"container {ctid}: its private area cannot be found, so it cannot be told from another container with that CTID; it is left alone"
        )
    elif recorded is not None and now != recorded:
        gone.append(ctid)


def _forget_gone(work: _Work, gone: list[int]) -> None:
    if not gone:
        return
    owned = len(work.entries)
    limit = max(1, owned // 10)
    shown = ", ".join(f"{c} ({work.entries[c].get('name', c)})" for c in gone)
    if len(gone) > limit:
        raise OwnershipImplausible(
            f"{len(gone)} of {owned} containers owned by vzgitops are gone from the node or were replaced by other containers with the same CTID, not by vzgitops: {shown}; nothing is planned for this node (limit {limit}). If they were destroyed by hand, acknowledge it with 'vzgitops adopt --forget {' '.join(str(c) for c in gone)}'"
        )
    for ctid in gone:
        work.warnings.append(
            f"container {ctid} ({work.entries[ctid].get('name', ctid)}), owned by vzgitops, is gone from the node or was replaced by another container with that CTID, not by vzgitops; it is no longer owned"
        )
        del work.entries[ctid]
    work.changed = True


def _write(state: StateDir, work: _Work) -> None:
    """Written when changed, and always when missing: once a command that keeps state has run,
    a missing inventory means a lost one."""
    if work.changed or not state.inventory_exists():
        document = {str(c): e for c, e in sorted(work.entries.items())}
        if work.rebuilt and not state.inventory_exists():
            state.mark_rebuilt(work.entries)
        else:
            state.update_inventory(lambda data: data.update({"containers": document}))
    for ctid in work.done_intents:
        state.clear_intent(ctid)
