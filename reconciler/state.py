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
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.atomicwrite import replace_file
from reconciler.errors import LockHeld, StateUnusable
from reconciler.plan import Inventory
from reconciler.plan.scope import Suspension

STATE_DIR_ENV = "VZGITOPS_STATE_DIR"
NODES_DIR = "nodes"  # STATE/nodes/NAME: the state of each node reached over ssh
DEFAULT_STATE_DIR = "/var/lib/vzgitops"
INVENTORY_VERSION = 1


def write_durably(path: Path, data: bytes) -> None:
    """`replace_file` with fsync (temp file, fsync, rename, fsync the directory); on any failure
    the old file stays as it was and the error names the file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, data, durable=True)
    except OSError as exc:
        raise StateUnusable(
            f"cannot write {path}: {exc.strerror or exc}; it was left as it was"
        ) from exc


def write_json(path: Path, value: Any) -> None:
    write_durably(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())


def read_json(path: Path, fix: str) -> Any:
    """A state file's JSON, None when it does not exist; unreadable or unparsable is an error."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise StateUnusable(f"the state file {path} cannot be read: {why}; {fix}") from exc


def unusable(path: Path, fix: str) -> StateUnusable:
    return StateUnusable(f"the state file {path} is not what vzgitops wrote; {fix}")


INVENTORY_FIX = "fix it, or move it away to have it rebuilt from the node (pruning then stays off until 'vzgitops adopt --confirm')"
BACKUPS_FIX = "fix it, or remove it (every container with a backup policy is then dumped soon)"
DUMPS_FIX = "fix it, or remove it (the dumps it lists are then kept until removed by hand)"
AWAITING_FIX = (
    "fix it, or remove it once the containers it lists are on this node or no longer moved here"
)
INTENT_FIX = (
    "it records a vzctl call that was interrupted; check that container, then remove the file"
)
SUSPENDED_FIX = "fix it, or remove it (that resumes everything 'vzgitops suspend' held)"
NODE_FIX = "fix it, or remove it if this state directory really is that node's"
APPLIED_FIX = (
    "fix it, or remove it (the next revision is then applied without the history-rewrite check)"
)


@dataclass(frozen=True)
class StateDir:
    root: Path
    fleet: Path | None = None  # a node's state in a fleet: the state directory it is part of

    def node_state(self, node: str) -> StateDir:
        """The state of a node reached over ssh: STATE/nodes/NAME, its own lock, inventory and
        history; what `vzgitops suspend` holds stays the fleet's (one suspended.json)."""
        return StateDir(self.root / NODES_DIR / node, fleet=self.root)

    @property
    def inventory_path(self) -> Path:
        return self.root / "inventory.json"

    @property
    def intents_dir(self) -> Path:
        return self.root / "intents"

    def ensure(self) -> None:
        try:
            self.intents_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateUnusable(
                f"cannot create the state directory {self.root}: {exc.strerror}"
            ) from exc

    # ---- the node this state belongs to ------------------------------------------------------

    @property
    def node_path(self) -> Path:
        return self.root / "node.json"

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

    # ---- inventory ---------------------------------------------------------------------------

    def read_inventory_raw(self) -> dict[str, Any] | None:
        """The inventory document, None when it does not exist; unreadable is `StateUnusable`."""
        data = read_json(self.inventory_path, INVENTORY_FIX)
        if data is None and not self.inventory_path.exists():
            return None
        if not isinstance(data, dict) or not isinstance(data.get("containers"), dict):
            raise unusable(self.inventory_path, INVENTORY_FIX)
        return data

    def inventory_exists(self) -> bool:
        return self.inventory_path.exists()

    def kept_state_before(self) -> bool:
        """Whether vzgitops kept state here before: a missing inventory was then lost."""
        return self.previous_inventory_path.exists() or self.last_applied_path.exists()

    def load_inventory(self) -> Inventory:
        """Owned containers as recorded (intents own nothing; `ownership` resolves them)."""
        return self.inventory_of(self.read_inventory_raw())

    def inventory_of(self, data: dict[str, Any] | None) -> Inventory:
        """`load_inventory` for a document already read with `read_inventory_raw`."""
        entries: dict[str, Any] = data["containers"] if data else {}
        owned = {int(k) for k in entries if str(k).isdigit()}
        protected = {
            int(k)
            for k, v in entries.items()
            if str(k).isdigit() and isinstance(v, dict) and v.get("protect")
        }
        names = {
            int(k): str(v.get("name", k))
            for k, v in entries.items()
            if str(k).isdigit() and isinstance(v, dict)
        }
        trusted = not data.get("rebuilt", False) if data else not self.kept_state_before()
        restored = restored_of(entries)
        return Inventory(frozenset(owned), frozenset(protected), names, trusted, restored)

    @property
    def previous_inventory_path(self) -> Path:
        return self.root / "inventory.prev.json"

    def update_inventory(self, change: Callable[[dict[str, Any]], None]) -> None:
        """Read-modify-write (an unreadable inventory is an error, a lost one starts untrusted);
        then the good copy is kept next to it, to rebuild from should the inventory be lost."""
        data = self.read_inventory_raw()
        if data is None:
            lost = self.kept_state_before()
            data = {"version": INVENTORY_VERSION, "containers": {}, "rebuilt": lost}
        change(data)
        self._write_inventory(data)

    def _write_inventory(self, data: dict[str, Any]) -> None:
        write_json(self.inventory_path, data)
        write_json(self.previous_inventory_path, data)

    def previous_inventory(self) -> dict[int, dict[str, Any]]:
        """The entries of the last good copy of the inventory (a backup: unreadable counts as
        empty, which only makes a rebuild own less)."""
        try:
            entries = json.loads(self.previous_inventory_path.read_text(encoding="utf-8"))[
                "containers"
            ]
            return {
                int(k): v for k, v in entries.items() if str(k).isdigit() and isinstance(v, dict)
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}

    def record_owned(
        self,
        ctid: int,
        name: str,
        how: str,
        protect: bool | None = None,
        identity: dict[str, int] | None = None,
        restored: str | None = None,
    ) -> None:
        """Own a container; `protect` None keeps the flag it has (False for a new entry);
        `restored`: the archive a restoreFrom restored it from."""

        def change(data: dict[str, Any]) -> None:
            entry = data["containers"].get(str(ctid)) or {"how": how, "since": time.time()}
            keep = bool(entry.get("protect", False))
            entry.update({"name": name, "protect": keep if protect is None else protect})
            if identity is not None:
                entry["identity"] = identity
            if restored is not None:
                entry["restored"] = restored
            data["containers"][str(ctid)] = entry

        self.update_inventory(change)

    def forget(self, ctid: int) -> bool:
        """Stop owning a container; whether it was owned."""
        found: list[object] = []
        self.update_inventory(lambda data: found.append(data["containers"].pop(str(ctid), None)))
        return found != [None]

    def mark_rebuilt(self, entries: dict[int, dict[str, Any]]) -> None:
        """After losing the inventory: record what observation proves, untrusted for pruning."""
        document = {
            "version": INVENTORY_VERSION,
            "rebuilt": True,
            "containers": {str(k): v for k, v in entries.items()},
        }
        self._write_inventory(document)

    def confirm(self) -> None:
        self.update_inventory(lambda data: data.update({"rebuilt": False}))

    # ---- intents ----------------------------------------------------------------------------

    def write_intent(
        self,
        ctid: int,
        action: str,
        argv: tuple[str, ...],
        name: str,
        before: dict[str, int] | None = None,
    ) -> None:
        record = {
            "ctid": ctid,
            "action": action,
            "argv": list(argv),
            "name": name,
            "pid": os.getpid(),
            "at": time.time(),
            "before": before,
        }
        write_json(self.intents_dir / f"{ctid}.json", record)

    def clear_intent(self, ctid: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.intents_dir / f"{ctid}.json").unlink()

    def intents(self) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        if not self.intents_dir.is_dir():
            return found
        for path in sorted(self.intents_dir.glob("*.json")):
            data = read_json(path, INTENT_FIX)
            if data is None and not path.exists():
                continue  # cleared while listing
            if not isinstance(data, dict) or not isinstance(data.get("ctid"), int):
                raise unusable(path, INTENT_FIX)
            found[data["ctid"]] = data
        return found

    # ---- last applied ------------------------------------------------------------------------

    @property
    def last_applied_path(self) -> Path:
        return self.root / "last-applied.json"

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

    @property
    def suspension_path(self) -> Path:
        """`suspended.json` names its nodes, so a fleet keeps one, in its state directory."""
        return (self.fleet or self.root) / "suspended.json"

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

    # ---- dumps taken before destroys ---------------------------------------------------------

    @property
    def safety_dumps_path(self) -> Path:
        return self.root / "safety-dumps.json"

    def safety_dumps(self) -> list[dict[str, Any]]:
        """The recorded safety-net archives: {"ctid", "path", "at"}; unreadable is an error."""
        path = self.safety_dumps_path
        data = read_json(path, DUMPS_FIX)
        if data is None and not path.exists():
            return []
        entries = data.get("dumps") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not all(_dump_entry(e) for e in entries):
            raise unusable(path, DUMPS_FIX)
        return entries

    def record_safety_dump(self, ctid: int, archive: str, at: float) -> None:
        entries = [*self.safety_dumps(), {"ctid": ctid, "path": archive, "at": at}]
        write_json(self.safety_dumps_path, {"dumps": entries})

    def drop_safety_dumps(self, archives: set[str]) -> None:
        entries = [e for e in self.safety_dumps() if e["path"] not in archives]
        write_json(self.safety_dumps_path, {"dumps": entries})

    # ---- containers awaited from another node (moves, per-node agents) ----------------------

    @property
    def awaiting_path(self) -> Path:
        return self.root / "awaiting.json"

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

    # ---- scheduled backups -------------------------------------------------------------------

    @property
    def backups_path(self) -> Path:
        return self.root / "backups.json"

    def backups(self) -> dict[int, dict[str, Any]]:
        """ctid -> {"ok_at", "archive", "failed_at", "error"} (each may be missing)."""
        data = read_json(self.backups_path, BACKUPS_FIX)
        if data is None and not self.backups_path.exists():
            return {}
        entries = data.get("containers") if isinstance(data, dict) else None
        if not isinstance(entries, dict) or not all(
            str(k).isdigit() and isinstance(v, dict) for k, v in entries.items()
        ):
            raise unusable(self.backups_path, BACKUPS_FIX)
        return {int(k): v for k, v in entries.items()}

    def record_backup(
        self, ctid: int, at: float, archive: str | None, error: str | None = None
    ) -> None:
        """A dump of `ctid` at `at`: successful (`archive`) or failed (`error`)."""
        entries = self.backups()
        entry = entries.get(ctid, {})
        if archive is not None:
            entry.update({"ok_at": at, "archive": archive, "failed_at": None, "error": None})
        else:
            entry.update({"failed_at": at, "error": error or "failed"})
        entries[ctid] = entry
        document = {str(k): v for k, v in sorted(entries.items())}
        write_json(self.backups_path, {"containers": document})

    def last_backups(self) -> dict[int, float]:
        """ctid -> when its last successful dump was taken."""
        found = {}
        for ctid, entry in self.backups().items():
            at = entry.get("ok_at")
            if isinstance(at, int | float):
                found[ctid] = float(at)
        return found


def restored_of(entries: dict[str, Any]) -> dict[int, str]:
    """ctid -> the archive recorded as restored, from inventory entries."""
    return {
        int(k): v["restored"]
        for k, v in entries.items()
        if str(k).isdigit() and isinstance(v, dict) and isinstance(v.get("restored"), str)
    }


@contextlib.contextmanager
def node_lock(state: StateDir, *, wait: bool = False, what: str = "vzgitops") -> Iterator[None]:
    """The single-writer lock: flock on `node.lock`; the holder is written into the file."""
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with _file_lock(
        state,
        "node.lock",
        wait=wait,
        holder=f"pid {os.getpid()} ({what}, since {since})",
        held="the node lock {path} is held by {holder}; wait for it or pass --wait-lock",
    ):
        yield


@contextlib.contextmanager
def controller_lock(state: StateDir) -> Iterator[None]:
    """Held by `vzgitops run` while it runs; a second controller gets `LockHeld` (exit 75)."""
    with _file_lock(
        state,
        "controller.lock",
        wait=False,
        holder=f"pid {os.getpid()} (vzgitops run)",
        held="another vzgitops run controls {root}: {path} is held by {holder}; stop it first",
    ):
        yield


@contextlib.contextmanager
def suspension_lock(state: StateDir) -> Iterator[None]:
    """Serialises `suspend`/`resume` (read, change, write `suspended.json`); not the node lock,
    so suspending works while the controller applies."""
    with _file_lock(
        state,
        "suspended.lock",
        wait=True,
        holder=f"pid {os.getpid()} (vzgitops suspend/resume)",
        held="{path} is held by {holder}",
    ):
        yield


@contextlib.contextmanager
def _file_lock(state: StateDir, name: str, *, wait: bool, holder: str, held: str) -> Iterator[None]:
    """flock on `name` in the state directory, with `holder` written into the file for whoever
    finds it held (`held` is their message, with {path}, {root} and {holder} filled in)."""
    state.ensure()
    path = state.root / name
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        what = name.removesuffix(".lock")
        raise StateUnusable(f"cannot open the {what} lock {path}: {exc.strerror or exc}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            found = os.pread(fd, 512, 0).decode(errors="replace").strip() or "another process"
            raise LockHeld(held.format(path=path, root=state.root, holder=found)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{holder}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def _dump_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("ctid"), int)
        and isinstance(entry.get("path"), str)
        and entry["path"].startswith("/")
        and isinstance(entry.get("at"), int | float)
    )
