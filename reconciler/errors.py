"""The one exception tree of vzgitops.

Every error a user can see derives from `VzGitopsError`. Subclasses say what happens next,
which is what the CLI, the executor and the controller decide on:

- `NeedsHuman`: bad input (spec, usage); nothing is retried until a new revision arrives.
- `RetryLater`: transient (git unreachable, container locked, lock held); try again.
- `Permanent`: this action cannot succeed as asked (bad parameter, missing template).

`disposition` names the class of any exception; the controller schedules on it: it holds on
needs-human (no retry loop until a new revision or SIGHUP), backs off on retry-later, and records
permanent failures without retrying them until something changes.
"""

from __future__ import annotations

from typing import Literal

Disposition = Literal["needs-human", "retry-later", "permanent"]


class VzGitopsError(Exception):
    """Root of every error vzgitops raises on purpose."""

    exit_code = 1


class NeedsHuman(VzGitopsError):
    """Waits for a person: a bad spec or bad usage."""


class UsageError(NeedsHuman):
    """The command line is wrong."""

    exit_code = 64


class RefNotFound(UsageError):
    """A `--ref` names no branch, tag or commit of the repository (a typo, most often): exit 1,
    as the command line was well formed; the message suggests close names."""

    exit_code = 1


class SpecError(NeedsHuman):
    """A revision does not validate; carries every problem found, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0].render() if problems else "invalid desired state"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first + more)


class Problem:
    """One validation problem with its place: `path:line:col: field: message`."""

    __slots__ = ("col", "field", "line", "message", "path")

    def __init__(self, path: str, line: int, col: int, field: str, message: str) -> None:
        self.path = path
        self.line = line
        self.col = col
        self.field = field
        self.message = message

    def render(self) -> str:
        where = f"{self.path}:{self.line}:{self.col}" if self.line else self.path
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )

    def as_dict(self) -> dict[str, str | int]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "field": self.field,
            "message": self.message,
        }

    def __repr__(self) -> str:
        return f"Problem({self.render()!r})"


class StateUnusable(NeedsHuman):
    """A state file exists but cannot be read or parsed, or the state directory cannot be
    written or locked: nothing is applied (never treated as absent) until a person fixes it."""


class NodeMismatch(NeedsHuman):
    """The state directory belongs to another node than the one asked for: its inventory and
    history are that node's, so nothing is planned from them for this one."""


class OwnershipImplausible(NeedsHuman):
    """Observation contradicts the inventory (owned containers vanished or were replaced
    without a destroy intent): the node gets no plan until a person acknowledges it."""


class AdoptError(NeedsHuman):
    """`adopt-drift`: the drift could not be written back into git as asked."""


class BranchTaken(NeedsHuman):
    """The new branch's name is already a branch or a tag; nothing was written."""


class ApplyCancelled(NeedsHuman):
    """`apply` asked at the terminal and the answer was not "yes": nothing was applied."""


class ToolMissing(NeedsHuman):
    """vzctl or vzlist is not on PATH."""


class HostKeyRefused(NeedsHuman):
    """The node's ssh host key is not the one the Node pins (or its known_hosts file holds): no
    command is sent until a person checks the key and updates git."""


class RetryLater(VzGitopsError):
    """Transient: the same action may succeed later."""


class SourceUnavailable(RetryLater):
    """Git could not be read or fetched."""


class LockHeld(RetryLater):
    """Another vzgitops process holds the node lock."""

    exit_code = 75


class NodeUnreachable(RetryLater):
    """The node cannot be reached over ssh (connection refused, dropped, timed out): an error of
    that node only; the next cycle tries again."""


class ObserveError(RetryLater):
    """The node's state could not be read or parsed."""


class ObservationIncomplete(ObserveError):
    """What vzlist lists and the config files disagree, or a config cannot be read: nothing is
    planned for the node until they agree again (a person may have to mend the node)."""


class GitWriteError(RetryLater):
    """A commit or branch could not be written."""


class CommandTimeout(RetryLater):
    """A command ran past its timeout and was killed."""


class NotifyFailed(RetryLater):
    """The report could not be delivered; the next check sends a new one."""


class ShuttingDown(RetryLater):
    """The controller is stopping: no new vzctl, vzlist or git process is started."""


class Permanent(VzGitopsError):
    """This action cannot succeed as asked; do not retry it."""


class NameRefused(Permanent):
    """The container's name on the node is not one a Container document may have."""


def disposition(error: BaseException) -> Disposition:
    """What happens next after `error`: anything that is not ours (a bug) is retried later."""
    if isinstance(error, NeedsHuman):
        return "needs-human"
    if isinstance(error, Permanent):
        return "permanent"
    return "retry-later"


DETAIL_LINES = 4  # error lines kept from one vzctl call: the cause, then the consequences
DETAIL_CHARS = 400


def vzctl_detail(stdout: str, stderr: str = "") -> str:
    """What a failed vzctl call said, for a message: its error lines (stderr), or the last line
    of its output when it wrote none there. vzctl prints the cause first and "... failed" last
    (`Unable to add IP ...: Address already in use`, then `Container start failed`), and its
    progress chatter to stdout, so the last line alone drops the cause. Bounded in lines and
    characters."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        lines = [line.strip() for line in stdout.splitlines() if line.strip()][-1:]
    if len(lines) > DETAIL_LINES:
        lines = [*lines[: DETAIL_LINES - 1], f"... ({len(lines) - DETAIL_LINES} more)", lines[-1]]
    text = "; ".join(lines)
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 3] + "..."
