"""The inventory of owned containers and the intent records of vzctl calls (shell).

`inventory.json` (and its last good copy `inventory.prev.json`) lists the containers vzgitops
created or adopted; `intents/CTID.json` is written durably before every mutating vzctl call and
removed after it. `ownership` resolves both against observation; `StateDir` carries these methods.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from typing import Any

from reconciler.plan import Inventory
from reconciler.state.files import StateRoot, read_json, unusable, write_json

INVENTORY_VERSION = 1
INVENTORY_FIX = "fix it, or move it away to have it rebuilt from the node (pruning then stays off until 'vzgitops adopt --confirm')"
INTENT_FIX = (
    "it records a vzctl call that was interrupted; check that container, then remove the file"
)


class InventoryRecords(StateRoot):
    """The inventory and the intents of a state directory."""

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

    # ---- intents: a mutating vzctl call in progress ----------------------------------------------------------------------------

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


def restored_of(entries: dict[str, Any]) -> dict[int, str]:
    """ctid -> the archive recorded as restored, from inventory entries."""
    return {
        int(k): v["restored"]
        for k, v in entries.items()
        if str(k).isdigit() and isinstance(v, dict) and isinstance(v.get("restored"), str)
    }
