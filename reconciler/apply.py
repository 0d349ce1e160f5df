"""The executor: runs exactly the commands of a Plan with vzctl (shell).

Exit codes (`vzexit.VzctlExit`, shared with the simulator) are classified in one table
(REFERENCE §5, §8 and the recordings): transient ones are retried with exponential backoff and
jitter (tenacity, injectable sleep), permanent ones are tried once, and state mismatches stop the container's remaining commands so that the caller
observes again and re-plans instead of retrying blindly. "Already in that state" answers count
as success. One failing container never stops the others. Before every mutating call an intent
record is written durably (for a create, with the identity its private area had before, see
`ownership`); ownership is recorded, with the new identity, as soon as a create succeeds. A
create that fails keeps its intent: the next plan decides from the node whether it made the
container (owned) or not (dropped). The results it returns are core values, `plan/result.py`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.errors import CommandTimeout, VzGitopsError, vzctl_detail
from reconciler.node.dumps import CREATING, log_of
from reconciler.node.identity import Identity
from reconciler.node.process import Completed, Runner
from reconciler.plan import Change, Command, Plan
from reconciler.plan.result import ChangeResult, CommandResult, Outcome, Status
from reconciler.state import StateDir
from reconciler.vzexit import VzctlExit, VzmigrateExit

E = VzctlExit
TRANSIENT = frozenset({
    E.SYSTEM_ERROR, E.RESOURCE_ERROR, E.LOCKED, E.EXEC_TIMEOUT, E.STOP_ERROR, E.FS_CANTMOUNT,
    E.FS_CANTUMOUNT, E.FS_DEL_PRVT, E.WAIT_FAILED, E.CONFIG_SAVE_ERROR, E.MOUNT_IMAGE,
    E.UMOUNT_IMAGE,
})  # fmt: skip
MISMATCH = frozenset(
    {E.NOVECONFIG, E.VE_NOT_RUNNING, E.VE_RUNNING, E.FS_MOUNTED, E.FS_PRVT_AREA_EXIST}
)
ALREADY_DONE = {
    ("start", E.VE_RUNNING), ("destroy", E.NOVECONFIG), ("umount", E.FS_NOT_MOUNTED),
    ("mount", E.FS_MOUNTED),
}  # fmt: skip
MUTATING = frozenset(
    {"create", "set", "start", "stop", "restart", "destroy", "mount", "umount", "vzrestore",
     "vzmigrate"}
)  # fmt: skip
MAKES = frozenset({"create", "vzrestore"})  # the calls that make a container: identity before
# vzmigrate's codes that may pass: the container is locked (a vzctl call runs), the destination
# could not be reached (REFERENCE section 10.1); every other failure is permanent for this plan.
MIGRATE_TRANSIENT = frozenset({VzmigrateExit.LOCKED, VzmigrateExit.CANT_CONNECT})
VZCTL_TIMEOUT = 900.0
DUMP_TIMEOUT = 6 * 3600.0  # a dump copies the whole private area


def classify(verb: str, code: int) -> Outcome:
    """The one exit-code table: what an exit code of vzctl means for what happens next."""
    if code == 0 or (verb, code) in ALREADY_DONE:
        return "ok"
    if code in TRANSIENT:
        return "transient"
    if code in MISMATCH:
        return "mismatch"
    return "permanent"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    initial: float = 0.5
    maximum: float = 20.0
    jitter: float = 0.5


class _Transient(Exception):
    def __init__(self, done: Completed) -> None:
        self.done = done


@dataclass
class Executor:
    """Runs a plan's commands; `sleep` is injectable so tests never wait."""

    run: Runner
    state: StateDir
    sleep: Callable[[float], None]
    retry: RetryPolicy = RetryPolicy()
    should_stop: Callable[[], bool] = lambda: False
    identify: Callable[[int], Identity | None] | None = None  # the node's NodeAccess.identity
    clock: Callable[[], float] = time.time
    dump_keep: float = 7 * 86400.0  # how long a dump taken before a destroy is kept

    def _identity(self, ctid: int) -> Identity | None:
        return self.identify(ctid) if self.identify is not None else None

    def _once(self, command: Command) -> Completed:
        argv = (command.tool, *command.argv)
        try:
            done = self.run(
                argv, timeout=VZCTL_TIMEOUT if command.tool == "vzctl" else DUMP_TIMEOUT
            )
        except CommandTimeout as exc:
            return Completed(argv, -1, "", str(exc), 0.0)
        if _outcome(command, done.code) == "transient":
            raise _Transient(done)
        return done

    def run_command(self, command: Command) -> CommandResult:
        import tenacity  # only a run that has something to do pays for importing it

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Transient),
            stop=tenacity.stop_after_attempt(self.retry.attempts),
            wait=tenacity.wait_exponential(multiplier=self.retry.initial, max=self.retry.maximum)
            + tenacity.wait_random(0, self.retry.jitter),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            done = retrying(self._once, command)
        except _Transient as exc:
            done = exc.done
        attempts = retrying.statistics.get("attempt_number", 1)
        outcome = "permanent" if done.code == -1 else _outcome(command, done.code)
        made = CREATING.search(done.stdout) if command.tool == "vzdump" else None
        if command.tool == "vzdump" and outcome == "ok" and made is None:
            outcome = "permanent"  # exit 0 without an archive: no proof of a copy, no destroy
        failed = outcome != "ok"
        return CommandResult(
            argv=command.argv,
            tool=command.tool,
            archive=made.group(1) if made is not None and not failed else None,
            code=done.code,
            attempts=attempts,
            outcome=outcome,
            output=done.output if failed else "",
            detail=_detail(command, done) if failed else "",
        )

    def apply_change(self, change: Change, protect: bool) -> ChangeResult:
        results: list[CommandResult] = []
        for command in change.commands:
            if results and self.should_stop():
                return self._result(
                    change, "failed", results, "stopped before finishing: shutting down"
                )
            if command.verb in MUTATING:
                before = self._identity(change.ctid) if command.verb in MAKES else None
                self.state.write_intent(
                    change.ctid, change.action, command.argv, change.name, before
                )
            result = self.run_command(command)
            results.append(result)
            if result.outcome != "ok" and command.tool == "vzrestore" and result.code > 0:
                # vzrestore answered: it removed what it unpacked, or refused before unpacking
                # (a directory that is not ours); only an interrupted one is forced over
                self.state.clear_intent(change.ctid)
            if result.outcome != "ok":
                return ChangeResult(
                    ctid=change.ctid,
                    name=change.name,
                    action=change.action,
                    status="failed",
                    commands=tuple(results),
                    error=_error(change, result),
                )
            self._record(change, command, protect)
            if result.archive is not None:
                self.state.record_safety_dump(change.ctid, result.archive, self.clock())
        self.state.clear_intent(change.ctid)
        return ChangeResult(
            ctid=change.ctid,
            name=change.name,
            action=change.action,
            status="applied",
            commands=tuple(results),
        )

    def _result(
        self, change: Change, status: Status, results: list[CommandResult], error: str | None
    ) -> ChangeResult:
        return ChangeResult(
            ctid=change.ctid,
            name=change.name,
            action=change.action,
            status=status,
            commands=tuple(results),
            error=error,
        )

    def _record(self, change: Change, command: Command, protect: bool) -> None:
        if command.verb == "create":
            found = self._identity(change.ctid)
            self.state.record_owned(change.ctid, change.name, "create", protect, found)
        elif command.verb == "vzrestore":
            found = self._identity(change.ctid)
            self.state.record_owned(
                change.ctid, change.name, "restore", protect, found, restored=command.argv[0]
            )
        elif command.verb == "destroy" and change.action == "destroy":
            self.state.forget(change.ctid)
        elif command.tool == "vzmigrate":
            self.state.forget(change.ctid)  # vzmigrate -r yes destroyed it here; the fleet
            # records it owned on the destination (`cli.moves.settle`)

    def apply(self, plan: Plan, protected: frozenset[int] = frozenset()) -> list[ChangeResult]:
        results: list[ChangeResult] = []
        for change in plan.changes:
            if self.should_stop():
                results.append(
                    ChangeResult(
                        ctid=change.ctid,
                        name=change.name,
                        action=change.action,
                        status="skipped",
                        error="shutting down",
                    )
                )
                continue
            results.append(self.apply_change(change, change.ctid in protected))
        self.prune_safety_dumps()
        return results

    def prune_safety_dumps(self) -> list[str]:
        """Delete the dumps taken before destroys once older than `dump_keep` (archive and
        log, `rm -f` through the Runner); returns the archives removed. One that cannot be
        removed stays recorded and is tried again after the next apply."""
        cutoff = self.clock() - self.dump_keep
        due = [e["path"] for e in self.state.safety_dumps() if e["at"] <= cutoff]
        removed = set()
        for archive in due:
            try:
                done = self.run(("rm", "-f", "--", archive, log_of(archive)))
            except (CommandTimeout, VzGitopsError):
                continue
            if done.code == 0:
                removed.add(archive)
        if removed:
            self.state.drop_safety_dumps(removed)
        return sorted(removed)


def _outcome(command: Command, code: int) -> Outcome:
    """vzctl's codes by the table; vzdump and vzrestore only say 0 or not (255): a failed dump
    is not retried here, it fails the change so the destroy after it does not run."""
    if command.tool == "vzctl":
        return classify(command.verb, code)
    if command.tool == "vzmigrate" and code in MIGRATE_TRANSIENT:
        return "transient"
    return "ok" if code == 0 else "permanent"


def _detail(command: Command, done: Completed) -> str:
    if command.tool == "vzctl":
        return vzctl_detail(done.stdout, done.stderr)
    errors = [line for line in done.stdout.splitlines() if line.startswith("ERROR:")]
    return vzctl_detail("\n".join(errors) or done.stdout, "" if errors else done.stderr)


def _error(change: Change, result: CommandResult) -> str:
    verb = result.argv[0]
    detail = result.detail or "no output"
    tries = f" after {result.attempts} attempts" if result.attempts > 1 else ""
    if result.tool == "vzmigrate":
        return f"container {change.ctid}: vzmigrate failed (exit {result.code}{tries}): {detail}; the container stays on this node"
    if result.tool == "vzdump":
        return f"container {change.ctid}: the dump before the {change.action} failed (vzdump exit {result.code}), so the container was not destroyed: {detail}"
    if result.tool == "vzrestore":
        return f"container {change.ctid}: vzrestore {result.argv[0]} failed (exit {result.code}): {detail}"
    if result.code == -1:
        return f"container {change.ctid}: vzctl {verb} timed out{tries}"
    return f"container {change.ctid}: vzctl {verb} failed (exit {result.code}{tries}): {detail}"
