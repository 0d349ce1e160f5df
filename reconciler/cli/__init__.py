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
from reconciler.cli.commands import COMMANDS, cmd_run
from reconciler.cli.steps import EXIT_BUG, EXIT_ERROR, EXIT_INTERRUPTED, print_problems
from reconciler.errors import SpecError, VzGitopsError

__all__ = ["BATCH_GC_THRESHOLD", "COMMANDS", "build_parser", "main", "run"]


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
        print_problems(error, "text")
        return EXIT_ERROR
    except VzGitopsError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except Exception:  # the one place a bug becomes exit 3, with its traceback
        path = Path(tempfile.gettempdir()) / f"vzgitops-crash-{os.getpid()}.txt"
        path.write_text(traceback.format_exc(), encoding="utf-8")
        print(f"vzgitops: internal error (a bug); traceback written to {path}", file=sys.stderr)
        return EXIT_BUG
