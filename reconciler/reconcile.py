"""One reconcile, as an ordered list of small steps (shell; called by the CLI and controller).

load (revision files -> DesiredState) -> observe -> inventory -> plan -> apply -> verify
(observe and plan again: empty, or "not converged" and why) -> record. Each step returns early
on failure. Applying never talks to git: it gets a DesiredState that already validated.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.apply import Executor
from reconciler.node.observe import observe
from reconciler.node.process import Runner
from reconciler.ownership import resolve
from reconciler.plan import Inventory, Plan, Policy, plan
from reconciler.plan.observed import ObservedState
from reconciler.plan.result import ApplyResult, ChangeResult
from reconciler.spec.desired import DesiredState
from reconciler.state import StateDir


@dataclass(frozen=True)
class NodeAccess:
    """How the node is reached: a runner for vzctl/vzlist and the config directory."""

    run: Runner
    conf_dir: Path


@dataclass(frozen=True)
class Options:
    node: str | None = None
    prune: bool = False
    allow_mass_destroy: bool = False
    dump_before_destroy: bool = True
    dump_dir: str | None = None
    dump_keep: float = 7 * 86400.0
    max_rounds: int = 3
    record: bool = True  # whether planning may write the state directory (not for `plan`)
    clock: Callable[[], float] = field(default=time.time)
    # Told each warning of an observation as it is planned from (the controller logs them;
    # the CLI prints the ones `make_plan` returns).
    warn: Callable[[str], None] = field(default=lambda _: None)


def policy_for(desired: DesiredState, options: Options) -> Policy:
    prune = options.prune or desired.prune_enabled(options.node)
    return Policy(
        prune=prune,
        allow_mass_destroy=options.allow_mass_destroy,
        dump_before_destroy=options.dump_before_destroy,
        dump_dir=options.dump_dir,
    )


def inventory_for(
    state: StateDir,
    desired: DesiredState,
    observed: ObservedState,
    access: NodeAccess,
    options: Options,
) -> tuple[Inventory, ObservedState]:
    """The exact inventory for this observation (`ownership.resolve`), written only when
    `options.record`; its warnings are added to the observation's."""
    claims = {d.ctid: d.name for d in desired.for_node(options.node)}
    inventory, warnings = resolve(state, observed, access.conf_dir, claims, options.record)
    if warnings:
        observed = dataclasses.replace(observed, warnings=(*observed.warnings, *warnings))
    return inventory, observed


def make_plan(
    desired: DesiredState,
    revision: str | None,
    access: NodeAccess,
    state: StateDir,
    options: Options,
) -> tuple[Plan, ObservedState]:
    node = desired.choose_node(options.node)
    options = dataclasses.replace(options, node=node)
    observed = observe(access.run, access.conf_dir)
    inventory, observed = inventory_for(state, desired, observed, access, options)
    for warning in observed.warnings:
        options.warn(warning)
    result = plan(
        desired.for_node(node),
        observed,
        inventory,
        policy_for(desired, options),
        revision=revision,
        node=node,
    )
    return result, observed


def _mismatched(results: list[ChangeResult]) -> bool:
    return any(c.outcome == "mismatch" for r in results for c in r.commands)


def _merge(previous: dict[int, ChangeResult], results: list[ChangeResult]) -> None:
    for result in results:
        previous[result.ctid] = result


def apply_revision(
    desired: DesiredState,
    revision: str | None,
    access: NodeAccess,
    state: StateDir,
    executor: Executor,
    options: Options,
    planned: Plan | None = None,
) -> tuple[ApplyResult, Plan]:
    """Plan, apply, and re-plan after state mismatches; then verify. Returns (result, final plan).

    When the executor is told to stop, nothing new is started: what was applied is returned,
    not converged and unverified (the final plan is then the one that was being applied).

    `planned` is a plan the caller has just made for the same revision under the same node lock;
    the first round uses it instead of observing again, unless syncing `protect` changed the
    inventory it was planned with.
    """
    by_ctid: dict[int, ChangeResult] = {}
    rounds = 0
    if sync_protect(state, desired) or planned is None:
        planned, _ = make_plan(desired, revision, access, state, options)
    current = planned
    while not current.empty and rounds < options.max_rounds:
        rounds += 1
        inventory = state.load_inventory()
        results = executor.apply(current, inventory.protected | _protected(desired))
        _merge(by_ctid, results)
        if executor.should_stop():  # verifying would start vzlist: report what was done instead
            break
        current, _ = make_plan(desired, revision, access, state, options)
        if not _mismatched(results):
            break
    stopped = executor.should_stop() and bool(by_ctid)
    converged = current.empty and not stopped
    reason = None if converged else _why_not(current, list(by_ctid.values()), stopped)
    state.record_applied(revision, converged, options.clock())
    result = ApplyResult(
        revision=revision,
        results=tuple(by_ctid.values()),
        converged=converged,
        not_converged_reason=reason,
        rounds=max(rounds, 1),
        held=current.held,
    )
    return result, current


def sync_protect(state: StateDir, desired: DesiredState) -> bool:
    """Remember `protect: true` in the inventory, so it still holds once git drops the container.

    Returns whether the inventory changed.
    """
    inventory = state.load_inventory()
    changed = False
    for d in desired.containers:
        wanted = bool(d.spec.protect)
        if d.ctid in inventory.owned and wanted != (d.ctid in inventory.protected):
            state.record_owned(d.ctid, d.name, "create", protect=wanted)
            changed = True
    return changed


def _protected(desired: DesiredState) -> frozenset[int]:
    return frozenset(d.ctid for d in desired.containers if d.spec.protect)


def _why_not(remaining: Plan, results: list[ChangeResult], stopped: bool = False) -> str:
    failed = [r.error for r in results if r.status == "failed" and r.error]
    if failed:
        return failed[0] + (f" (and {len(failed) - 1} more failures)" if len(failed) > 1 else "")
    if stopped:
        return "stopped before the result was verified; the next run observes the node again"
    first = remaining.changes[0]
    return f"container {first.ctid} still differs after applying: {first.reason}"
