"""Steps shared by the commands (shell): where state lives, reading a revision (through the
desired-state cache), reaching the node, printing problems, and the exit codes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.errors import SpecError, VzGitopsError

if TYPE_CHECKING:
    from reconciler.node.access import NodeAccess
    from reconciler.reconcile import Options
    from reconciler.source import Commit, Source
    from reconciler.spec.desired import DesiredState
    from reconciler.state import StateDir

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_BUG = 0, 1, 2, 3
EXIT_HELD = 4  # applied what it could, but held changes remain: the node does not match git
EXIT_USAGE, EXIT_INTERRUPTED = 64, 130


def state_dir(value: str | None) -> Path:
    """The state directory: --state-dir, else $VZGITOPS_STATE_DIR, else /var/lib/vzgitops (an
    empty value counts as none). The one place it is decided, for every command and `run`."""
    from reconciler.state import DEFAULT_STATE_DIR, STATE_DIR_ENV

    return Path(value or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


def conf_dir(value: str | None) -> Path:
    """The node's container config directory: --vz-conf-dir, else $VZGITOPS_VZ_CONF_DIR, else
    /etc/vz/conf (an empty value counts as none). The one place it is decided."""
    from reconciler.node.observe import CONF_DIR_ENV, DEFAULT_CONF_DIR

    return Path(value or os.environ.get(CONF_DIR_ENV) or DEFAULT_CONF_DIR)


def warn(warnings: Sequence[str]) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)


def note(notes: Sequence[str]) -> None:
    """What was done on the side (a move settled), for people: stderr, like warnings."""
    for line in notes:
        print(f"note: {line}", file=sys.stderr)


def user_cache() -> Path:
    """Where commands that need no state directory keep mirrors of remote repositories."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vzgitops" / "mirrors"


def node_access(args: argparse.Namespace) -> NodeAccess:
    from reconciler.node.access import LocalAccess
    from reconciler.node.process import SubprocessRunner

    return LocalAccess(run=SubprocessRunner(), conf_dir=conf_dir(args.vz_conf_dir))


@dataclass(frozen=True)
class Loaded:
    """A revision's desired state, with the source and commit it came from."""

    source: Source
    commit: Commit
    desired: DesiredState


def load(args: argparse.Namespace, state: StateDir | None) -> Loaded:
    """The desired state at --ref/--path; with a state directory, from its cache when the tree
    already validated (`revcache`). Mirrors of remote repositories live in the state directory,
    or in the user's cache for commands that have none."""
    from reconciler.revcache import DesiredCache, desired_at
    from reconciler.source import open_source

    mirrors = state.root / "cache" if state is not None else user_cache()
    source = open_source(args.repo, mirrors)
    source.fetch()
    commit = source.locate(args.ref, args.path)
    cache = DesiredCache(state.root) if state is not None else None
    return Loaded(source, commit, desired_at(source, commit, cache))


def parent_of(loaded: Loaded, state: StateDir) -> DesiredState | None:
    """The desired state of the revision's parent commit (through the state's cache), None for
    a root commit, one that does not validate, or a repository without Nodes (nothing moves):
    what a container's node was before (`arrivals`)."""
    from reconciler.revcache import DesiredCache, desired_at

    if not loaded.desired.nodes:
        return None
    try:
        parent = loaded.source.locate(f"{loaded.commit.sha}^", loaded.commit.path)
        return desired_at(loaded.source, parent, DesiredCache(state.root))
    except VzGitopsError:
        return None


def reconcile_options(args: argparse.Namespace) -> Options:
    from reconciler.reconcile import Options

    return Options(
        node=args.node,
        prune=args.prune,
        allow_mass_destroy=args.allow_mass_destroy,
        targets=tuple(getattr(args, "target", None) or ()),
        ignore_windows=getattr(args, "ignore_windows", False),
        dump_before_destroy=args.dump_before_destroy,
        dump_dir=args.dump_dir,
        dump_keep=args.dump_keep,
    )


def print_problems(error: SpecError, fmt: str) -> None:
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


def plan_exit(args: argparse.Namespace, has_changes: bool) -> int:
    return EXIT_CHANGES if args.detailed_exitcode and has_changes else EXIT_OK
