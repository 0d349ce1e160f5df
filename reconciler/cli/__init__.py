"""The `vzgitops` command: argv -> typed options -> one function per command -> exit code.

`args` builds the parser, `commands` holds one function per command, `steps` what they share.
One error handler here maps outcomes to exit codes: 0 ok, 1 a known error, 2 changes or drift
present (with --detailed-exitcode), 3 a bug (with a pointer to the traceback), 64 usage,
75 the node lock is held, 130 interrupted.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from reconciler.cli.args import build_parser
from reconciler.cli.colour import RED, enabled, paint
from reconciler.cli.commands import COMMANDS, cmd_run
from reconciler.cli.steps import (
    EXIT_BUG,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    print_problems,
)
from reconciler.errors import SpecError, UsageError, VzGitopsError

__all__ = ["BATCH_GC_THRESHOLD", "COMMANDS", "build_parser", "main", "run"]


NODE_ENV = "VZGITOPS_NODE"


def run(argv: Sequence[str]) -> int:
    if not argv:  # bare `vzgitops`: a usage error (64), as a missing subcommand is
        sys.stderr.write(build_parser().format_help())
        return EXIT_USAGE
    if argv[:1] == ["sim"]:
        return _sim(argv[1:])
    args = build_parser().parse_args(argv)
    _nodes(args)
    if args.command == "run":
        return cmd_run(args)
    return _batch(COMMANDS[args.command], args)


FLEET_COMMANDS = frozenset({"plan", "apply", "drift", "run"})


def _nodes(args: argparse.Namespace) -> None:
    """`args.nodes`: every --node, else $VZGITOPS_NODE (as with --state-dir); `args.node`: the
    one node when exactly one is named (run: all of them, as `Settings.nodes`). Only plan, apply, drift and run work on several."""
    if not hasattr(args, "node"):
        return
    given = getattr(args, "node", None)
    if not isinstance(given, list):  # a command whose --node is one value
        args.node = given or os.environ.get(NODE_ENV) or None
        args.nodes = [args.node] if args.node else []
        return
    nodes = list(given or ())
    if not nodes and os.environ.get(NODE_ENV):
        nodes = [os.environ[NODE_ENV]]
    if len(nodes) > 1 and args.command not in FLEET_COMMANDS:
        raise UsageError(
            f"{args.command}: --node names one node (plan, apply, drift and run take several)"
        )
    args.nodes = nodes
    args.node = nodes if args.command == "run" else nodes[0] if len(nodes) == 1 else None


SIM_MISSING = (
    "vzgitops sim: the simulator is not installed: pip install ./sim (the vzgitops-sim "
    "distribution in the vzgitops repository)\n"
)


def _sim(argv: Sequence[str]) -> int:
    """`vzgitops sim ...`: the simulator is a separate distribution, imported only here."""
    try:
        from vzsim.cli import main as sim_main
    except ModuleNotFoundError as exc:
        if exc.name != "vzsim":
            raise
        sys.stderr.write(SIM_MISSING)
        return EXIT_ERROR
    return sim_main(list(argv))


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
        print_problems(error, "text")
        return EXIT_ERROR
    except VzGitopsError as error:
        on = enabled(sys.stderr, no_color="--no-color" in arguments)
        print(f"{paint('error:', RED, on)} {error}", file=sys.stderr)
        return error.exit_code
    except Exception:  # the one place a bug becomes exit 3, with its traceback
        where = write_crash_report(traceback.format_exc())
        print(f"vzgitops: internal error (a bug); traceback {where}", file=sys.stderr)
        return EXIT_BUG


def crash_dir() -> Path:
    """$XDG_STATE_HOME/vzgitops (default ~/.local/state/vzgitops): private to the user."""
    base = os.environ.get("XDG_STATE_HOME") or ""
    root = Path(base) if Path(base).is_absolute() else Path.home() / ".local" / "state"
    return root / "vzgitops"


def write_crash_report(text: str) -> str:
    """Write a traceback to a new file only the user can read; where it went, for the message.

    The name comes from `mkstemp` (O_EXCL, mode 0600) in a directory created 0700, never a
    predictable path in a shared /tmp that another user could have planted a link at.
    """
    for directory in (crash_dir(), None):
        try:
            if directory is not None:
                directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix="vzgitops-crash-", suffix=".txt", dir=directory)
        except OSError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return f"written to {name}"
    sys.stderr.write(text)
    return "printed above (no crash report file could be created)"
