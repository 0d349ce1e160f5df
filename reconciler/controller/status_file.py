"""`status.json` in the state directory: written durably by `vzgitops run`, read by
`vzgitops status` (shell). A document whose controller is gone reads as `dead`.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from reconciler.controller.status import STATUS_FILE, Status
from reconciler.controller.status_text import render_text
from reconciler.errors import VzGitopsError


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


def show_status(state_root: Path, fmt: Literal["text", "json"]) -> int:
    """`vzgitops status`: print the document; exit 0."""
    status = read_status(state_root)
    if fmt == "json":
        sys.stdout.write(status.model_dump_json(indent=2) + "\n")
    else:
        sys.stdout.write(render_text(status, datetime.now(tz=UTC)))
    return 0
