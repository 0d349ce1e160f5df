"""The state directory: inventory of owned containers, intent records, node lock (shell).

Layout under `--state-dir` (default /var/lib/vzgitops):
- `inventory.json`: containers vzgitops created or adopted (ctid -> name, protect, how, when,
  and `identity`: the (st_dev, st_ino) of the container's private area, recorded at creation);
  `inventory.prev.json`: the last good copy, written after it, to rebuild a lost inventory from;
- `intents/CTID.json`: written durably before every mutating vzctl call, removed after it; a
  create intent also records the identity of the private area before the call (none, usually);
- `node.lock`: a kernel file lock (flock) held by the one process that may mutate the node;
- `controller.lock`: a flock `vzgitops run` holds for its whole life: one controller per state
  directory (manual applies take only `node.lock`, between the controller's cycles);
- `last-applied.json`: the revision last applied and when;
- `suspended.json`: what `vzgitops suspend` holds (nodes, containers), until `vzgitops resume`;
- `desired/`: validated desired states by git tree, a cache owned by `revcache`;
- `safety-dumps.json`: the vzdump archives taken before destroys (path, ctid, when), so the
  executor deletes them once they are older than `--dump-keep`.
- `backups.json`: per container, the last successful scheduled (or `vzgitops backup`) dump
  (when, archive) and the last failed one (when, why), for the controller's schedule and status.

Ownership is exact (`ownership` resolves it against observation on every plan): a create intent
alone owns nothing; a leftover one (a crash, or a create that exited non-zero) makes its container
owned only when the container carries the vzctl name it was created with and a private area that
is not the one recorded before the call; otherwise it is dropped. An owned container whose
private area is no longer the recorded one, or that is gone without a destroy intent, is
forgotten with a warning; more of them than max(1, 10%) of the owned containers at once is an
error for the node (`OwnershipImplausible`) until `vzgitops adopt --forget CTID` acknowledges it.

Every write is temp file + fsync + rename; a failed write (read-only directory, disk full) is a
`StateUnusable` error and leaves the old file in place. A state file that exists but cannot be
read or parsed (inventory, intents, last-applied) is a `StateUnusable` error naming it, never
treated as absent. A missing inventory where vzgitops kept state before (`inventory.prev.json`
or `last-applied.json` exist) is rebuilt from what observation proves (the vzctl name matches git
or the last good copy), marked untrusted, so pruning stays off until `vzgitops adopt --confirm`;
only commands that may write state (apply, run, adopt) write the rebuilt copy.

The package: `files` (the paths, durable writes, strict reads), `inventory` (inventory and
intents), `dumps` (safety dumps and scheduled backups), `locks` (the file locks); `StateDir`
here combines them with what the state says about its node (binding, last applied, suspension,
containers awaited from another node).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from reconciler.plan.scope import Suspension
from reconciler.state.dumps import DumpRecords
from reconciler.state.files import read_json, unusable, write_durably, write_json
from reconciler.state.inventory import InventoryRecords, restored_of
from reconciler.state.locks import controller_lock, node_lock, suspension_lock

__all__ = [
    "DEFAULT_STATE_DIR",
    "NODES_DIR",
    "STATE_DIR_ENV",
    "StateDir",
    "controller_lock",
    "node_lock",
    "restored_of",
    "suspension_lock",
    "write_durably",
    "write_json",
]

STATE_DIR_ENV = "VZGITOPS_STATE_DIR"
NODES_DIR = "nodes"  # STATE/nodes/NAME: the state of each node reached over ssh
DEFAULT_STATE_DIR = "/var/lib/vzgitops"

AWAITING_FIX = (
    "fix it, or remove it once the containers it lists are on this node or no longer moved here"
)
SUSPENDED_FIX = "fix it, or remove it (that resumes everything 'vzgitops suspend' held)"
NODE_FIX = "fix it, or remove it if this state directory really is that node's"
APPLIED_FIX = (
    "fix it, or remove it (the next revision is then applied without the history-rewrite check)"
)


@dataclass(frozen=True)
class StateDir(InventoryRecords, DumpRecords):
    """A state directory: its records (inventory, intents, dumps) and what it says of its node."""

    def node_state(self, node: str) -> StateDir:
        """The state of a node reached over ssh: STATE/nodes/NAME, its own lock, inventory and
        history; what `vzgitops suspend` holds stays the fleet's (one suspended.json)."""
        return StateDir(self.root / NODES_DIR / node, fleet=self.root)

    # ---- the node this state belongs to ------------------------------------------------------

    def bound_node(self) -> str | None:
        """The node this state directory was first used for; None before its first use."""
        data = read_json(self.node_path, NODE_FIX)
        if data is None:
            return None
        name = data.get("node") if isinstance(data, dict) else None
        if not isinstance(name, str) or not name:
            raise unusable(self.node_path, NODE_FIX)
        return name

    def bind_node(self, name: str) -> None:
        self.ensure()
        write_durably(self.node_path, (json.dumps({"node": name}) + "\n").encode())

    # ---- last applied ------------------------------------------------------------------------

    def record_applied(self, revision: str | None, converged: bool, at: float) -> None:
        write_json(
            self.last_applied_path,
            {"revision": revision, "converged": converged, "at": at},
        )

    def last_applied(self) -> dict[str, Any] | None:
        """The last applied revision, None when nothing was applied; unreadable is an error."""
        path = self.last_applied_path
        data = read_json(path, APPLIED_FIX)
        if data is None and not path.exists():
            return None
        if not isinstance(data, dict) or not isinstance(data.get("revision"), str | None):
            raise unusable(path, APPLIED_FIX)
        return data

    # ---- suspension --------------------------------------------------------------------------

    def load_suspension(self) -> Suspension:
        """What `vzgitops suspend` holds; none when the file does not exist."""
        data = read_json(self.suspension_path, SUSPENDED_FIX)
        if data is None and not self.suspension_path.exists():
            return Suspension()
        try:
            return Suspension.model_validate(data)
        except ValueError as exc:
            raise unusable(self.suspension_path, SUSPENDED_FIX) from exc

    def write_suspension(self, suspension: Suspension) -> None:
        write_durably(self.suspension_path, (suspension.model_dump_json(indent=2) + "\n").encode())

    # ---- containers awaited from another node (moves, per-node agents) ----------------------

    def awaiting(self) -> dict[int, dict[str, Any]]:
        """ctid -> {"from": node, "name": name}: containers git moved here whose migration from
        their old node this node waits for (never creating them); unreadable is an error."""
        data = read_json(self.awaiting_path, AWAITING_FIX)
        if data is None and not self.awaiting_path.exists():
            return {}
        entries = data.get("containers") if isinstance(data, dict) else None
        if not isinstance(entries, dict) or not all(
            str(k).isdigit() and isinstance(v, dict) and isinstance(v.get("from"), str)
            for k, v in entries.items()
        ):
            raise unusable(self.awaiting_path, AWAITING_FIX)
        return {int(k): v for k, v in entries.items()}

    def write_awaiting(self, entries: dict[int, dict[str, Any]]) -> None:
        if entries == self.awaiting():
            return
        document = {str(k): v for k, v in sorted(entries.items())}
        write_json(self.awaiting_path, {"containers": document})
