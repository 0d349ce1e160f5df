"""What running a plan did (pure values): per vzctl call, per change, per apply.

`apply` (shell) produces them; `report` renders them, the controller and the CLI decide exit
codes and retries from them. No I/O here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from reconciler.plan.model import Frozen, Held

Outcome = Literal["ok", "transient", "permanent", "mismatch"]
Status = Literal["applied", "unchanged", "failed", "skipped"]


class CommandResult(Frozen):
    argv: tuple[str, ...] = Field(description="vzctl arguments.")
    tool: str = Field(default="vzctl", description="The program: vzctl, or vzdump.")
    archive: str | None = Field(
        default=None, description="vzdump: the archive it wrote (a dump before a destroy)."
    )
    code: int = Field(description="Exit code of the last attempt (-1: timed out).")
    attempts: int = Field(description="How many times it ran.")
    outcome: Outcome = Field(description="ok, transient, permanent or mismatch.")
    output: str = Field(default="", description="vzctl's output, kept for failures only.")
    detail: str = Field(
        default="",
        description="vzctl's error lines (its stderr, else its last line), bounded; failures only.",
    )


class ChangeResult(Frozen):
    ctid: int = Field(description="Container ID.")
    name: str = Field(description="Container name.")
    action: str = Field(description="Planned action.")
    status: Status = Field(description="What happened.")
    commands: tuple[CommandResult, ...] = Field(default=(), description="Each vzctl call.")
    error: str | None = Field(default=None, description="One sentence when it failed.")


class ApplyResult(Frozen):
    revision: str | None = Field(default=None, description="Applied revision.")
    results: tuple[ChangeResult, ...] = Field(default=(), description="Per change, in order.")
    converged: bool = Field(
        description="The plan after applying had no changes left to make; held changes (`held`) may remain."
    )
    not_converged_reason: str | None = Field(
        default=None, description="Why not, when not converged."
    )
    rounds: int = Field(default=1, description="Observe-plan-apply rounds used.")
    held: tuple[Held, ...] = Field(
        default=(),
        description="Differences the plan after applying still holds back (destroys without "
        "--prune or refused, recreates, restarts): while any remain the node does not match git.",
    )

    @property
    def failed(self) -> tuple[ChangeResult, ...]:
        return tuple(r for r in self.results if r.status == "failed")
