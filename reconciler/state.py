"""The state directory: inventory of owned containers, intent records, node lock (shell).

Layout under `--state-dir` (default /var/lib/vzgitops):
- `inventory.json`: containers vzgitops created or adopted (ctid -> name, protect, how, when);
- `intents/CTID.json`: written durably before every mutating vzctl call, removed after it;
  a create intent left by a crash makes that container owned, so a re-run never loses it;
- `node.lock`: a kernel file lock (flock) held by the one process that may mutate the node;
- `controller.lock`: a flock `vzgitops run` holds for its whole life: one controller per state
  directory (manual applies take only `node.lock`, between the controller's cycles);
- `last-applied.json`: the revision last applied and when;
- `desired/`: validated desired states by git tree, a cache owned by `revcache`.

Every write is temp file + fsync + rename. A corrupt or missing inventory is never a reason to
destroy: it is rebuilt from observation, marked untrusted, and pruning stays off until confirmed.
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

from reconciler.errors import LockHeld, VzGitopsError
from reconciler.plan import Inventory

STATE_DIR_ENV = "VZGITOPS_STATE_DIR"
DEFAULT_STATE_DIR = "/var/lib/vzgitops"
INVENTORY_VERSION = 1


class StateError(VzGitopsError):
    """The state directory cannot be used."""


def write_durably(path: Path, data: bytes) -> None:
    """Temp file in the same directory, fsync, rename, fsync the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path: Path, value: Any) -> None:
    write_durably(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())


@dataclass(frozen=True)
class StateDir:
    root: Path

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
            raise StateError(
                f"cannot create the state directory {self.root}: {exc.strerror}"
            ) from exc

    # ---- inventory ---------------------------------------------------------------------------

    def read_inventory_raw(self) -> dict[str, Any] | None:
        """The inventory document, or None when missing or unreadable (never guessed)."""
        try:
            data = json.loads(self.inventory_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("containers"), dict):
            return None
        return data

    def inventory_exists(self) -> bool:
        return self.inventory_path.exists()

    def load_inventory(self) -> Inventory:
        """Owned containers: the inventory plus any container with an unfinished create intent."""
        return self.inventory_of(self.read_inventory_raw())

    def inventory_of(self, data: dict[str, Any] | None) -> Inventory:
        """`load_inventory` for a document already read with `read_inventory_raw`."""
        entries: dict[str, Any] = data["containers"] if data else {}
        owned = {int(k) for k in entries if str(k).isdigit()}
        owned |= {
            ctid
            for ctid, intent in self.intents().items()
            if intent.get("action") in ("create", "recreate")
        }
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
        trusted = data is not None and not data.get("rebuilt", False)
        if data is None and not self.inventory_path.exists() and not owned:
            trusted = True  # a fresh state directory owns nothing, and knows it
        return Inventory(frozenset(owned), frozenset(protected), names, trusted)

    @property
    def previous_inventory_path(self) -> Path:
        return self.root / "inventory.prev.json"

    def update_inventory(self, change: Callable[[dict[str, Any]], None]) -> None:
        """Read-modify-write; the previous good copy is kept, and a corrupt file stays untrusted."""
        data = self.read_inventory_raw()
        if data is None:
            corrupt = self.inventory_path.exists()
            data = {"version": INVENTORY_VERSION, "containers": {}, "rebuilt": corrupt}
        else:
            write_json(self.previous_inventory_path, data)
        change(data)
        write_json(self.inventory_path, data)

    def previous_inventory(self) -> dict[int, str]:
        """The last good inventory before the current one (ctid -> name), for rebuilding."""
        try:
            data = json.loads(self.previous_inventory_path.read_text(encoding="utf-8"))
            entries = data["containers"]
            return {
                int(k): str(v.get("name", ""))
                for k, v in entries.items()
                if str(k).isdigit() and isinstance(v, dict)
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}

    def record_owned(self, ctid: int, name: str, how: str, protect: bool = False) -> None:
        def change(data: dict[str, Any]) -> None:
            entry = data["containers"].get(str(ctid)) or {"how": how, "since": time.time()}
            entry.update({"name": name, "protect": protect})
            data["containers"][str(ctid)] = entry

        self.update_inventory(change)

    def forget(self, ctid: int) -> None:
        self.update_inventory(lambda data: data["containers"].pop(str(ctid), None))

    def mark_rebuilt(self, owned: dict[int, str]) -> None:
        """After losing the inventory: record what observation proves, untrusted for pruning."""
        document = {
            "version": INVENTORY_VERSION,
            "rebuilt": True,
            "containers": {
                str(k): {"name": v, "how": "rebuilt", "since": time.time(), "protect": False}
                for k, v in owned.items()
            },
        }
        write_json(self.inventory_path, document)

    def confirm(self) -> None:
        self.update_inventory(lambda data: data.update({"rebuilt": False}))

    # ---- intents ----------------------------------------------------------------------------

    def write_intent(self, ctid: int, action: str, argv: tuple[str, ...], name: str) -> None:
        record = {
            "ctid": ctid,
            "action": action,
            "argv": list(argv),
            "name": name,
            "pid": os.getpid(),
            "at": time.time(),
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
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and isinstance(data.get("ctid"), int):
                found[data["ctid"]] = data
        return found

    # ---- last applied ------------------------------------------------------------------------

    def record_applied(self, revision: str | None, converged: bool, at: float) -> None:
        write_json(
            self.root / "last-applied.json",
            {"revision": revision, "converged": converged, "at": at},
        )

    def last_applied(self) -> dict[str, Any] | None:
        try:
            data = json.loads((self.root / "last-applied.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


@contextlib.contextmanager
def node_lock(state: StateDir, *, wait: bool = False, what: str = "vzgitops") -> Iterator[None]:
    """The single-writer lock: flock on `node.lock`; the holder is written into the file."""
    state.ensure()
    path = state.root / "node.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "another process"
            raise LockHeld(
                f"the node lock {path} is held by {holder}; wait for it or pass --wait-lock"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(
            fd,
            f"pid {os.getpid()} ({what}, since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())})\n".encode(),
            0,
        )
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def controller_lock(state: StateDir) -> Iterator[None]:
    """Held by `vzgitops run` while it runs; a second controller gets `LockHeld` (exit 75)."""
    state.ensure()
    path = state.root / "controller.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "another process"
            raise LockHeld(
                f"another vzgitops run controls {state.root}: {path} is held by {holder}; stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} (vzgitops run)\n".encode(), 0)
        yield
    finally:
        os.close(fd)
