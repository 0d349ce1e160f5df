"""Where the state directory's files are, and how each is read and written (shell).

`StateRoot` names the files (the layout is in `reconciler.state`'s docstring); the record
classes of the other modules in this package extend it, and `StateDir` combines them. Every
write is temp file + fsync + rename (`write_durably`); a state file that exists but cannot be
read or parsed is a `StateUnusable` error naming it (`read_json`, `unusable`), never absent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.atomicwrite import replace_file
from reconciler.errors import StateUnusable


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


@dataclass(frozen=True)
class StateRoot:
    """A state directory and the paths of its files."""

    root: Path
    fleet: Path | None = None  # a node's state in a fleet: the state directory it is part of

    @property
    def inventory_path(self) -> Path:
        return self.root / "inventory.json"

    @property
    def previous_inventory_path(self) -> Path:
        return self.root / "inventory.prev.json"

    @property
    def intents_dir(self) -> Path:
        return self.root / "intents"

    @property
    def node_path(self) -> Path:
        return self.root / "node.json"

    @property
    def last_applied_path(self) -> Path:
        return self.root / "last-applied.json"

    @property
    def suspension_path(self) -> Path:
        """`suspended.json` names its nodes, so a fleet keeps one, in its state directory."""
        return (self.fleet or self.root) / "suspended.json"

    @property
    def safety_dumps_path(self) -> Path:
        return self.root / "safety-dumps.json"

    @property
    def awaiting_path(self) -> Path:
        return self.root / "awaiting.json"

    @property
    def backups_path(self) -> Path:
        return self.root / "backups.json"

    def ensure(self) -> None:
        try:
            self.intents_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateUnusable(
                f"cannot create the state directory {self.root}: {exc.strerror}"
            ) from exc

    def kept_state_before(self) -> bool:
        """Whether vzgitops kept state here before: a missing inventory was then lost."""
        return self.previous_inventory_path.exists() or self.last_applied_path.exists()
