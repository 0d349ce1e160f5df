"""Executor tests: the exit-code table, retries with an injected sleep, intents and ownership.

The runner is a scripted stand-in for vzctl (a seam, not the thing under test); the executor,
the retry policy and the state directory are real.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from reconciler.apply import Executor, RetryPolicy, classify
from reconciler.errors import CommandTimeout
from reconciler.node.process import Completed
from reconciler.plan import Action, Change, Command, Plan
from reconciler.state import StateDir


class Script:
    """Answers each vzctl call with the next exit code for its verb; records the calls."""

    def __init__(self, codes: dict[str, list[int]], state: StateDir | None = None) -> None:
        self.codes = codes
        self.calls: list[tuple[str, ...]] = []
        self.intents_seen: list[set[int]] = []
        self.state = state

    def __call__(self, argv: Sequence[str], *, timeout: float = 0) -> Completed:
        self.calls.append(tuple(argv))
        if self.state is not None:
            self.intents_seen.append(set(self.state.intents()))
        queue = self.codes.get(argv[1], [])
        code = queue.pop(0) if queue else 0
        if code == -1:
            raise CommandTimeout("timed out")
        return Completed(tuple(argv), code, "", f"stderr of {argv[1]} exit {code}", 0.01)


def change(ctid: int, *commands: tuple[str, ...], action: Action = "update") -> Change:
    return Change(
        ctid=ctid,
        name=f"c{ctid}",
        action=action,
        commands=tuple(Command(argv=c) for c in commands),
        reason="test",
    )


def executor(tmp_path: Path, script: Script, attempts: int = 4) -> tuple[Executor, list[float]]:
    sleeps: list[float] = []
    state = StateDir(tmp_path / "state")
    state.ensure()
    script.state = state
    return Executor(
        run=script,
        state=state,
        sleep=sleeps.append,
        retry=RetryPolicy(attempts=attempts, initial=1, maximum=8, jitter=0),
    ), sleeps


@pytest.mark.parametrize(
    ("verb", "code", "outcome"),
    [
        ("set", 0, "ok"),
        ("start", 32, "ok"),
        ("destroy", 14, "ok"),
        ("set", 9, "transient"),
        ("stop", 33, "transient"),
        ("set", 21, "permanent"),
        ("create", 91, "permanent"),
        ("set", 20, "permanent"),
        ("create", 44, "mismatch"),
        ("set", 31, "mismatch"),
        ("destroy", 32, "mismatch"),
        ("start", 14, "mismatch"),
    ],
)
def test_exit_code_table(verb: str, code: int, outcome: str) -> None:
    assert classify(verb, code) == outcome


def test_transient_errors_are_retried_with_backoff(tmp_path: Path) -> None:
    script = Script({"set": [9, 9, 0]})
    ex, sleeps = executor(tmp_path, script)
    (result,) = ex.apply(Plan(changes=(change(101, ("set", "101", "--cpus", "2", "--save")),)))
    assert result.status == "applied"
    assert result.commands[0].attempts == 3
    assert sleeps == [1.0, 2.0]


def test_transient_errors_give_up_after_the_last_attempt(tmp_path: Path) -> None:
    script = Script({"set": [9] * 10})
    ex, sleeps = executor(tmp_path, script, attempts=3)
    (result,) = ex.apply(Plan(changes=(change(101, ("set", "101", "--save")),)))
    assert result.status == "failed" and result.commands[0].attempts == 3
    assert (
        result.error
        == "container 101: vzctl set failed (exit 9 after 3 attempts): stderr of set exit 9"
    )
    assert len(sleeps) == 2


def test_permanent_error_is_tried_once_and_others_continue(tmp_path: Path) -> None:
    script = Script({"set": [21, 0]})
    ex, sleeps = executor(tmp_path, script)
    plan = Plan(
        changes=(
            change(101, ("set", "101", "--cpus", "x", "--save"), ("start", "101")),
            change(102, ("set", "102", "--save")),
        )
    )
    first, second = ex.apply(plan)
    assert first.status == "failed" and first.commands[0].attempts == 1 and len(first.commands) == 1
    assert second.status == "applied"
    assert sleeps == []
    assert ("vzctl", "start", "101") not in script.calls


def test_already_in_state_counts_as_success(tmp_path: Path) -> None:
    script = Script({"start": [32], "destroy": [14]})
    ex, _ = executor(tmp_path, script)
    results = ex.apply(
        Plan(
            changes=(
                change(101, ("start", "101"), action="start"),
                change(102, ("destroy", "102"), action="destroy"),
            )
        )
    )
    assert [r.status for r in results] == ["applied", "applied"]


def test_timeout_is_a_failure_not_a_hang(tmp_path: Path) -> None:
    script = Script({"stop": [-1]})
    ex, _ = executor(tmp_path, script)
    (result,) = ex.apply(Plan(changes=(change(101, ("stop", "101"), action="stop"),)))
    assert result.status == "failed" and "timed out" in (result.error or "")


def test_intent_is_written_before_each_mutating_call_and_cleared_after(tmp_path: Path) -> None:
    script = Script({})
    ex, _ = executor(tmp_path, script)
    ex.apply(
        Plan(
            changes=(
                change(
                    101, ("create", "101", "--ostemplate", "t"), ("start", "101"), action="create"
                ),
            )
        )
    )
    assert script.intents_seen == [{101}, {101}]
    assert ex.state.intents() == {}
    assert 101 in ex.state.load_inventory().owned


def test_failed_create_leaves_its_intent_for_the_next_plan_to_settle(tmp_path: Path) -> None:
    """The intent alone owns nothing: `ownership.resolve` decides from the node."""
    script = Script({"create": [-1]})
    ex, _ = executor(tmp_path, script)
    ex.apply(Plan(changes=(change(101, ("create", "101"), action="create"),)))
    assert ex.state.intents()[101]["action"] == "create"
    assert 101 not in ex.state.load_inventory().owned


def test_destroy_forgets_ownership(tmp_path: Path) -> None:
    script = Script({})
    ex, _ = executor(tmp_path, script)
    ex.state.record_owned(101, "c101", "create")
    ex.apply(Plan(changes=(change(101, ("stop", "101"), ("destroy", "101"), action="destroy"),)))
    assert 101 not in ex.state.load_inventory().owned


def test_should_stop_skips_remaining_changes(tmp_path: Path) -> None:
    script = Script({})
    ex, _ = executor(tmp_path, script)
    ex.should_stop = lambda: len(script.calls) >= 1
    results = ex.apply(Plan(changes=(change(101, ("start", "101")), change(102, ("start", "102")))))
    assert [r.status for r in results] == ["applied", "skipped"]


def test_should_stop_finishes_the_call_in_flight_and_starts_no_new_one(tmp_path: Path) -> None:
    script = Script({})
    ex, _ = executor(tmp_path, script)
    ex.should_stop = lambda: len(script.calls) >= 1
    plan = Plan(
        changes=(
            change(
                101, ("create", "101"), ("set", "101", "--save"), ("start", "101"), action="create"
            ),
        )
    )
    (result,) = ex.apply(plan)
    assert script.calls == [("vzctl", "create", "101")]
    assert result.status == "failed" and result.error == "stopped before finishing: shutting down"
    assert 101 in ex.state.load_inventory().owned


def test_retries_run_without_deprecation_warnings(tmp_path: Path) -> None:
    import warnings

    script = Script({"set": [9, 0]})
    ex, _ = executor(tmp_path, script)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Executor(run=script, state=ex.state, sleep=lambda _: None).run_command(
            Command(argv=("set", "101", "--save"))
        )
