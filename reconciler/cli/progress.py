"""`apply` speaks while it works, and asks before it destroys (shell; called by `cmd_apply`).

Like Terraform: the plan first, then a line as each vzctl call starts and one as it ends, with
its duration, each flushed at once. They go to stdout with `--format text`, and to stderr with
`--format json`, whose stdout stays one JSON document. A plan that destroys or recreates a
container asks for a typed "yes" when stdin is a terminal; without one, it is refused unless
`--yes` (`--auto-approve`) or a reviewed `--plan-file` says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from reconciler.apply import classify
from reconciler.errors import ApplyCancelled, CommandTimeout, UsageError
from reconciler.node.process import DEFAULT_TIMEOUT, Completed, Runner
from reconciler.plan import Change, Plan
from reconciler.report.text import command_line, printable


def say(out: TextIO, line: str) -> None:
    out.write(printable(line) + "\n")
    out.flush()


def _who(argv: Sequence[str]) -> str:
    """vzctl VERB CTID, vzdump CTID, vzrestore ARCHIVE CTID, vzmigrate ... DEST CTID: the
    container it is about."""
    tool = argv[0] if argv else ""
    at = {"vzctl": 2, "vzdump": 1, "vzrestore": 2, "vzmigrate": len(argv) - 1}.get(tool, 2)
    return f"container {argv[at]}" if 0 < at < len(argv) and argv[at].isdigit() else "node"


def _what(argv: Sequence[str]) -> str:
    """`vzctl set`, `vzdump`, `vzrestore`, `vzmigrate`."""
    if argv and argv[0] != "vzctl":
        return argv[0]
    return f"vzctl {argv[1]}" if len(argv) > 1 else "vzctl"


def started_line(argv: Sequence[str]) -> str:
    return f"{_who(argv)}: {command_line(tuple(argv[1:]), argv[0] if argv else 'vzctl')} ..."


def finished_line(done: Completed) -> str:
    tool = done.argv[0] if done.argv else "vzctl"
    verb = done.argv[1] if tool == "vzctl" and len(done.argv) > 1 else ""
    took = f"{done.seconds:.1f}s"
    outcome = classify(verb, done.code) if tool == "vzctl" else ("ok" if done.code == 0 else "permanent")  # fmt: skip
    if outcome == "ok":
        code = "" if done.code == 0 else f", exit {done.code}: already done"
        return f"{_who(done.argv)}: {_what(done.argv)} done after {took}{code}"
    return (
        f"{_who(done.argv)}: {_what(done.argv)} failed after {took} (exit {done.code}, {outcome})"
    )


@dataclass(frozen=True)
class Narrator:
    """A `Runner` for the executor that tells `out` when each vzctl call starts and ends."""

    inner: Runner
    out: TextIO
    prefix: str = ""  # `node server: ` when several nodes are applied at once

    def __call__(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        say(self.out, self.prefix + started_line(argv))
        try:
            done = self.inner(argv, timeout=timeout)
        except CommandTimeout:
            say(self.out, f"{self.prefix}{_who(argv)}: {_what(argv)} timed out after {timeout:g}s")
            raise
        say(self.out, self.prefix + finished_line(done))
        return done


def destructive(plan: Plan) -> tuple[Change, ...]:
    """What a person confirms at a terminal: destroys, recreates and moves."""
    return tuple(c for c in plan.changes if c.confirmed_first)


def _listed(changes: Sequence[Change]) -> str:
    return ", ".join(f"{c.ctid} ({c.name}: {c.action})" for c in changes)


def confirm(plan: Plan, approved: bool, ask: TextIO | None, out: TextIO) -> None:
    """Return when the plan may be applied; `ask` is stdin when it is a terminal, else None.

    Raises `UsageError` (exit 64) when it destroys or recreates and nobody can confirm it,
    `ApplyCancelled` when the answer is not "yes".
    """
    doomed = destructive(plan)
    if approved or not doomed:
        return
    if ask is None:
        raise UsageError(
            f"apply: the plan destroys or recreates container {_listed(doomed)} and stdin is not a terminal to confirm it; pass --yes (or --auto-approve) to apply it, or review it with 'vzgitops plan --out FILE' and apply that with --plan-file FILE"
        )
    say(out, f"Do you want to perform these actions? This destroys or recreates {_listed(doomed)}.")
    out.write("  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
    out.flush()
    answer = ask.readline()
    if answer.strip() != "yes":
        raise ApplyCancelled("apply cancelled: the answer was not 'yes'; nothing was applied")
