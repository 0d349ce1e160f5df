"""The records of vzdump archives: safety dumps taken before destroys, scheduled backups (shell).

`safety-dumps.json` lists the archives taken before destroys (path, ctid, when), so the executor
deletes them once they are older than `--dump-keep`; `backups.json` holds, per container, the
last successful scheduled (or `vzgitops backup`) dump and the last failed one, for the
controller's schedule and status. `StateDir` carries these methods.
"""

from __future__ import annotations

from typing import Any

from reconciler.state.files import StateRoot, read_json, unusable, write_json

BACKUPS_FIX = "fix it, or remove it (every container with a backup policy is then dumped soon)"
DUMPS_FIX = "fix it, or remove it (the dumps it lists are then kept until removed by hand)"


class DumpRecords(StateRoot):
    """The safety dumps and the scheduled backups of a state directory."""

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

    # ---- scheduled backups -------------------------------------------------------------------

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


def _dump_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("ctid"), int)
        and isinstance(entry.get("path"), str)
        and entry["path"].startswith("/")
        and isinstance(entry.get("at"), int | float)
    )
