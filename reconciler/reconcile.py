"""One reconcile, as an ordered list of small steps (shell; called by the CLI and controller).

load (revision files -> DesiredState) -> observe -> inventory -> plan -> apply -> verify
(observe and plan again: empty, or "not converged" and why) -> record. Each step returns early
on failure. Applying never talks to git: it gets a DesiredState that already validated.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath

from reconciler.apply import Executor
from reconciler.arrivals import arriving_here
from reconciler.errors import NodeMismatch
from reconciler.node.access import NodeAccess
from reconciler.node.dumps import list_archives, node_dump_dir
from reconciler.node.facts import gather
from reconciler.node.observe import observe
from reconciler.ownership import resolve
from reconciler.plan import Inventory, Plan, Policy, plan
from reconciler.plan.backups import backup_lines, with_backups
from reconciler.plan.moves import await_arrivals, paired
from reconciler.plan.observed import ObservedState
from reconciler.plan.preflight import needs_facts, preflight
from reconciler.plan.result import ApplyResult, ChangeResult
from reconciler.plan.scope import hold_suspended, resolve_targets, restrict
from reconciler.spec.desired import DEFAULT_NODE, DesiredContainer, DesiredState
from reconciler.spec.windows import closed
from reconciler.state import StateDir


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
    ignore_windows: bool = False  # run disruptive changes outside maintenance windows too
    clock: Callable[[], float] = field(default=time.time)
    # Told each warning of an observation as it is planned from (the controller logs them;
    # the CLI prints the ones `make_plan` returns).
    warn: Callable[[str], None] = field(default=lambda _: None)
    # --target: CTIDs or names; the plan covers only those containers (empty: all of them).
    targets: tuple[str, ...] = ()
    # The destroys and recreates a person confirmed, as (ctid, action); None: not asked (the
    # controller, --yes). A later round that plans any other is not applied.
    confirmed: frozenset[tuple[int, str]] | None = None
    # Containers git moved here from another node of the fleet that owns them (ctid -> that
    # node): never created here; the source migrates them (`plan.moves`).
    arriving: Mapping[int, str] = field(default_factory=dict)
    # The revision before this one (the controller's live one, or the parent commit): a
    # container it placed on another node is awaited here, not created (`arrivals`).
    previous: DesiredState | None = None
    # Make a move whose destination is not planned here (per-node agents, --node); a fleet
    # command pairs its nodes' plans itself (`plan.moves.paired`).
    pair_alone: bool = True


def policy_for(desired: DesiredState, options: Options) -> Policy:
    prune = options.prune or desired.prune_enabled(options.node)
    policy = Policy(
        prune=prune,
        allow_mass_destroy=options.allow_mass_destroy,
        dump_before_destroy=options.dump_before_destroy,
        dump_dir=options.dump_dir,
    )
    if options.ignore_windows:
        return policy
    now = datetime.fromtimestamp(options.clock(), UTC)
    node = desired.node_windows(options.node)
    mine = {d.ctid: d.spec.maintenance or node for d in desired.for_node(options.node)}
    return dataclasses.replace(
        policy, closed=closed(mine, now), node_closed=closed({0: node}, now).get(0)
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
    inventory, warnings = resolve(state, observed, access.identity, claims, options.record)
    if warnings:
        observed = dataclasses.replace(observed, warnings=(*observed.warnings, *warnings))
    return inventory, observed


def node_of(state: StateDir, desired: DesiredState, chosen: str | None, record: bool) -> str:
    """The node a command works on (`desired.choose_node`), checked against the node its state
    directory belongs to: a state directory never plans for another node (its inventory and
    history are that node's; `plan --node server` with the laptop's state planned destroying
    everything). The node is recorded at the first use that may write the state (`record`).

    A state first used before the repository declared any Node belongs to `default`; it passes
    to the one node the repository declares when none is chosen."""
    bound = state.bound_node()
    declared = {n.metadata.name for n in desired.nodes}
    if bound == DEFAULT_NODE and len(declared) == 1 and (not chosen or chosen in declared):
        bound = None
    if bound is not None and (chosen or bound) != bound:
        raise NodeMismatch(_mismatch(state, bound, f"node {chosen!r}"))
    if bound is not None and declared and bound not in declared:
        raise NodeMismatch(_mismatch(state, bound, "this revision, which does not declare it"))
    node = desired.choose_node(chosen or bound)
    if record and bound is None:
        state.bind_node(node)
    return node


def _mismatch(state: StateDir, bound: str, asked: str) -> str:
    return (
        f"the state directory {state.root} belongs to node {bound!r}, not to {asked}; "
        f"give that node its own --state-dir (or remove {state.node_path} if this state "
        "really is that node's)"
    )


def make_plan(
    desired: DesiredState,
    revision: str | None,
    access: NodeAccess,
    state: StateDir,
    options: Options,
) -> tuple[Plan, ObservedState]:
    node = node_of(state, desired, options.node, options.record)
    options = dataclasses.replace(options, node=node)
    observed = observe(access)
    arriving = arriving_here(
        state, desired, node, observed, access, options.arriving, options.previous, options.record
    )
    inventory, observed = inventory_for(state, desired, observed, access, options)
    for warning in observed.warnings:
        options.warn(warning)
    mine = desired.for_node(node)
    policy = with_restores(policy_for(desired, options), desired, observed, access, state, options)
    result = plan(
        mine, observed, inventory, policy, revision=revision, node=node,
        elsewhere=placed_elsewhere(desired, node),
    )  # fmt: skip
    result = checked(result, mine, observed, access, cpu_overcommit(desired, node), arriving)
    result = await_arrivals(result, arriving)
    if options.pair_alone:  # a move whose destination is not planned with this node
        now = datetime.fromtimestamp(options.clock(), UTC)
        running = {node: observed.running_ctids()}
        result = paired({node: result}, running, desired, now, options.ignore_windows).plans[node]
    lines = backup_lines(mine, desired.backup_policies(node), state.last_backups(), options.clock())
    return scoped(with_backups(result, lines), desired, observed, state, options), observed


def dump_dir_of(
    desired: DesiredState, node: str, ctid: int, access: NodeAccess, dump_dir: str | None
) -> str:
    """Where a container's archives are: its backup policy's dumpDir (its own, its Defaults'
    or its node's), else --dump-dir, else the node's (vz.conf DUMPDIR, else /vz/dump)."""
    policy = desired.backup_policies(node).get(ctid)
    chosen = policy.dumpDir if policy is not None and policy.dumpDir else dump_dir
    return node_dump_dir(access.run, access.conf_dir, chosen)


def with_restores(
    policy: Policy,
    desired: DesiredState,
    observed: ObservedState,
    access: NodeAccess,
    state: StateDir,
    options: Options,
) -> Policy:
    """restoreFrom of absent containers: the archives in their dump directories (listed through
    the Runner only when one needs it), and the restores a crash interrupted."""
    node = options.node or DEFAULT_NODE
    wanted = [
        d.ctid
        for d in desired.for_node(node)
        if d.spec.restoreFrom is not None and d.ctid not in observed.containers
    ]
    if not wanted:
        return policy
    archives: dict[int, tuple[str, tuple[str, ...]]] = {}
    listed: dict[str, tuple[str, ...]] = {}
    for ctid in wanted:
        where = dump_dir_of(desired, node, ctid, access, options.dump_dir)
        if where not in listed:
            found = list_archives(access.run, where)
            listed[where] = tuple(PurePosixPath(a.path).name for a in found)
        archives[ctid] = (where, listed[where])
    interrupted = frozenset(c for c, i in state.intents().items() if i.get("action") == "restore")
    return dataclasses.replace(policy, archives=archives, interrupted_restores=interrupted)


def placed_elsewhere(desired: DesiredState, node: str) -> dict[int, tuple[str, str]]:
    """Containers git places on another node and moves there (not spec.migrate: recreate)."""
    if not desired.nodes:
        return {}
    return {
        d.ctid: (d.name, d.node)
        for d in desired.containers
        if d.node != node and d.spec.migrate != "recreate"
    }


def scoped(
    result: Plan, desired: DesiredState, observed: ObservedState, state: StateDir, options: Options
) -> Plan:
    """`vzgitops suspend` holds its changes (read at every plan: the controller sees a change at
    its next cycle); `--target` keeps only the targeted containers."""
    result = hold_suspended(result, state.load_suspension())
    if not options.targets:
        return result
    mine = desired.for_node(result.node)
    return restrict(result, resolve_targets(options.targets, mine, observed, result.node))


def unconfirmed(current: Plan, options: Options) -> tuple[int, ...]:
    """Containers this plan destroys or recreates without a person having confirmed it."""
    if options.confirmed is None:
        return ()
    return tuple(
        c.ctid
        for c in current.changes
        if c.destructive and (c.ctid, c.action) not in options.confirmed
    )


def checked(
    planned: Plan,
    mine: tuple[DesiredContainer, ...],
    observed: ObservedState,
    access: NodeAccess,
    overcommit: float | None,
    arriving: Mapping[int, str] | None = None,
) -> Plan:
    """Pre-flight: the node is asked for its facts only when a change needs them."""
    needed = needs_facts(planned, mine, observed)
    facts = gather(access.run, PurePosixPath(access.conf_dir)) if needed else None
    return preflight(planned, mine, observed, facts, overcommit, frozenset(arriving or ()))


def cpu_overcommit(desired: DesiredState, node: str) -> float | None:
    for declared in desired.nodes:
        if declared.metadata.name == node and declared.spec.capacity is not None:
            return declared.spec.capacity.cpuOvercommit
    return None


def _mismatched(results: list[ChangeResult]) -> bool:
    return any(c.outcome == "mismatch" for r in results for c in r.commands)


def _restored(results: list[ChangeResult]) -> bool:
    """A restore applied: the restored container's settings are planned in the next round."""
    return any(r.action == "restore" and r.status == "applied" for r in results)


def _merge(previous: dict[tuple[int, bool], ChangeResult], results: list[ChangeResult]) -> None:
    """The latest result of each container; a restore's stays beside what followed it."""
    for result in results:
        previous[(result.ctid, result.action == "restore")] = result


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
    by_ctid: dict[tuple[int, bool], ChangeResult] = {}
    rounds = 0
    if sync_protect(state, desired) or planned is None:
        planned, _ = make_plan(desired, revision, access, state, options)
    current = planned
    surprise: tuple[int, ...] = ()
    while not current.empty and rounds < options.max_rounds:
        surprise = unconfirmed(current, options)
        if surprise:  # a re-plan found a destroy or recreate nobody confirmed: stop here
            break
        rounds += 1
        inventory = state.load_inventory()
        results = executor.apply(current, inventory.protected | _protected(desired))
        _merge(by_ctid, results)
        if executor.should_stop():  # verifying would start vzlist: report what was done instead
            break
        current, _ = make_plan(desired, revision, access, state, options)
        if not _mismatched(results) and not _restored(results):
            break
    stopped = executor.should_stop() and bool(by_ctid)
    converged = current.empty and not stopped
    reason = None if converged else _why_not(current, list(by_ctid.values()), stopped, surprise)
    # a partial (--target) apply never says the whole revision converged
    state.record_applied(revision, converged and not options.targets, options.clock())
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


def _why_not(
    remaining: Plan,
    results: list[ChangeResult],
    stopped: bool = False,
    surprise: tuple[int, ...] = (),
) -> str:
    if surprise:
        shown = ", ".join(str(c) for c in surprise)
        return f"planning again found a destroy or recreate that was not confirmed (container {shown}); run 'vzgitops apply' again to review it"
    failed = [r.error for r in results if r.status == "failed" and r.error]
    if failed:
        return failed[0] + (f" (and {len(failed) - 1} more failures)" if len(failed) > 1 else "")
    if stopped:
        return "stopped before the result was verified; the next run observes the node again"
    first = remaining.changes[0]
    return f"container {first.ctid} still differs after applying: {first.reason}"
