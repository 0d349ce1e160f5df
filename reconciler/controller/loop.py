"""`vzgitops run`: one node's controller (shell; driven by `fleet`, wired up by `daemon`).

    triggers (poll, webhook, watch, SIGHUP, timers) -> one cycle at a time -> schedule the next

The fleet's loop runs one `Controller` per node, each with its own schedule, backoff, live
revision (`live`) and status (`snapshot`); this is what one node's controller does in its turn. A
cycle is an ordered list of small steps, each returning early: fetch the source and resolve
the ref -> if the tip is new: the history-rewrite gate, the signature gate, read it from git
objects and validate it (or take it from `revcache` when its tree validated before), apply it
(`enforce`) -> else, when due: retry an apply that did not converge, or check the live revision
for drift -> record (status.json, metrics, log lines).

A revision that does not validate or is held is never applied; the live one keeps being
enforced and the status says why the newer one is not. Errors never end the loop, and their
class (`errors.disposition`) decides what comes next: retry-later backs off (capped
exponential); needs-human (a --ref that does not exist, a state file to mend) schedules no
retry and is not tried again at the same tip: polls go on at --interval to notice a new
revision (fetch and resolve only), and SIGHUP tries at once; permanent
(every failed vzctl call answered with a permanent code) is recorded and not re-applied until
a new revision, SIGHUP or an hour (`triggers.Failures`). SIGTERM/SIGINT end the loop between steps.
"""

from __future__ import annotations

import dataclasses
import traceback
from typing import Literal

from reconciler.controller.backoff import Backoff, ContainerBackoff, Failures
from reconciler.controller.backups import Backups
from reconciler.controller.enforce import Enforcer, NodeOutcome, Result, worst
from reconciler.controller.gate import not_valid, refusal, withheld
from reconciler.controller.live import parent_desired, read_again, recall, revision_info
from reconciler.controller.schedule import Schedule, jittered
from reconciler.controller.settings import Seams, Settings
from reconciler.controller.snapshot import publish, status_of
from reconciler.controller.status import (
    ContainerStatus,
    ErrorInfo,
    Pending,
    RevisionInfo,
    RunState,
    Status,
    utc,
)
from reconciler.controller.triggers import Reason
from reconciler.errors import (
    Disposition,
    ShuttingDown,
    SpecError,
    StateUnusable,
    UsageError,
    VzGitopsError,
    disposition,
)
from reconciler.plan import Held
from reconciler.plan.scope import Suspension
from reconciler.reconcile import Options
from reconciler.revcache import DesiredCache, desired_at
from reconciler.source import Commit
from reconciler.spec.desired import DEFAULT_NODE, DesiredState

DRIFT_BACKOFF_MAX = 3600.0


class Controller:
    """The loop and the steps of one cycle; what it records, the status document shows
    (`snapshot`)."""

    def __init__(self, settings: Settings, seams: Seams) -> None:
        self.settings = settings
        self.s = seams
        now = seams.monotonic()
        first_drift = now if settings.drift_interval > 0 else None
        self.schedule = Schedule(now + settings.interval, first_drift, settings.drift_interval)
        self.failures = Failures(Backoff(settings.backoff_initial, settings.backoff_max))
        self.node, self.backups = self._wire(settings)
        self.cache = DesiredCache(seams.state.root)
        self.started_at = seams.clock()
        self.cycles = 0
        self.run_state: RunState = "starting"
        self.last_result: Result | None = None
        self.fetched: RevisionInfo | None = None
        self.live: RevisionInfo | None = None
        self.live_desired: DesiredState | None = None
        self.converged: bool | None = None
        self.pending: Pending | None = None
        self.containers: tuple[ContainerStatus, ...] = ()
        self.unmanaged: tuple[int, ...] = ()
        self.held: tuple[Held, ...] = ()
        self.last_error: ErrorInfo | None = None
        self.tip: str | None = None  # what the ref resolved to in this cycle
        self._sighup = False
        self.unreadable_applied: str | None = None  # last-applied.json exists but is unreadable
        self.suspension: Suspension | None = None  # as read at the last cycle
        self._recall_live()

    def _wire(self, settings: Settings) -> tuple[Enforcer, Backups]:
        """The node work of these settings: applying and checking it, its scheduled dumps."""
        s = self.s
        options = Options(
            node=settings.node,
            prune=settings.prune,
            allow_mass_destroy=settings.allow_mass_destroy,
            ignore_windows=settings.ignore_windows,
            dump_before_destroy=settings.dump_before_destroy,
            dump_dir=settings.dump_dir,
            dump_keep=settings.dump_keep,
            clock=s.clock,
            warn=lambda warning: s.log("warning", "observe.warning", message=warning),
        )
        enforcer = Enforcer(
            access=s.access, state=s.state, options=options, log=s.log, metrics=s.metrics,
            stopping=s.stopping, clock=s.clock, drift_mode=settings.drift,
            backoff=ContainerBackoff(max(settings.drift_interval, 1.0), DRIFT_BACKOFF_MAX),
            notify_url=settings.notify_url,
        )  # fmt: skip
        backups = Backups(
            access=s.access, state=s.state, options=options, log=s.log, metrics=s.metrics,
            stopping=s.stopping, clock=s.clock, since=s.clock(),
        )  # fmt: skip
        return enforcer, backups

    def follow(self, node: str) -> None:
        """Work on `node` from now on: the fleet names this machine's node once a revision
        says which it is (before that, the controller reported why there was none)."""
        if node != self.settings.node:
            self.settings = dataclasses.replace(self.settings, nodes=(node,))
            self.node, self.backups = self._wire(self.settings)

    # ---- the loop ----------------------------------------------------------------------------

    def run_cycle(self, reasons: frozenset[Reason]) -> None:
        started = self.s.monotonic()
        self._sighup = "sighup" in reasons  # a full reconcile: drift checked and corrected now
        drift_due = self.schedule.drift_due(started) or self._sighup
        try:
            result = self.cycle(drift_due)
        except ShuttingDown:
            self.s.log("info", "reconcile.interrupted", reason="shutting down")
            return
        except VzGitopsError as error:
            result = self._failed(str(error), disposition(error))
        except Exception as error:  # a bug must not end the daemon: log it, back off, go on
            message = f"internal error: {type(error).__name__}: {error}"
            result = self._failed(message, "retry-later", bug=True)
        self._finish(result, started, drift_due, reasons)

    def _finish(
        self, result: Result, started: float, drift_due: bool, reasons: frozenset[Reason]
    ) -> None:
        now = self.s.monotonic()
        retry_in = self._retry_in(result)
        poll_in = jittered(self.settings.interval, self.s.random())
        self.schedule.done(now, poll_in, retry_in, drift_due)
        self.cycles += 1
        self.last_result = result
        self.s.metrics.reconciled(result, now - started)
        if result != "success" or reasons - {"poll", "drift"}:
            self.s.log("info", "reconcile.done", result=result, seconds=round(now - started, 3),
                       triggers=",".join(sorted(reasons)))  # fmt: skip

    def _retry_in(self, result: Result) -> float | None:
        """The backoff delay after a retry-later failure; None otherwise (no retry timer)."""
        if result != "failure":
            self.failures.succeeded()
            self.last_error = None if result == "success" else self.last_error
            return None
        retry_in = self.failures.retry_in()
        kind = self.failures.kind
        if retry_in is None:
            until = "a new revision or SIGHUP" + (", or an hour" if kind == "permanent" else "")
            self.s.log("warning", "reconcile.waiting", kind=kind, until=until)
            return None
        if self.last_error is not None:
            retry_at = utc(self.s.clock() + retry_in)
            self.last_error = self.last_error.model_copy(update={"retry_at": retry_at})
        self.s.log("info", "reconcile.retry", retry_in=round(retry_in, 3))
        return retry_in

    def _failed(self, message: str, kind: Disposition, bug: bool = False) -> Result:
        self._set_error(message, kind)
        extra = {"traceback": traceback.format_exc()} if bug else {}
        self.s.log("error", "reconcile.failed", error=message, kind=kind, **extra)
        return "failure"

    def _set_error(self, message: str, kind: Disposition) -> None:
        """Record the last error and its class (`Failures` decides what that allows next)."""
        self.failures.failed(kind, self.s.monotonic(), self.tip)
        parked = kind == "permanent"
        retry_at = utc(self.s.clock() + self.failures.park) if parked else None
        self.last_error = ErrorInfo(
            at=utc(self.s.clock()), message=message, kind=kind, retry_at=retry_at
        )

    # ---- one cycle ---------------------------------------------------------------------------

    def cycle(self, drift_due: bool) -> Result:
        """fetch -> a new tip (gate, validate, apply) -> or retry / drift-check the live one."""
        self._step()
        self.tip = None
        sha = self.tip = self._fetch()
        if self.failures.holding(sha, self._sighup):
            return "failure"
        self._step()
        self._recheck_applied()
        resumed_or_suspended = self._read_suspension()
        result: Result = "success"
        if self.live is not None and sha == self.live.sha:
            self.pending = None
        elif self.pending is not None and self.pending.sha == sha:
            result = self.pending.kind
        else:
            result = self._consider(sha)
            if self.pending is None:  # applied (or failed to): this cycle's node work is done
                return result
        self._step()
        if self.converged is False and self.failures.parked(self.s.monotonic(), self._sighup):
            if drift_due:  # drift is still reported, but nothing is applied while parked
                self._enforce(retry=False, correct=False)
            return worst(result, "failure")
        if self.converged is False:
            return worst(result, self._enforce(retry=True))
        if drift_due:
            return worst(result, self._enforce(retry=False))
        if resumed_or_suspended:  # apply what resume released (or hold what suspend holds) now
            return worst(result, self._enforce(retry=True))
        return result

    # ---- scheduled backups (between cycles, never during one) ---------------------------------

    def backup_wait(self) -> float:
        """Seconds until the live revision's next scheduled dump is due (`Backups.wait`)."""
        desired = self.live_desired
        if desired is None or self.live is None:
            return float("inf")
        return self.backups.wait(desired, self.node_name())

    def run_backups(self) -> int:
        """Take the live revision's dumps that are due now (`Backups.run_due`); errors are
        logged, never raised."""
        desired = self._live_desired()
        if desired is None or self.live is None:
            return 0
        return self.backups.run_due(desired, self.node_name())

    def node_name(self) -> str:
        """The node the plans are for (a wrong --node is reported by the cycle, not here)."""
        if self.live_desired is not None:
            try:
                bound = self.s.state.bound_node()
                return self.live_desired.choose_node(self.settings.node or bound)
            except (UsageError, StateUnusable):
                pass
        return self.settings.node or DEFAULT_NODE

    def _read_suspension(self) -> bool:
        """Read `suspended.json` (every cycle: no restart needed); log a change, show it in the
        metrics; whether it changed since the last cycle."""
        found = self.s.state.load_suspension()
        before, self.suspension = self.suspension, found
        node = found.node_suspended(self.node_name())
        self.s.metrics.suspension(node, len(found.ctids(self.node_name())))
        if found == (before or Suspension()):
            return False
        ctids = ",".join(str(c) for c in sorted(found.ctids(self.node_name())))
        event = "controller.suspended" if node or ctids else "controller.resumed"
        self.s.log("info", event, node=node, ctids=ctids)
        return before is not None

    def _recheck_applied(self) -> None:
        """An unreadable last-applied.json fixed or removed by a person: consider the tip again."""
        if self.unreadable_applied is not None:
            self._recall_live()
            if self.unreadable_applied is None:
                self.pending = None

    def _step(self) -> None:
        if self.s.stopping.is_set():
            raise ShuttingDown("shutting down")

    def _fetch(self) -> str:
        self.s.source.fetch()
        sha = self.s.source.resolve(self.settings.ref)
        now = self.s.clock()
        if self.fetched is None or self.fetched.sha != sha:
            self.fetched = RevisionInfo(sha=sha, at=utc(now))
            self.s.log("info", "source.fetched", revision=sha)
        else:
            self.fetched = self.fetched.model_copy(update={"at": utc(now)})
        return sha

    def _consider(self, sha: str) -> Result:
        """A new tip: gate it, read and validate it (unless its tree validated before), apply it."""
        commit = self.s.source.locate(sha, self.settings.path)
        self.fetched = revision_info(commit, self.s.clock())
        self._step()
        reason = self._gate(sha)
        if reason is not None:
            return self._hold(sha, commit.subject, "held", reason)
        try:
            desired = desired_at(self.s.source, commit, self.cache)
        except SpecError as error:
            return self._invalid(sha, commit.subject, error)
        self.s.log("info", "revision.new", revision=sha, subject=commit.subject)
        self._step()
        outcome = self.node.apply(desired, sha, self._previous(desired, commit))
        self.live, self.live_desired = revision_info(commit, self.s.clock()), desired
        self.pending = None
        return self._record(outcome)

    def _previous(self, desired: DesiredState, commit: Commit) -> DesiredState | None:
        """The revision before a new one, for what git moved to this node: the live one, else
        (a first start) the commit's parent; None without Nodes or when it cannot be read."""
        if not desired.nodes:
            return None
        if self.live_desired is not None:
            return self.live_desired
        return parent_desired(self.s.source, self.settings.path, self.cache, commit)

    def _gate(self, sha: str) -> str | None:
        """Why this tip must not be applied (`gate.refusal`), or None."""
        return refusal(
            self.s.source, self.settings, self.live.sha if self.live else None, sha,
            self.unreadable_applied, self.s.log,
        )  # fmt: skip

    def _invalid(self, sha: str, subject: str | None, error: SpecError | None) -> Result:
        return self._hold(sha, subject, "invalid", not_valid(error), error)

    def _hold(
        self, sha: str, subject: str | None, kind: Literal["invalid", "held"], reason: str,
        error: SpecError | None = None,
    ) -> Result:  # fmt: skip
        live = self.live.sha if self.live else None
        held = self.pending = withheld(sha, subject, kind, reason, live, self.s.clock(), error)
        self.s.log("warning", f"revision.{kind}", revision=sha, reason=held.reason,
                   problems=len(held.problems))  # fmt: skip
        return kind

    def _enforce(self, retry: bool, correct: bool = True) -> Result:
        """Re-apply the live revision after a failure, or check it for drift (and correct it,
        unless `correct` is False)."""
        desired = self._live_desired()
        if desired is None or self.live is None:
            return "success"
        if retry:
            return self._record(self.node.apply(desired, self.live.sha))
        check = self.node.check(desired, self.live.sha, immediate=self._sighup, correct=correct)
        return self._record(check)

    def _record(self, outcome: NodeOutcome) -> Result:
        self.containers, self.unmanaged = outcome.containers, outcome.unmanaged
        self.held = outcome.held
        if outcome.converged is not None:
            self.converged = outcome.converged
        if outcome.error is not None:
            self._set_error(outcome.error, outcome.kind)
        return outcome.result

    # ---- the live revision -------------------------------------------------------------------

    def _recall_live(self) -> None:
        """After a restart the live revision is the one in last-applied.json; when that file
        cannot be read, nothing new is applied (`_gate`) until it can."""
        try:
            recalled = recall(self.s.state, self.s.clock)
        except StateUnusable as error:
            self.unreadable_applied = str(error)
            return
        self.unreadable_applied = None
        if recalled is not None:
            self.live, self.converged = recalled

    def _live_desired(self) -> DesiredState | None:
        """The live revision's desired state, read again from git after a restart."""
        if self.live_desired is not None or self.live is None:
            return self.live_desired
        try:
            self.live, self.live_desired = read_again(
                self.s.source, self.settings.path, self.cache, self.live
            )
        except VzGitopsError as error:
            self.s.log("warning", "revision.unreadable", revision=self.live.sha, error=str(error))
            self.converged = None  # nothing to retry or check until a new revision is applied
            return None
        return self.live_desired

    # ---- status ------------------------------------------------------------------------------

    def snapshot(self) -> Status:
        """The status document as of now (`snapshot.status_of`)."""
        return status_of(self)

    def write_status(self) -> None:
        """Write status.json (`snapshot.publish`); an error is logged."""
        publish(self)
