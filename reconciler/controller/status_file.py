"""`status.json` in the state directory: written durably by `vzgitops run`, read by
`vzgitops status` (shell). A document whose controller is gone reads as `dead`.

A central `vzgitops run` writes one document per node: this machine's node in the state
directory, each node over ssh in STATE/nodes/NAME. `vzgitops status` shows them all, one
section per node; a document that cannot be read is that node's error, not the others'.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from reconciler.controller.status import STATUS_FILE, Status
from reconciler.controller.status_text import render_text
from reconciler.errors import VzGitopsError
from reconciler.state import NODES_DIR


def status_path(state_root: Path) -> Path:
    return state_root / STATUS_FILE


def write_status(state_root: Path, status: Status) -> None:
    from reconciler.state import write_durably

    write_durably(status_path(state_root), (status.model_dump_json(indent=2) + "\n").encode())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_status(state_root: Path) -> Status:
    """The stored document; a running state whose process is gone reads as `dead`."""
    path = status_path(state_root)
    try:
        status = Status.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise VzGitopsError(
            f"no status in {state_root}: is 'vzgitops run' using --state-dir {state_root}?"
        ) from None
    except (OSError, ValidationError) as exc:
        raise VzGitopsError(f"{path} cannot be read: {type(exc).__name__}") from exc
    if status.state in ("starting", "running", "stopping") and not _alive(status.pid):
        status = status.model_copy(update={"state": "dead"})
    return status


def node_statuses(state_root: Path) -> list[tuple[Path, Status | VzGitopsError]]:
    """(state directory, its status or why it cannot be read) of the state directory and of
    each node of a central run under it, the state directory's first."""
    roots = [
        state_root,
        *sorted(p.parent for p in (state_root / NODES_DIR).glob(f"*/{STATUS_FILE}")),
    ]
    found: list[tuple[Path, Status | VzGitopsError]] = []
    for root in roots:
        if root == state_root and not status_path(root).exists() and len(roots) > 1:
            continue
        try:
            found.append((root, read_status(root)))
        except VzGitopsError as error:
            found.append((root, error))
    return found


def show_status(state_root: Path, fmt: Literal["text", "json"]) -> int:
    """`vzgitops status`: print the document (one per node of a central run); exit 0, or 1
    when a node's document cannot be read."""
    found = node_statuses(state_root)
    if len(found) == 1:
        only = found[0][1]
        if isinstance(only, VzGitopsError):
            raise only
        sys.stdout.write(_one(only, fmt))
        return 0
    errors = {_name(root, state_root): str(doc) for root, doc in found
              if isinstance(doc, VzGitopsError)}  # fmt: skip
    statuses = [(root, doc) for root, doc in found if isinstance(doc, Status)]
    if fmt == "json":
        nodes = {doc.node: doc.model_dump(mode="json") for _, doc in statuses}
        sys.stdout.write(
            json.dumps({"kind": "fleet", "nodes": nodes, "errors": errors}, indent=2) + "\n"
        )
    else:
        for _, doc in statuses:
            sys.stdout.write(f"=== node {doc.node} ===\n{_one(doc, fmt)}")
        for name, error in errors.items():
            sys.stdout.write(f"=== node {name} ===\nerror: {error}\n")
    return 1 if errors else 0


def _one(status: Status, fmt: Literal["text", "json"]) -> str:
    if fmt == "json":
        return status.model_dump_json(indent=2) + "\n"
    return render_text(status, datetime.now(tz=UTC))


def _name(root: Path, state_root: Path) -> str:
    return root.name if root != state_root else "(this machine)"
