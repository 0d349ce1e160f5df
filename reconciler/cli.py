"""The `vzgitops` command: argv -> typed options -> one function per command -> exit code.

One error handler maps outcomes to exit codes: 0 ok, 1 a known error, 2 changes or drift present
(with --detailed-exitcode), 3 a bug (with a pointer to the traceback), 64 usage, 75 the node lock
is held, 130 interrupted.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from reconciler import __version__
from reconciler.errors import SpecError, UsageError, VzGitopsError

if TYPE_CHECKING:
    from reconciler.reconcile import NodeAccess, Options
    from reconciler.source import Commit, Source
    from reconciler.spec.desired import DesiredState
    from reconciler.state import StateDir

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_BUG = 0, 1, 2, 3
EXIT_USAGE, EXIT_INTERRUPTED = 64, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _source_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--repo",
        default=".",
        help="git repository: a local path or a URL (default: the current directory)",
    )
    p.add_argument(
        "--ref",
        default=None,
        help="branch, tag or commit (default: HEAD / the remote's default branch)",
    )
    p.add_argument(
        "--path", default="", help="subdirectory of the repository that holds the YAML files"
    )


def _node_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--state-dir",
        default=None,
        help="state directory (default $VZGITOPS_STATE_DIR or /var/lib/vzgitops)",
    )
    p.add_argument(
        "--vz-conf-dir",
        default=None,
        help="container config directory (default $VZGITOPS_VZ_CONF_DIR or /etc/vz/conf)",
    )
    p.add_argument("--node", default=None, help="node name, when the repository declares several")


def _plan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--prune",
        action="store_true",
        help="destroy owned containers that git removed or marks absent",
    )
    p.add_argument(
        "--allow-mass-destroy",
        action="store_true",
        help="allow destroying more than max(1, 10%%) of the owned containers",
    )
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when changes are present, 0 when none",
    )


def _pr_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--base",
        default=None,
        help="pull-request plan: the branch merged into; exits 0 no changes, 2 changes, 1 error",
    )
    p.add_argument("--head", default=None, help="pull-request plan: the head (default: --ref)")
    p.add_argument(
        "--offline",
        action="store_true",
        help="with --base: plan against the base's desired state instead of the node",
    )


def _drift_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument(
        "--adopt",
        action="store_true",
        help="commit the node's values of drifted fields to a new branch (never pushed)",
    )
    p.add_argument("--branch", default=None, help="branch name for --adopt")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vzgitops", description="GitOps reconciler for OpenVZ containers.")
    parser.add_argument("--version", action="version", version=f"vzgitops {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("plan", help="show what applying a revision would change")
    _source_options(p)
    _node_options(p)
    _plan_options(p)
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument(
        "--out", type=Path, default=None, help="save the plan to this file for 'apply --plan-file'"
    )
    _pr_options(p)

    p = sub.add_parser("apply", help="make the node match a revision")
    _source_options(p)
    _node_options(p)
    _plan_options(p)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument(
        "--plan-file",
        type=Path,
        default=None,
        help="apply this saved plan, only if it is still current",
    )
    p.add_argument(
        "--wait-lock", action="store_true", help="wait for the node lock instead of exiting 75"
    )
    p.add_argument(
        "--retry-attempts",
        type=int,
        default=6,
        help="attempts for transient vzctl failures (default 6)",
    )
    p.add_argument(
        "--retry-backoff",
        type=float,
        default=0.5,
        help="first backoff in seconds, doubled per attempt (default 0.5)",
    )

    p = sub.add_parser("validate", help="validate a revision without touching any node")
    _source_options(p)
    p.add_argument("--format", choices=("text", "json"), default="text")

    p = sub.add_parser("drift", help="compare the node with the last applied revision")
    _source_options(p)
    _node_options(p)
    _drift_options(p)

    p = sub.add_parser("schema", help="write the JSON Schemas of the document kinds")
    p.add_argument("--out", type=Path, default=Path("schemas"))

    p = sub.add_parser("import", help="write YAML for the containers on the node and adopt them")
    _node_options(p)
    p.add_argument("--out", type=Path, required=True, help="directory to write the YAML files into")
    p.add_argument(
        "--ctid", type=int, action="append", default=None, help="only these containers (repeatable)"
    )

    p = sub.add_parser("adopt", help="take ownership of containers already on the node")
    _node_options(p)
    p.add_argument("ctids", type=int, nargs="*", help="container IDs")
    p.add_argument(
        "--confirm", action="store_true", help="confirm an inventory rebuilt after it was lost"
    )

    p = sub.add_parser("run", help="keep the node matching git: the long-running controller")
    _source_options(p)
    _node_options(p)
    _run_options(p)

    p = sub.add_parser("status", help="show what 'vzgitops run' is doing")
    p.add_argument("--state-dir", default=None, help="state directory of 'vzgitops run'")
    p.add_argument("--format", choices=("text", "json"), default="text")

    sub.add_parser(
        "sim", help="manage a simulated OpenVZ node (see 'vzgitops sim --help')", add_help=False
    )
    return parser


def duration(text: str) -> float:
    """argparse `type=` for the run intervals; named like the parser it defers to, for its errors.

    Importing `reconciler.triggers` (threads, signals) is left to the commands that use it.
    """
    from reconciler.triggers import duration as parse

    return parse(text)


def _run_options(p: argparse.ArgumentParser) -> None:
    add = p.add_argument
    add("--prune", action="store_true", help="destroy owned containers git removed")
    add("--allow-mass-destroy", action="store_true", help="allow destroying >max(1, 10%%)")
    add("--interval", type=duration, default=60.0, metavar="DURATION", help="poll (60s, +-10%%)")
    add("--fetch-timeout", type=duration, default=60.0, metavar="DURATION", help="(60s)")
    add("--watch", action="store_true", help="reconcile when a local repository's refs change")
    add("--webhook-listen", metavar="ADDR:PORT", help="serve POST /webhook (host 127.0.0.1)")
    add("--webhook-secret-file", type=Path, metavar="FILE", help="file with the webhook secret")
    add("--metrics-listen", metavar="ADDR:PORT", help="serve /metrics and /healthz")
    add("--drift", choices=("correct", "report"), default="correct", help="drift: fix or report")
    add("--drift-interval", type=duration, default=300.0, metavar="DURATION", help="(5m; 0 off)")
    add("--allow-rewrite", action="store_true", help="apply a tip that rewrote applied history")
    add("--verify-signatures", action="store_true", help="apply only trusted-signed commits")
    add("--allowed-signers", type=Path, metavar="FILE", help="SSH allowed-signers file of keys")
    add("--gpg-home", type=Path, metavar="DIR", help="GnuPG home holding the trusted keys")
    add("--log-format", choices=("text", "json"), default="text", help="event lines on stderr")
    add("--notify-url", metavar="URL", help="POST each drift report's JSON to this URL")


# ---- shared steps ----------------------------------------------------------------------------


def _state_dir(value: str | None) -> Path:
    from reconciler.state import DEFAULT_STATE_DIR, STATE_DIR_ENV

    return Path(value or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


def _warn(warnings: Sequence[str]) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)


def _user_cache() -> Path:
    """Where commands that need no state directory keep mirrors of remote repositories."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vzgitops" / "mirrors"


def _access(args: argparse.Namespace) -> NodeAccess:
    from reconciler.observe import conf_dir_from_env
    from reconciler.process import SubprocessRunner
    from reconciler.reconcile import NodeAccess

    conf_dir = Path(args.vz_conf_dir) if args.vz_conf_dir else conf_dir_from_env()
    return NodeAccess(run=SubprocessRunner(), conf_dir=conf_dir)


@dataclass(frozen=True)
class _Loaded:
    """A revision's desired state, with the source and commit it came from."""

    source: Source
    commit: Commit
    desired: DesiredState


def _load(args: argparse.Namespace, state: StateDir | None) -> _Loaded:
    """The desired state at --ref/--path; with a state directory, from its cache when the tree
    already validated (`revcache`). Mirrors of remote repositories live in the state directory,
    or in the user's cache for commands that have none."""
    from reconciler.source import open_source

    mirrors = state.root / "cache" if state is not None else _user_cache()
    source = open_source(args.repo, mirrors)
    source.fetch()
    commit = source.locate(args.ref, args.path)
    return _Loaded(source, commit, _desired_at(source, commit, state))


def _desired_at(source: Source, commit: Commit, state: StateDir | None) -> DesiredState:
    from reconciler.revcache import DesiredCache

    cache = DesiredCache(state.root) if state is not None else None
    cached = cache.get(commit, source.limits) if cache is not None else None
    if cached is not None:
        return cached
    from reconciler.spec.load import load_desired

    desired = load_desired(source.read_at(commit).files)
    if cache is not None:
        cache.put(commit, source.limits, desired)
    return desired


def _options(args: argparse.Namespace) -> Options:
    from reconciler.reconcile import Options

    return Options(node=args.node, prune=args.prune, allow_mass_destroy=args.allow_mass_destroy)


def _print_problems(error: SpecError, fmt: str) -> None:
    if fmt == "json":
        print(
            json.dumps(
                {"valid": False, "problems": [p.as_dict() for p in error.problems]}, indent=2
            )
        )
        return
    for problem in error.problems:
        print(problem.render(), file=sys.stderr)
    count = len(error.problems)
    print(
        f"Invalid: {count} problem{'s' if count != 1 else ''}; nothing was applied.",
        file=sys.stderr,
    )


# ---- commands --------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        loaded = _load(args, None)
    except SpecError as error:
        _print_problems(error, args.format)
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


def _plan_exit(args: argparse.Namespace, has_changes: bool) -> int:
    return EXIT_CHANGES if args.detailed_exitcode and has_changes else EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from reconciler.reconcile import make_plan
    from reconciler.report import build_report, render
    from reconciler.state import StateDir

    if args.base is not None or args.offline:
        return cmd_plan_pr(args)
    args.ref = args.head or args.ref
    state = StateDir(_state_dir(args.state_dir))
    try:
        loaded = _load(args, state)
    except SpecError as error:
        _print_problems(error, "json" if args.format == "json" else "text")
        return EXIT_ERROR
    plan, observed = make_plan(
        loaded.desired, loaded.commit.sha, _access(args), state, _options(args)
    )
    _warn(observed.warnings)
    if args.out is not None:
        args.out.write_text(plan.model_dump_json(indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(render(build_report(plan), args.format))
    return _plan_exit(args, not plan.empty)


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
    state = StateDir(_state_dir(args.state_dir))
    cache = _user_cache() if args.offline else state.root / "cache"
    source = open_source(args.repo, cache)
    source.fetch()
    access = None if args.offline else _access(args)
    try:
        report = pr_report(
            source, args.base, args.head or args.ref, args.path,
            access=access, state=state, options=_options(args),
        )  # fmt: skip
    except SpecError as error:
        _print_problems(error, "json" if args.format == "json" else "text")
        return EXIT_ERROR
    sys.stdout.write(render(report, args.format))
    return EXIT_CHANGES if report.has_changes else EXIT_OK


def cmd_drift(args: argparse.Namespace) -> int:
    """`drift`: the node against the last applied revision (or --ref); exit 2 on drift."""
    from reconciler.drift_record import applied_revision, observe_drift
    from reconciler.report import build_drift_report, render
    from reconciler.state import StateDir

    if args.branch is not None and not args.adopt:
        raise UsageError("drift: --branch is only used with --adopt")
    state = StateDir(_state_dir(args.state_dir))
    args.ref = args.ref or applied_revision(state)
    loaded = _load(args, state)
    desired, sha = loaded.desired, loaded.commit.sha
    drift, observed = observe_drift(desired, sha, _access(args), state, args.node)
    sys.stdout.write(render(build_drift_report(drift), args.format))
    if args.adopt:
        from reconciler.adopt_drift import adopt

        revision = loaded.source.read_at(loaded.commit)
        result = adopt(Path(args.repo), revision, desired, drift, observed, args.branch)
        print("\n".join(result.messages), file=sys.stderr)
        return EXIT_OK
    return EXIT_OK if drift.clean else EXIT_CHANGES


def cmd_apply(args: argparse.Namespace) -> int:
    from reconciler.apply import Executor, RetryPolicy
    from reconciler.plan import Plan
    from reconciler.reconcile import apply_revision, make_plan
    from reconciler.report import build_report, render
    from reconciler.state import StateDir, node_lock

    state = StateDir(_state_dir(args.state_dir))
    state.ensure()  # apply keeps state; its first run already caches the validated revision
    try:
        loaded = _load(args, state)
    except SpecError as error:
        _print_problems(error, args.format)
        return EXIT_ERROR
    desired, sha = loaded.desired, loaded.commit.sha
    access = _access(args)
    options = _options(args)
    with node_lock(state, wait=args.wait_lock, what="vzgitops apply"):
        before, observed = make_plan(desired, sha, access, state, options)
        _warn(observed.warnings)
        del observed  # ~36 MiB at 10,000 containers; apply observes the node again after changes
        if args.plan_file is not None:
            saved = Plan.model_validate_json(args.plan_file.read_text(encoding="utf-8"))
            if saved != before:
                raise VzGitopsError(
                    f"the saved plan {args.plan_file} is stale: the revision or the node changed since it was made; run 'vzgitops plan --out' again"
                )
        retry = RetryPolicy(
            attempts=max(1, args.retry_attempts), initial=max(0.0, args.retry_backoff)
        )
        executor = Executor(run=access.run, state=state, sleep=time.sleep, retry=retry)
        result, after = apply_revision(
            desired, sha, access, state, executor, options, planned=before
        )
    sys.stdout.write(render(build_report(before, result, after), args.format))
    if not result.converged:
        return EXIT_ERROR
    return _plan_exit(args, not before.empty)


def cmd_schema(args: argparse.Namespace) -> int:
    from reconciler.spec.schema import write_schemas

    for path in write_schemas(args.out):
        print(path)
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    import yaml

    from reconciler.importer import MODELINE, to_document
    from reconciler.observe import observe
    from reconciler.state import StateDir, node_lock

    access = _access(args)
    state = StateDir(_state_dir(args.state_dir))
    observed = observe(access.run, access.conf_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    wanted = set(args.ctid) if args.ctid else None
    with node_lock(state, what="vzgitops import"):
        for ctid, container in observed.containers.items():
            if not container.listed or (wanted is not None and ctid not in wanted):
                continue
            document, warnings = to_document(container)
            name = document["metadata"]["name"]
            path = args.out / f"{name}.yaml"
            path.write_text(MODELINE + yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
            state.record_owned(ctid, name, "import")
            for warning in warnings:
                print(f"warning: {warning}", file=sys.stderr)
            print(f"imported container {ctid} -> {path}")
    return EXIT_OK


def cmd_adopt(args: argparse.Namespace) -> int:
    from reconciler.observe import observe
    from reconciler.state import StateDir, node_lock

    state = StateDir(_state_dir(args.state_dir))
    if not args.ctids and not args.confirm:
        raise UsageError("adopt: name the containers to adopt, or pass --confirm")
    access = _access(args)
    with node_lock(state, what="vzgitops adopt"):
        observed = observe(access.run, access.conf_dir)
        for ctid in args.ctids:
            container = observed.containers.get(ctid)
            if container is None or not container.listed:
                raise VzGitopsError(f"container {ctid} is not on the node; nothing adopted")
            state.record_owned(ctid, container.name or f"ct{ctid}", "adopt")
            print(f"adopted container {ctid}")
        if args.confirm:
            state.confirm()
            print("inventory confirmed; pruning is allowed again")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """`run`: the controller loop until SIGTERM/SIGINT (exit 0)."""
    from reconciler.daemon import run_from_args

    return run_from_args(args)


def cmd_status(args: argparse.Namespace) -> int:
    from reconciler.status import show_status

    return show_status(_state_dir(args.state_dir), args.format)


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
}


def run(argv: Sequence[str]) -> int:
    if argv[:1] == ["sim"]:
        from reconciler.sim.cli import main as sim_main

        return sim_main(list(argv[1:]))
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return cmd_run(args)
    return _batch(COMMANDS[args.command], args)


# A command that runs once and exits allocates millions of small objects for a big node (10,000
# containers: YAML values, positions, models, vzlist JSON) and frees them all at exit. With the
# default threshold of 700 the cycle collector runs over and over across the growing heap: about
# a quarter of a no-op plan's CPU. Nothing here needs cycles collected that promptly; the
# long-running `run` keeps the default.
BATCH_GC_THRESHOLD = 50_000


def _batch(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    previous = gc.get_threshold()
    gc.set_threshold(BATCH_GC_THRESHOLD, *previous[1:])
    try:
        return command(args)
    finally:
        gc.set_threshold(*previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: the one error handler."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        return run(arguments)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SpecError as error:
        _print_problems(error, "text")
        return EXIT_ERROR
    except VzGitopsError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except Exception:  # the one place a bug becomes exit 3, with its traceback
        path = Path(tempfile.gettempdir()) / f"vzgitops-crash-{os.getpid()}.txt"
        path.write_text(traceback.format_exc(), encoding="utf-8")
        print(f"vzgitops: internal error (a bug); traceback written to {path}", file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
