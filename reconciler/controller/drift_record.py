"""Drift checks for the controller and `vzgitops drift` (shell).

`check_drift` observes the node and compares it with a desired state (pure work in `drift`).
`record_drift` keeps the result in the state directory: `drift/latest.json` and a bounded
history `drift/history/NNNNNNNN.json` (the last `HISTORY_LIMIT`), every file written durably
(temp file, fsync, rename). The controller sends the same Report with `notify.notify`.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from reconciler.drift import Drift, compute_drift
from reconciler.errors import VzGitopsError
from reconciler.node.access import NodeAccess
from reconciler.node.observe import observe
from reconciler.plan.observed import ObservedState
from reconciler.reconcile import node_of
from reconciler.report import Report
from reconciler.spec.desired import DesiredState
from reconciler.state import StateDir, write_durably

HISTORY_LIMIT = 50
_ENTRY = re.compile(r"^([0-9]{8})\.json$")


def applied_revision(state: StateDir) -> str:
    """The revision last applied, which drift is measured against by default."""
    last = state.last_applied()
    revision = last.get("revision") if last else None
    if not isinstance(revision, str) or not revision:
        raise VzGitopsError(
            f"nothing was applied from {state.root} yet (no revision in last-applied.json); pass --ref to compare against a revision"
        )
    return revision


def check_drift(
    desired: DesiredState,
    revision: str | None,
    access: NodeAccess,
    state: StateDir,
    node: str | None = None,
) -> Drift:
    """Observe the node once and compare it with `desired` (one node's containers)."""
    return observe_drift(desired, revision, access, state, node)[0]


def observe_drift(
    desired: DesiredState,
    revision: str | None,
    access: NodeAccess,
    state: StateDir,
    node: str | None = None,
) -> tuple[Drift, ObservedState]:
    """`check_drift`, also returning what was observed (for `drift --adopt`)."""
    node = node_of(state, desired, node, record=False)
    observed = observe(access)
    drift = compute_drift(
        desired.for_node(node),
        observed,
        inventory=state.load_inventory(),
        revision=revision,
        node=node,
    )
    return drift, observed


def drift_dir(state: StateDir) -> Path:
    return state.root / "drift"


def history(state: StateDir) -> list[Path]:
    """History entries, oldest first."""
    folder = drift_dir(state) / "history"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _ENTRY.match(p.name))


def _next_entry(entries: list[Path], folder: Path) -> Path:
    match = _ENTRY.match(entries[-1].name) if entries else None
    number = int(match.group(1)) + 1 if match else 1
    return folder / f"{number:08d}.json"


def record_drift(state: StateDir, report: Report, keep: int = HISTORY_LIMIT) -> Path:
    """Append `report` to the history, make it `latest.json`, drop all but the last `keep`."""
    folder = drift_dir(state) / "history"
    data = (report.model_dump_json(indent=2) + "\n").encode()
    entry = _next_entry(history(state), folder)
    write_durably(entry, data)
    latest = drift_dir(state) / "latest.json"
    write_durably(latest, data)
    for old in history(state)[:-keep] if keep > 0 else []:
        with contextlib.suppress(FileNotFoundError):
            old.unlink()
    return latest
