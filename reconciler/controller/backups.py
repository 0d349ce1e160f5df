"""Scheduled backups in `vzgitops run` (shell; called by the loop between reconcile cycles).

Each owned container of the live revision with a backup policy (`spec.backup`, its Defaults'
or its Node's) is dumped when due: the policy's interval after its last successful dump, or
its cron schedule's next match, plus a per-container jitter (`spec.backup.next_due`, pure). The
dumps run one after another in the loop's own thread, between cycles and under the node lock:
never two at once on a node from vzgitops, never during an apply (a manual apply holding the
lock makes them wait for the next wake-up). A stop-mode dump stops the container, so like a
stop it waits for the container's maintenance window (unless --ignore-windows). After a successful dump only, retention deletes
that container's older archives in its dump directory that neither `keepLast` nor `keepFor`
keeps; the archives of the safety net (safety-dumps.json) are never counted or deleted here,
`--dump-keep` keeps its own rule for them. Every dump is recorded in backups.json (when,
archive; or when it failed and why), logged, and shown in status.json and /metrics: a failed
dump, or one overdue by more than its period, is an error there. A failed dump is tried again
after a tenth of its period (between a minute and an hour).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.controller.events import Logger
from reconciler.controller.metrics import Metrics
from reconciler.controller.status import BackupState, BackupStatus, utc
from reconciler.errors import CommandTimeout, LockHeld, ShuttingDown, StateUnusable, VzGitopsError
from reconciler.node.access import NodeAccess
from reconciler.node.dumps import list_archives, remove, take, taken_at
from reconciler.reconcile import Options as ReconcileOptions
from reconciler.reconcile import dump_dir_of
from reconciler.spec.backup import (
    COMPRESS_ARG,
    BackupPolicy,
    expired,
    missed,
    next_due,
    retry_delay,
)
from reconciler.spec.desired import DesiredState
from reconciler.spec.windows import MaintenanceWindow, is_open, next_open
from reconciler.state import StateDir, node_lock

LOCK_HOLDER = "vzgitops run (scheduled backups)"


def due_at(policy: BackupPolicy, ctid: int, record: Mapping[str, Any], since: float) -> float:
    """When this container's next dump is due, from its backups.json record."""
    ok, failed = record.get("ok_at"), record.get("failed_at")
    last = float(ok) if isinstance(ok, int | float) else None
    if isinstance(failed, int | float) and (last is None or failed > last):
        return float(failed) + retry_delay(policy, float(failed))
    return next_due(policy, ctid, last, since)


def windowed(
    due: float, now: float, policy: BackupPolicy, windows: Sequence[MaintenanceWindow]
) -> float:
    """A stop-mode dump stops the container: like a stop, it waits for a maintenance window
    (the next start of one, when the container's windows are closed when it is due)."""
    at = max(due, now)
    if policy.mode != "stop" or not windows or is_open(windows, utc(at)):
        return due
    return next_open(windows, utc(at)).timestamp()


def backup_status(
    ctid: int, name: str, policy: BackupPolicy, record: Mapping[str, Any], since: float,
    now: float, windows: Sequence[MaintenanceWindow] = (),
) -> BackupStatus:  # fmt: skip
    """One container's line in status.json."""
    ok = record.get("ok_at")
    last = float(ok) if isinstance(ok, int | float) else None
    due = windowed(due_at(policy, ctid, record, since), now, policy, windows)
    regular = next_due(policy, ctid, last, since)
    state: BackupState = "ok" if last is not None else "never"
    error = None
    failed = record.get("failed_at")
    if isinstance(failed, int | float) and (last is None or failed > last):
        state, error = "failed", f"the last dump failed at {utc(failed).isoformat()}: {record.get('error')}"  # fmt: skip
    elif missed(policy, regular, now):
        state, error = "missed", f"no successful dump since it was due at {utc(regular).isoformat()}"  # fmt: skip
    return BackupStatus(
        ctid=ctid, name=name, policy=policy.summary(), state=state,
        last_success=utc(last) if last is not None else None,
        archive=record.get("archive") if last is not None else None,
        age_seconds=round(now - last, 3) if last is not None else None,
        next_due=utc(due), error=error,
    )  # fmt: skip


@dataclass
class Backups:
    """Takes the scheduled dumps of one node and reports on them."""

    access: NodeAccess
    state: StateDir
    options: ReconcileOptions
    log: Logger
    metrics: Metrics
    stopping: threading.Event
    clock: Callable[[], float] = time.time
    since: float = 0.0  # when the controller started: never-dumped containers are due then

    def policies(self, desired: DesiredState, node: str) -> dict[int, tuple[str, BackupPolicy]]:
        """ctid -> (name, policy) of the owned containers git wants present."""
        owned = self.state.load_inventory().owned
        names = {d.ctid: d.name for d in desired.for_node(node) if d.spec.state != "absent"}
        found = desired.backup_policies(node)
        return {c: (names[c], p) for c, p in sorted(found.items()) if c in names and c in owned}

    def _records(self) -> dict[int, dict[str, Any]]:
        try:
            return self.state.backups()
        except StateUnusable as error:
            self.log("error", "backup.state_unusable", error=str(error))
            return {}

    def _due(
        self, desired: DesiredState, node: str, records: Mapping[int, Mapping[str, Any]]
    ) -> dict[int, float]:
        """ctid -> when its next dump may run: due, and inside a window for a stop-mode one."""
        now, windows = self.clock(), self._windows(desired, node)
        return {
            c: windowed(due_at(p, c, records.get(c, {}), self.since), now, p, windows.get(c, ()))
            for c, (_, p) in self.policies(desired, node).items()
        }

    def _windows(
        self, desired: DesiredState, node: str
    ) -> dict[int, tuple[MaintenanceWindow, ...]]:
        return {} if self.options.ignore_windows else windows_of(desired, node)

    def wait(self, desired: DesiredState, node: str) -> float:
        """Seconds until the next dump is due, inf without one (at least one: a dump that waits
        for the node lock is tried again a second later, not in a tight loop)."""
        try:
            due = self.next_at(desired, node)
        except VzGitopsError:
            return float("inf")
        return float("inf") if due is None else max(1.0, due - self.clock())

    def next_at(self, desired: DesiredState, node: str) -> float | None:
        """The earliest due time (Unix time), None without policies."""
        dues = self._due(desired, node, self._records())
        return min(dues.values()) if dues else None

    def statuses(self, desired: DesiredState, node: str) -> tuple[BackupStatus, ...]:
        records, now, windows = self._records(), self.clock(), self._windows(desired, node)
        found = tuple(
            backup_status(c, name, p, records.get(c, {}), self.since, now, windows.get(c, ()))
            for c, (name, p) in self.policies(desired, node).items()
        )
        ages = {(s.ctid, s.name): s.age_seconds for s in found if s.age_seconds is not None}
        self.metrics.backups(ages, sum(1 for s in found if s.error))
        return found

    def run_due(self, desired: DesiredState, node: str) -> int:
        """Take every dump that is due now, one at a time under the node lock; how many ran.
        Errors are logged, never raised."""
        try:
            return self._run_due(desired, node)
        except VzGitopsError as error:
            self.log("error", "backup.failed", error=str(error))
            return 0

    def _run_due(self, desired: DesiredState, node: str) -> int:
        records, now = self._records(), self.clock()
        dues = self._due(desired, node, records)
        due = [(c, name, p) for c, (name, p) in self.policies(desired, node).items()
               if dues[c] <= now]  # fmt: skip
        if not due:
            return 0
        try:
            with node_lock(self.state, what=LOCK_HOLDER):
                return self._take_all(desired, node, due, records)
        except LockHeld as error:
            self.log("info", "backup.waiting", reason=str(error))
            return 0

    def _take_all(
        self, desired: DesiredState, node: str, due: list[tuple[int, str, BackupPolicy]],
        records: Mapping[int, Mapping[str, Any]],
    ) -> int:  # fmt: skip
        ran = 0
        for ctid, name, policy in due:
            if self.stopping.is_set():
                break
            ok = records.get(ctid, {}).get("ok_at")
            try:
                self._take(desired, node, ctid, name, policy,
                           float(ok) if isinstance(ok, int | float) else None)  # fmt: skip
            except ShuttingDown:
                break
            ran += 1
        return ran

    def _take(
        self, desired: DesiredState, node: str, ctid: int, name: str, policy: BackupPolicy,
        last: float | None,
    ) -> None:  # fmt: skip
        where = dump_dir_of(desired, node, ctid, self.access, self.options.dump_dir)
        age = round(self.clock() - last, 3) if last is not None else None
        self.log("info", "backup.started", ctid=ctid, name=name, mode=policy.mode,
                 dump_dir=where, last_age_seconds=age)  # fmt: skip
        try:
            dump = take(self.access.run, ctid, policy.mode, where, COMPRESS_ARG[policy.compress])
            archive, detail = dump.archive if dump.ok else None, dump.detail or f"vzdump exit {dump.code}"  # fmt: skip
        except CommandTimeout as error:
            archive, detail = None, str(error)
        at = self.clock()
        self.state.record_backup(ctid, at, archive, None if archive else detail)
        if archive is None:
            self.log("error", "backup.failed", ctid=ctid, name=name, error=detail)
            return
        self.log("info", "backup.taken", ctid=ctid, name=name, archive=archive)
        self._prune(ctid, name, policy, where, at)

    def _prune(self, ctid: int, name: str, policy: BackupPolicy, where: str, now: float) -> None:
        """Retention, after a successful dump only; the safety net's archives are not ours."""
        safety = {e["path"] for e in self.state.safety_dumps()}
        try:
            found = list_archives(self.access.run, where, frozenset({ctid}))
        except VzGitopsError as error:
            self.log("warning", "backup.prune_failed", ctid=ctid, error=str(error))
            return
        mine = [(a.path, taken_at(a)) for a in found if a.path not in safety]
        for path in expired(mine, policy, now):
            removed = remove(self.access.run, path)
            self.log("info" if removed else "warning", "backup.pruned", ctid=ctid, name=name,
                     archive=path, removed=removed)  # fmt: skip


def windows_of(desired: DesiredState, node: str) -> dict[int, tuple[MaintenanceWindow, ...]]:
    """ctid -> its maintenance windows: its own (or its Defaults'), else the node's."""
    of_node = desired.node_windows(node)
    return {d.ctid: tuple(d.spec.maintenance or of_node) for d in desired.for_node(node)}
