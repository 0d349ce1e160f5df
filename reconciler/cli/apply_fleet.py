"""`vzgitops apply` over the nodes of a fleet (shell; see `fleet` for which nodes).

Each node's lock is taken first, then every node is planned (in parallel), the plans are shown,
one confirmation covers every destroy and recreate of the fleet, and the nodes are applied in
parallel. One node's failure (locked, unreachable, not converged) is that node's; the exit code
is the fleet's worst: 1 an error, 4 held changes remain, else 0 (or 2 with --detailed-exitcode
when something changed). With one node the output is that node's report, as before fleets.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from reconciler.apply import Executor, RetryPolicy
from reconciler.cli.fleet import each, node_error
from reconciler.cli.moves import arrivals, known_states, settle, settle_one
from reconciler.cli.progress import Narrator, confirm, destructive
from reconciler.cli.steps import EXIT_ERROR, EXIT_HELD, note, plan_exit, reconcile_options, warn
from reconciler.errors import UsageError, VzGitopsError
from reconciler.fleet import Fleet, Member
from reconciler.plan import Plan
from reconciler.plan.moves import paired, placed
from reconciler.plan.result import ApplyResult, ChangeResult
from reconciler.reconcile import Options, apply_revision, make_plan
from reconciler.report import Report, build_report, render, render_outcome
from reconciler.spec.desired import DesiredState
from reconciler.state import StateDir, node_lock

Applied = tuple[Plan, ApplyResult, Plan]  # before, what applying did, after


def apply_fleet(
    args: argparse.Namespace,
    desired: DesiredState,
    sha: str,
    fleet: Fleet,
    previous: DesiredState | None = None,
) -> int:
    # the fleet's moves are paired across its nodes' plans (`_plans`), not per node
    options = dataclasses.replace(reconcile_options(args), pair_alone=False, previous=previous)
    speak = sys.stderr if args.format == "json" else sys.stdout  # stdout: one JSON document
    errors: dict[str, VzGitopsError] = {}
    with contextlib.ExitStack() as locks:
        locked = _lock(fleet.members, locks, args, errors)
        _settle(locked, desired, errors)
        before = _plans(locked, desired, sha, options, args, errors, fleet.root)
        if not fleet.several and errors:
            raise next(iter(errors.values()))  # one node: its error is the command's
        if not fleet.several:
            check_saved(args.plan_file, next(iter(before.values()))[1])
        elif args.plan_file is not None:
            raise UsageError("apply: --plan-file is the plan of one node; pass --node NAME")
        _show(before, fleet.several, speak)
        approved = args.yes or args.plan_file is not None  # a saved plan was reviewed when made
        merged = Plan(changes=tuple(c for _, p in before.values() for c in p.changes))
        terminal = sys.stdin if sys.stdin is not None and sys.stdin.isatty() else None
        confirm(merged, approved, terminal, speak)
        # what later rounds may destroy or recreate: what this plan showed (all, with --yes)
        confirmed = None if args.yes else frozenset((c.ctid, c.action) for c in destructive(merged))
        options = dataclasses.replace(options, confirmed=confirmed)
        moved = _move(before, desired, args, speak, errors)
        applied = _apply(
            before, desired, sha, options, args, speak, fleet.several, errors, moved, fleet.root
        )
    return _report(applied, errors, fleet, args)


def _settle(members: list[Member], desired: DesiredState, errors: dict[str, VzGitopsError]) -> None:
    """Moves a crash or a dropped connection left unfinished are resolved before planning."""
    try:
        note(settle(members, desired))
    except VzGitopsError as error:
        for member in members:
            errors.setdefault(member.node, error)
        members.clear()


def _lock(
    members: Sequence[Member],
    locks: contextlib.ExitStack,
    args: argparse.Namespace,
    errors: dict[str, VzGitopsError],
) -> list[Member]:
    locked = []
    for member in members:
        try:
            member.state.ensure()
            locks.enter_context(node_lock(member.state, wait=args.wait_lock, what="vzgitops apply"))
        except VzGitopsError as error:
            errors[member.node] = error
            continue
        locked.append(member)
    return locked


def _plans(
    members: Sequence[Member],
    desired: DesiredState,
    sha: str,
    options: Options,
    args: argparse.Namespace,
    errors: dict[str, VzGitopsError],
    root: StateDir,
) -> dict[str, tuple[Member, Plan]]:
    awaited = arrivals(known_states(root, desired), desired)

    def plan_one(member: Member) -> tuple[Plan, frozenset[int]]:
        node_options = dataclasses.replace(
            options, node=member.node, arriving=awaited.get(member.node, {})
        )
        plan, observed = make_plan(desired, sha, member.access, member.state, node_options)
        prefix = f"node {member.node}: " if len(members) > 1 else ""
        warn([prefix + w for w in observed.warnings])
        return plan, observed.running_ctids()

    planned: dict[str, tuple[Member, Plan]] = {}
    running: dict[str, frozenset[int]] = {}
    for member, outcome in each(members, plan_one, args.parallel):
        if isinstance(outcome, VzGitopsError):
            errors[member.node] = outcome
        else:
            planned[member.node] = (member, outcome[0])
            running[member.node] = outcome[1]
    plans = {node: plan for node, (_, plan) in planned.items()}
    now = datetime.fromtimestamp(options.clock(), UTC)
    pairing = paired(plans, running, desired, now, ignore_windows=options.ignore_windows)
    return {node: (member, pairing.plans[node]) for node, (member, _) in planned.items()}


def _show(before: dict[str, tuple[Member, Plan]], several: bool, speak: TextIO) -> None:
    for node, (_, plan) in before.items():
        if several:
            speak.write(f"=== node {node} ===\n")
        speak.write(render(build_report(plan), "text") + "\n")
    speak.flush()


def _executor(member: Member, args: argparse.Namespace, speak: TextIO, several: bool) -> Executor:
    retry = RetryPolicy(attempts=max(1, args.retry_attempts), initial=max(0.0, args.retry_backoff))
    prefix = f"node {member.node}: " if several else ""
    return Executor(
        run=Narrator(member.access.run, speak, prefix), state=member.state,
        sleep=time.sleep, retry=retry, identify=member.access.identity,
        dump_keep=args.dump_keep,
    )  # fmt: skip


Moved = dict[str, list[ChangeResult]]  # node -> what its moves did (sources and destinations)


def _move(
    before: dict[str, tuple[Member, Plan]],
    desired: DesiredState,
    args: argparse.Namespace,
    speak: TextIO,
    errors: dict[str, VzGitopsError],
) -> Moved:
    """Every move first, each on its source node (one vzmigrate), then settled: owned on the
    destination. The nodes a move touched are planned again before the rest is applied."""
    moves = {
        node: [c for c in plan.changes if c.action == "move"] for node, (_, plan) in before.items()
    }
    sources = [before[node][0] for node, found in moves.items() if found]
    if not sources:
        return {}

    def move_from(member: Member) -> list[ChangeResult]:
        executor = _executor(member, args, speak, True)
        return executor.apply(Plan(node=member.node, changes=tuple(moves[member.node])))

    moved: Moved = {}
    where = placed(desired)
    for member, outcome in each(sources, move_from, args.parallel):
        if isinstance(outcome, VzGitopsError):
            errors[member.node] = outcome
            continue
        moved[member.node] = outcome
        for result in outcome:
            if where[result.ctid] not in before:  # its node is not in this command: its own
                continue  # agent (or a later fleet command) finds it there and owns it
            dest = before[where[result.ctid]][0]
            moved.setdefault(dest.node, [])
            if result.status == "applied":
                _settled(member, dest, result, errors)
    return moved


def _settled(
    source: Member, dest: Member, result: ChangeResult, errors: dict[str, VzGitopsError]
) -> None:
    try:
        note([settle_one(source, dest, result.ctid, result.name)])
    except VzGitopsError as error:
        errors.setdefault(dest.node, error)


def _apply(
    before: dict[str, tuple[Member, Plan]],
    desired: DesiredState,
    sha: str,
    options: Options,
    args: argparse.Namespace,
    speak: TextIO,
    several: bool,
    errors: dict[str, VzGitopsError],
    moved: Moved,
    root: StateDir,
) -> dict[str, Applied]:
    # after the moves: a container whose move failed is still awaited where git places it
    awaited = arrivals(known_states(root, desired), desired)

    def apply_one(member: Member) -> Applied:
        plan = before[member.node][1]
        executor = _executor(member, args, speak, several)
        node_options = dataclasses.replace(
            options, node=member.node, arriving=awaited.get(member.node, {})
        )
        again = member.node in moved  # a move changed this node: plan it anew
        result, after = apply_revision(
            desired, sha, member.access, member.state, executor, node_options,
            planned=None if again else plan,
        )  # fmt: skip
        earlier = tuple(moved.get(member.node, ()))
        if again and not earlier:  # a destination: what it awaited has arrived; its report
            plan = after  # is the plan after the moves, not the wait before them
        if earlier:
            result = result.model_copy(update={"results": (*earlier, *result.results)})
        failed = [r.error for r in earlier if r.status == "failed" and r.error]
        if failed:
            result = result.model_copy(
                update={"converged": False, "not_converged_reason": failed[0]}
            )
        return plan, result, after

    applied: dict[str, Applied] = {}
    members = [member for member, _ in before.values() if member.node not in errors]
    for member, outcome in each(members, apply_one, args.parallel):
        if isinstance(outcome, VzGitopsError):
            errors[member.node] = outcome
        else:
            applied[member.node] = outcome
    return applied


def _report(
    applied: dict[str, Applied],
    errors: dict[str, VzGitopsError],
    fleet: Fleet,
    args: argparse.Namespace,
) -> int:
    reports = {node: build_report(*done) for node, done in applied.items()}
    if not fleet.several:
        if errors:
            raise next(iter(errors.values()))  # one node: its error is the command's
        (report,) = reports.values()
        text = args.format == "text"  # the plan was shown above: what it came to, not it again
        sys.stdout.write(render_outcome(report) if text else render(report, args.format))
    else:
        why = {node: node_error(node, error) for node, error in errors.items()}
        sys.stdout.write(render_fleet(reports, why, args.format, outcome=True))
    results = [result for _, result, _ in applied.values()]
    if errors or any(not r.converged for r in results):
        return EXIT_ERROR
    if any(r.held for r in results):
        return EXIT_HELD
    return plan_exit(args, any(not before.empty for before, _, _ in applied.values()))


def render_fleet(
    reports: dict[str, Report], errors: dict[str, str], fmt: str, *, outcome: bool = False
) -> str:
    """The reports of several nodes, each under its node's name, then the nodes that failed.
    JSON: one document {"kind": "fleet", "nodes": {name: report}, "errors": {name: why}}.
    `outcome`: an apply's text, its plans shown above (`render_outcome`)."""
    if fmt == "json":
        document = {
            "kind": "fleet",
            "nodes": {n: r.model_dump(mode="json") for n, r in sorted(reports.items())},
            "errors": dict(sorted(errors.items())),
        }
        return json.dumps(document, indent=2) + "\n"
    parts = []
    for node, report in sorted(reports.items()):
        head = f"## Node `{node}`\n\n" if fmt == "markdown" else f"=== node {node} ===\n"
        if fmt == "markdown":
            parts.append(head + render(report, "markdown"))
        else:
            parts.append(head + (render_outcome(report) if outcome else render(report, "text")))
    for node, why in sorted(errors.items()):
        head = f"## Node `{node}`\n\n" if fmt == "markdown" else f"=== node {node} ===\n"
        parts.append(f"{head}error: {why}\n")
    return "\n".join(parts)


def check_saved(path: Path | None, before: Plan) -> None:
    """`--plan-file`: apply only a saved plan that is still what planning now gives."""
    if path is None:
        return
    saved = Plan.model_validate_json(path.read_text(encoding="utf-8"))
    if saved != before:
        raise VzGitopsError(
            f"the saved plan {path} is stale: the revision or the node changed since it was made; run 'vzgitops plan --out' again"
        )
