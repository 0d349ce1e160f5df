"""One function per `vzgitops` command: parsed arguments -> work -> exit code (shell).

Each command imports what it needs when it runs, so `vzgitops plan` never loads the controller,
the webhook server or the simulator.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.cli.steps import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    load,
    node_access,
    parent_of,
    plan_exit,
    print_problems,
    reconcile_options,
    state_dir,
    user_cache,
    warn,
)
from reconciler.errors import SpecError, UsageError, VzGitopsError
from reconciler.state import NODES_DIR

if TYPE_CHECKING:  # the types only: each command imports what it runs when it runs
    from reconciler.cli.steps import Loaded
    from reconciler.drift import Drift
    from reconciler.fleet import Member
    from reconciler.node.access import NodeAccess
    from reconciler.plan.observed import ObservedState
    from reconciler.spec.desired import DesiredState
    from reconciler.state import StateDir


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        loaded = load(args, None)
    except SpecError as error:
        print_problems(error, args.format)
        return EXIT_ERROR
    count = len(loaded.desired.containers)
    sha = loaded.commit.sha
    if args.format == "json":
        print(
            json.dumps(
                {"valid": True, "revision": sha, "containers": count, "problems": []}, indent=2
            )
        )
    else:
        print(f"Valid: {count} container{'s' if count != 1 else ''} at {sha[:12]}.")
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from reconciler.cli.fleet import each, failed_sections, fleet_for
    from reconciler.cli.moves import arrivals, known_states
    from reconciler.plan.moves import paired
    from reconciler.reconcile import make_plan
    from reconciler.report import build_plan_report, build_report, render
    from reconciler.state import StateDir

    if args.base is not None or args.offline:
        return cmd_plan_pr(args)
    args.ref = args.head or args.ref
    state = StateDir(state_dir(args.state_dir))
    try:
        loaded = load(args, state)
    except SpecError as error:
        print_problems(error, "json" if args.format == "json" else "text")
        return EXIT_ERROR
    options = dataclasses.replace(  # plan writes no state; the fleet's moves are paired below
        reconcile_options(args), record=False, pair_alone=False, previous=parent_of(loaded, state)
    )
    fleet = fleet_for(args, loaded.desired, state)
    awaited = arrivals(known_states(state, loaded.desired), loaded.desired)
    try:
        done = each(
            fleet.members,
            lambda m: make_plan(
                loaded.desired, loaded.commit.sha, m.access, m.state,
                dataclasses.replace(options, node=m.node, arriving=awaited.get(m.node, {})),
            ),
            args.parallel,
        )  # fmt: skip
    finally:
        fleet.close()
    first = done[0][1]
    if not fleet.several and isinstance(first, VzGitopsError):
        raise first  # one node: its error is the command's, as before there were fleets
    if fleet.several and args.out is not None:
        raise UsageError("plan: --out saves the plan of one node; pass --node NAME")
    planned, running = {}, {}
    for member, outcome in done:
        if not isinstance(outcome, VzGitopsError):
            prefix = f"node {member.node}: " if fleet.several else ""
            warn([prefix + w for w in outcome[1].warnings])
            planned[member.node] = outcome[0]
            running[member.node] = outcome[1].running_ctids()
    now = datetime.fromtimestamp(time.time(), UTC)
    pairing = paired(planned, running, loaded.desired, now, ignore_windows=args.ignore_windows)
    plans = [pairing.plans[m.node] for m in fleet.members if m.node in pairing.plans]
    if not fleet.several:
        (plan,) = plans
        if args.out is not None:
            args.out.write_text(plan.model_dump_json(indent=2) + "\n", encoding="utf-8")
        report = build_report(plan)
        sys.stdout.write(render(report, args.format))
        return plan_exit(args, report.has_changes)
    report = build_plan_report(plans, failed=failed_sections(done))
    sys.stdout.write(render(report, args.format))
    if report.failed_nodes:
        return EXIT_ERROR
    return plan_exit(args, report.has_changes)


def cmd_plan_pr(args: argparse.Namespace) -> int:
    """`plan --base REF --head REF [--offline]`: what merging head into base would do."""
    from reconciler.prplan import pr_report
    from reconciler.report import render
    from reconciler.source import open_source
    from reconciler.state import StateDir

    if args.base is None:
        raise UsageError("plan: --offline needs --base (the revision that stands in for the node)")
    if args.out is not None:
        raise UsageError("plan: --out saves a plan of one revision; it cannot be used with --base")
    if args.offline and args.target:
        raise UsageError(
            "plan: --target picks containers of a node; it cannot be used with --offline"
        )
    state = StateDir(state_dir(args.state_dir))
    cache = user_cache() if args.offline else state.root / "cache"
    source = open_source(args.repo, cache)
    source.fetch()
    access = None if args.offline else node_access(args)
    try:
        report = pr_report(
            source, args.base, args.head or args.ref, args.path,
            access=access, state=state,
            options=dataclasses.replace(reconcile_options(args), record=False),
        )  # fmt: skip
    except SpecError as error:
        print_problems(error, "json" if args.format == "json" else "text")
        return EXIT_ERROR
    sys.stdout.write(render(report, args.format))
    return EXIT_CHANGES if report.has_changes else EXIT_OK


def _applied_or_head(state: StateDir, applied: Callable[[StateDir], str]) -> str | None:
    """The revision this machine's node last applied; None (the tip) when it applied none,
    as in a fleet reached over ssh only, whose nodes each say what they applied."""
    try:
        return applied(state)
    except VzGitopsError:
        if not (state.root / NODES_DIR).is_dir():
            raise
        return None


def _drift_base(
    member: Member, loaded: Loaded, given: str | None, root: StateDir
) -> tuple[DesiredState, str] | VzGitopsError:
    """What a node's drift is measured against: --ref, else the revision that node last
    applied (each node of a fleet has its own), read in turn (git is not shared by threads)."""
    from reconciler.controller.drift_record import applied_revision
    from reconciler.revcache import DesiredCache, desired_at

    if given is not None:
        return loaded.desired, loaded.commit.sha
    try:
        sha = applied_revision(member.state)
        if sha == loaded.commit.sha:
            return loaded.desired, sha
        commit = loaded.source.locate(sha, loaded.commit.path)
        return desired_at(loaded.source, commit, DesiredCache(root.root)), sha
    except VzGitopsError as error:
        return error


def _node_drift(
    member: Member, base: tuple[DesiredState, str] | VzGitopsError
) -> tuple[Drift, ObservedState]:
    from reconciler.controller.drift_record import observe_drift

    if isinstance(base, VzGitopsError):
        raise base
    desired, sha = base
    return observe_drift(desired, sha, member.access, member.state, member.node)


def cmd_drift(args: argparse.Namespace) -> int:
    """`drift`: the nodes against the last applied revision (or --ref); exit 2 on drift."""
    from reconciler.cli.apply_fleet import render_fleet
    from reconciler.cli.fleet import each, fleet_for, node_error
    from reconciler.controller.drift_record import applied_revision
    from reconciler.report import build_drift_report, render
    from reconciler.state import StateDir

    if args.branch is not None and not args.adopt:
        raise UsageError("drift: --branch is only used with --adopt")
    if args.adopt:
        from reconciler.adopt_drift import check_adoptable

        check_adoptable(args.repo, args.branch)
    state = StateDir(state_dir(args.state_dir))
    given = args.ref
    args.ref = given or _applied_or_head(state, applied_revision)
    loaded = load(args, state)
    desired = loaded.desired
    fleet = fleet_for(args, desired, state)
    if args.adopt and fleet.several:
        fleet.close()
        raise UsageError("drift --adopt writes one node's drift back into git; pass --node NAME")
    try:
        against = {m.node: _drift_base(m, loaded, given, state) for m in fleet.members}
        done = each(fleet.members, lambda m: _node_drift(m, against[m.node]), args.parallel)
    finally:
        fleet.close()
    if fleet.several:
        reports = {
            m.node: build_drift_report(d[0]) for m, d in done if not isinstance(d, VzGitopsError)
        }
        errors = {m.node: node_error(m.node, d) for m, d in done if isinstance(d, VzGitopsError)}
        sys.stdout.write(render_fleet(reports, errors, args.format))
        if errors:
            return EXIT_ERROR
        return (
            EXIT_OK
            if all(r.drift is None or r.drift.clean for r in reports.values())
            else EXIT_CHANGES
        )
    _, outcome = done[0]
    if isinstance(outcome, VzGitopsError):
        raise outcome
    drift, observed = outcome
    sys.stdout.write(render(build_drift_report(drift), args.format))
    if args.adopt:
        from reconciler.adopt_drift import adopt

        revision = loaded.source.read_at(loaded.commit)
        result = adopt(Path(args.repo), revision, desired, drift, observed, args.branch)
        print("\n".join(result.messages), file=sys.stderr)
        return EXIT_OK
    return EXIT_OK if drift.clean else EXIT_CHANGES


def cmd_apply(args: argparse.Namespace) -> int:
    from reconciler.cli.apply_fleet import apply_fleet
    from reconciler.cli.fleet import fleet_for
    from reconciler.state import StateDir

    state = StateDir(state_dir(args.state_dir))
    state.ensure()  # apply keeps state; its first run already caches the validated revision
    try:
        loaded = load(args, state)
    except SpecError as error:
        print_problems(error, args.format)
        return EXIT_ERROR
    fleet = fleet_for(args, loaded.desired, state)
    try:
        return apply_fleet(args, loaded.desired, loaded.commit.sha, fleet, parent_of(loaded, state))
    finally:
        fleet.close()


def cmd_schema(args: argparse.Namespace) -> int:
    from reconciler.cli.schemas import write_schemas

    for path in write_schemas(args.out):
        print(path)
    if args.fields is not None:
        from reconciler.spec.fieldref import render_fields

        args.fields.write_text(render_fields(), encoding="utf-8")
        print(args.fields)
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    """`import`: YAML for the node's containers. Every file is checked before any is written:
    one that exists already refuses the whole import unless --force."""
    import yaml

    from reconciler.atomicwrite import replace_file
    from reconciler.cli.fleet import one_node
    from reconciler.importer import MODELINE, check_wanted, documents
    from reconciler.node.observe import observe
    from reconciler.state import node_lock

    member = one_node(args)
    access, state = member.access, member.state
    try:
        observed = observe(access)
    finally:
        access.close()
    found = documents(observed, check_wanted(observed, args.ctid), args.node)
    for warning in found.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    paths = {ctid: args.out / f"{doc['metadata']['name']}.yaml" for ctid, doc in found.docs.items()}
    taken = sorted(str(path) for path in paths.values() if path.exists())
    if taken and not args.force:
        msg = (
            f"import: {', '.join(taken)} exist(s) already; nothing was written (--force overwrites)"
        )
        raise VzGitopsError(msg)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        with node_lock(state, what="vzgitops import"):
            for ctid, document in found.docs.items():
                text = MODELINE + yaml.safe_dump(document, sort_keys=False)
                replace_file(paths[ctid], text.encode("utf-8"))
                name = document["metadata"]["name"]
                state.record_owned(ctid, name, "import", identity=access.identity(ctid))
                print(f"imported container {ctid} -> {paths[ctid]}")
    finally:
        access.close()
    return EXIT_OK


def cmd_adopt(args: argparse.Namespace) -> int:
    from reconciler.cli.fleet import one_node

    if not args.ctids and not args.confirm and not args.forget:
        raise UsageError("adopt: name the containers to adopt, or pass --confirm or --forget CTID")
    member = one_node(args)
    try:
        return _adopt(args, member.access, member.state)
    finally:
        member.access.close()


def _adopt(args: argparse.Namespace, access: NodeAccess, state: StateDir) -> int:
    from reconciler.node.observe import observe
    from reconciler.ownership import resolve
    from reconciler.state import node_lock

    with node_lock(state, what="vzgitops adopt"):
        for ctid in args.forget:  # first: acknowledging vanished containers unblocks resolving
            owned = state.forget(ctid)
            print(f"forgot container {ctid}" if owned else f"container {ctid} was not owned")
        observed = observe(access)
        warn(resolve(state, observed, access.identity, {}, record=True)[1])
        for ctid in args.ctids:
            container = observed.containers.get(ctid)
            if container is None or not container.listed:
                raise VzGitopsError(f"container {ctid} is not on the node; nothing adopted")
            found = access.identity(ctid)
            state.record_owned(ctid, container.name or f"ct{ctid}", "adopt", identity=found)
            print(f"adopted container {ctid}")
        if args.confirm:
            state.confirm()
            print("inventory confirmed; pruning is allowed again")
    return EXIT_OK


def cmd_completion(args: argparse.Namespace) -> int:
    """`completion SHELL`: the completion script, generated from the parser."""
    from reconciler.cli.args import build_parser
    from reconciler.cli.completion import script

    sys.stdout.write(script(args.shell, build_parser()))
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """`run`: the controller loop until SIGTERM/SIGINT (exit 0)."""
    from reconciler.controller.daemon import run_from_args

    return run_from_args(args)


def cmd_suspend(args: argparse.Namespace) -> int:
    """`suspend [--node N] [CTID...]`: the controller (and apply) hold those changes."""
    return _suspension(args, suspend=True)


def cmd_resume(args: argparse.Namespace) -> int:
    """`resume [--node N] [CTID...]`: lift what `suspend` held; the next cycle applies it."""
    return _suspension(args, suspend=False)


def _suspension(args: argparse.Namespace, suspend: bool) -> int:
    from reconciler.state import StateDir, suspension_lock

    state = StateDir(state_dir(args.state_dir))
    with suspension_lock(state):
        before = state.load_suspension()
        change = before.suspend if suspend else before.resume
        after = change(args.node, tuple(args.ctids))
        state.write_suspension(after)
    where = f"node {args.node}" if args.node else "the node"
    what = ", ".join(f"container {c}" for c in args.ctids) or where
    if suspend:
        print(f"suspended {what}: changes are held until 'vzgitops resume'")
    elif after == before:
        print(f"{what} was not suspended")
    else:
        print(f"resumed {what}: the controller applies held changes at its next cycle")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from reconciler.controller.status_file import show_status

    return show_status(state_dir(args.state_dir), args.format)


def cmd_backup(args: argparse.Namespace) -> int:
    from reconciler.cli.backup import cmd_backup as backup

    return backup(args)


def cmd_backups(args: argparse.Namespace) -> int:
    from reconciler.cli.backup import cmd_backups as backups

    return backups(args)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "plan": cmd_plan,
    "apply": cmd_apply,
    "validate": cmd_validate,
    "drift": cmd_drift,
    "schema": cmd_schema,
    "import": cmd_import,
    "adopt": cmd_adopt,
    "run": cmd_run,
    "status": cmd_status,
    "suspend": cmd_suspend,
    "resume": cmd_resume,
    "backup": cmd_backup,
    "backups": cmd_backups,
    "completion": cmd_completion,
}
