"""The controller's node work: apply a revision, retry it, check it for drift (shell).

Called by `controller` for one cycle; every entry point holds the node lock while it observes
and mutates, and returns a `NodeOutcome` (the cycle's result, whether the live revision
converged, each container's state) for the status document. Nothing here talks to git: it gets
a `DesiredState` that already validated.

A drift check compares the node with the live revision (`drift.compute_drift`, on the same
observation the planner uses), keeps the report in the state directory (`drift_record`) and
sends it to `--notify-url`. With `--drift correct` it then re-applies the containers whose
correction is not deferred: a container changed by hand again after a correction waits
drift-interval * 2^(n-1), capped at an hour, before its n-th consecutive correction.

Shutting down: `StoppableRunner` refuses to start any vzctl or vzlist process once the
controller is stopping, and the executor's `should_stop` skips the remaining changes, so the
call in flight finishes and nothing new starts.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from reconciler.apply import Executor, RetryPolicy
from reconciler.controller.backoff import ContainerBackoff
from reconciler.controller.drift_record import record_drift
from reconciler.controller.events import Logger
from reconciler.controller.metrics import Metrics
from reconciler.controller.notify import notify
from reconciler.controller.status import ContainerStatus, container_states, utc
from reconciler.drift import Drift, compute_drift
from reconciler.errors import Disposition, NotifyFailed, ShuttingDown
from reconciler.node.access import NodeAccess
from reconciler.node.process import DEFAULT_TIMEOUT, Completed, Runner
from reconciler.plan import Held, Plan
from reconciler.plan.result import ApplyResult, ChangeResult
from reconciler.reconcile import Options, apply_revision, make_plan
from reconciler.report import Report, build_drift_report
from reconciler.spec.desired import DesiredState
from reconciler.state import StateDir, node_lock

Result = Literal["success", "failure", "invalid", "held"]
_SEVERITY: dict[Result, int] = {"success": 0, "held": 1, "invalid": 2, "failure": 3}
DriftMode = Literal["correct", "report"]
LOCK_HOLDER = "vzgitops run"


def worst(a: Result, b: Result) -> Result:
    """The more severe of two results (a cycle's is the worst of its steps')."""
    return a if _SEVERITY[a] >= _SEVERITY[b] else b


@dataclass(frozen=True)
class StoppableRunner:
    """A `Runner` that refuses to start anything once `stopping` is set."""

    inner: Runner
    stopping: threading.Event

    def __call__(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        if self.stopping.is_set():
            raise ShuttingDown(f"not starting {argv[0]}: shutting down")
        return self.inner(argv, timeout=timeout)


@dataclass
class _OnlyExecutor(Executor):
    """An executor that runs only the changes of the containers in `only`."""

    only: frozenset[int] = frozenset()

    def apply(self, plan: Plan, protected: frozenset[int] = frozenset()) -> list[ChangeResult]:
        kept = tuple(c for c in plan.changes if c.ctid in self.only)
        return super().apply(plan.model_copy(update={"changes": kept}), protected)


@dataclass(frozen=True)
class NodeOutcome:
    """What one piece of node work found and did."""

    result: Result
    converged: bool | None  # None: nothing was applied, the previous answer stands
    containers: tuple[ContainerStatus, ...]
    unmanaged: tuple[int, ...]
    error: str | None = None
    held: tuple[Held, ...] = ()  # the plan's held changes: the node does not match git
    kind: Disposition = "retry-later"  # when not converged: back off, or wait for a change


def _disposition(result: ApplyResult) -> Disposition:
    """Permanent when every failed change ended on a permanent vzctl answer (a bad parameter,
    a missing template): retrying it cannot help until something changes. Anything else
    (transient codes past the executor's retries, timeouts, mismatches, a plan left over) is
    retried later."""
    last = [r.commands[-1] for r in result.failed if r.commands]
    whole = bool(last) and len(last) == len(result.failed)
    permanent = whole and all(c.outcome == "permanent" and c.code != -1 for c in last)
    return "permanent" if permanent else "retry-later"


@dataclass
class Enforcer:
    """Applies and checks the live revision on the node."""

    access: NodeAccess
    state: StateDir
    options: Options
    log: Logger
    metrics: Metrics
    stopping: threading.Event
    drift_mode: DriftMode
    backoff: ContainerBackoff
    notify_url: str | None = None
    clock: Callable[[], float] = time.time
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    outbox: list[Report] = field(default_factory=list)  # reports to send once the lock is free

    def apply(
        self, desired: DesiredState, sha: str, previous: DesiredState | None = None
    ) -> NodeOutcome:
        """Make the node match `desired` (a new revision, or a retry of the live one);
        `previous`: the revision before it, whose containers' nodes tell what moved here."""
        options = dataclasses.replace(self.options, previous=previous)
        with node_lock(self.state, what=LOCK_HOLDER):
            result, after = apply_revision(
                desired, sha, self.access, self.state, self._executor(), options
            )
        return self._applied(result, after, desired, {})

    def check(
        self, desired: DesiredState, sha: str, immediate: bool = False, correct: bool = True
    ) -> NodeOutcome:
        """A drift check of the live revision: report it, and correct it with --drift correct
        (`immediate`, for SIGHUP: every container now, none deferred by its correction backoff;
        `correct=False`: report only, as while a permanent failure keeps the revision parked).

        The report is sent to --notify-url after the node lock is released: a slow receiver
        must not keep a manual `vzgitops apply` waiting (or exiting 75).
        """
        try:
            return self._check(desired, sha, immediate, correct)
        finally:
            self._send_reports()

    def _check(
        self, desired: DesiredState, sha: str, immediate: bool, correct: bool
    ) -> NodeOutcome:
        with node_lock(self.state, what=LOCK_HOLDER):
            plan, observed = make_plan(desired, sha, self.access, self.state, self.options)
            mine = desired.for_node(plan.node)
            drift = compute_drift(
                mine,
                observed,
                inventory=self.state.load_inventory(),
                revision=sha,
                node=plan.node,
            )
            self._report(drift)
            changed = {c.ctid for c in plan.changes}
            self.backoff.keep_only({d.ctid for d in mine})
            for d in mine:
                if d.ctid not in changed:
                    self.backoff.settled(d.ctid)
            if self.drift_mode == "report" or not correct or plan.empty:
                return self._outcome("success", None, desired, plan, {}, {}, drift)
            return self._correct(desired, sha, plan, drift, immediate)

    # ---- steps -------------------------------------------------------------------------------

    def _sleep(self, seconds: float) -> None:
        """Retry waits end early when the controller stops."""
        self.stopping.wait(seconds)

    def _executor(self, only: frozenset[int] | None = None) -> Executor:
        run, stop, retry = self.access.run, self.stopping.is_set, self.retry
        conf, keep = self.access.identity, self.options.dump_keep
        if only is None:
            return Executor(
                run, self.state, self._sleep, retry, stop, conf, self.clock, dump_keep=keep
            )
        return _OnlyExecutor(
            run, self.state, self._sleep, retry, stop, conf, self.clock, dump_keep=keep, only=only
        )

    def _applied(
        self, result: ApplyResult, after: Plan, desired: DesiredState, deferred: dict[int, datetime]
    ) -> NodeOutcome:
        failed = {r.ctid: r.error or "failed" for r in result.failed}
        for change in result.results:
            self.log("info" if change.status == "applied" else "warning", "apply.change",
                     revision=result.revision, ctid=change.ctid, action=change.action,
                     status=change.status, error=change.error)  # fmt: skip
        converged = not failed and not ({c.ctid for c in after.changes} - set(deferred))
        self.metrics.applied_at(self.clock())
        reason = None if converged else (result.not_converged_reason or "not converged")
        self.log("info" if converged else "warning", "revision.applied",
                 revision=result.revision, converged=converged, reason=reason)  # fmt: skip
        outcome: Result = "success" if converged else "failure"
        found = self._outcome(outcome, converged, desired, after, failed, deferred, None, reason)
        return replace(found, kind=_disposition(result)) if not converged else found

    def _report(self, drift: Drift) -> None:
        """Log the drift, keep its report in the state directory, send it to --notify-url."""
        for found in drift.containers:
            fields = ",".join(f.field for f in found.fields)
            self.log("warning", "drift.detected", revision=drift.revision, ctid=found.ctid,
                     fields=fields, mode=self.drift_mode)  # fmt: skip
        for gone in drift.missing:
            self.log("warning", "drift.missing", revision=drift.revision, ctid=gone.ctid)
        report = build_drift_report(drift, generated_at=utc(self.clock()).isoformat())
        record_drift(self.state, report)
        if self.notify_url is not None:
            self.outbox.append(report)

    def _send_reports(self) -> None:
        """POST the queued reports to --notify-url; called with the node lock released."""
        while self.outbox and self.notify_url is not None:
            report = self.outbox.pop(0)
            try:
                notify(self.notify_url, report, sleep=self._sleep)
            except NotifyFailed as error:
                self.log("warning", "drift.notify_failed", error=str(error))

    def _correct(
        self, desired: DesiredState, sha: str, plan: Plan, drift: Drift, immediate: bool = False
    ) -> NodeOutcome:
        now = self.clock()
        ready = frozenset(
            c.ctid for c in plan.changes if immediate or self.backoff.ready(c.ctid, now)
        )
        deferred = {
            c.ctid: utc(self.backoff.not_before(c.ctid) or now)
            for c in plan.changes
            if c.ctid not in ready
        }
        for ctid, until in deferred.items():
            self.log("info", "drift.deferred", revision=sha, ctid=ctid, until=until.isoformat())
        if not ready:
            return self._outcome("success", None, desired, plan, {}, deferred, drift)
        result, after = apply_revision(
            desired, sha, self.access, self.state, self._executor(ready), self.options,
            planned=plan,  # made by `check` a moment ago, under the same node lock
        )  # fmt: skip
        outcome = self._applied(result, after, desired, deferred)
        for ctid in sorted(ready):
            self.backoff.corrected(ctid, self.clock())
            self._log_correction(sha, ctid, result, after)
        return outcome

    def _log_correction(self, sha: str, ctid: int, result: ApplyResult, after: Plan) -> None:
        """`drift.corrected` only for a container whose changes applied and that matches git
        afterwards; otherwise `drift.correction_failed` saying why."""
        error = next((r.error or "failed" for r in result.failed if r.ctid == ctid), None)
        left = next((c for c in after.changes if c.ctid == ctid), None)
        if error is None and left is not None:
            error = (
                "stopped before the correction was verified"
                if self.stopping.is_set()
                else f"container {ctid} still differs from git after the correction: {left.reason}"
            )
        if error is None:
            self.log("info", "drift.corrected", revision=sha, ctid=ctid)
        else:
            self.log("error", "drift.correction_failed", revision=sha, ctid=ctid, error=error)

    def _outcome(
        self,
        result: Result,
        converged: bool | None,
        desired: DesiredState,
        plan: Plan,
        failed: dict[int, str],
        deferred: dict[int, datetime],
        drift: Drift | None,
        error: str | None = None,
    ) -> NodeOutcome:
        mine = desired.for_node(plan.node)
        containers = container_states(mine, plan, failed, deferred, drift)
        unmanaged = tuple(u.ctid for u in plan.unmanaged)
        differing = sum(1 for c in containers if c.state in ("drifted", "deferred", "missing"))
        self.metrics.observed(differing, len(unmanaged))
        self._held(plan)
        if result == "success" and plan.held:
            result = "held"
        return NodeOutcome(result, converged, containers, unmanaged, error, plan.held)

    def _held(self, plan: Plan) -> None:
        """Held changes are never silent: one log line per reconcile, and the gauge."""
        self.metrics.held_changes([h.kind for h in plan.held])
        if plan.held:
            kinds = ",".join(sorted({h.kind for h in plan.held}))
            ctids = ",".join(str(h.ctid) for h in plan.held)
            self.log("warning", "plan.held", revision=plan.revision, count=len(plan.held),
                     kinds=kinds, ctids=ctids)  # fmt: skip
