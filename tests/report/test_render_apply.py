"""Golden files for the apply report (text, markdown, JSON) rendered from fixed ApplyResult
values: converged, failed and stopped part-way, and not converged without a failure.

Refreshed only by `pytest --update-golden` (tests/report/golden.py); the JSON also validates
against the report schema and round-trips.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from reconciler.apply import classify
from reconciler.plan import Change, Plan
from reconciler.plan.result import ApplyResult, ChangeResult, CommandResult
from reconciler.report import Report, build_report, render, report_schema
from tests.report.cases import HEAD, mixed_plan
from tests.report.golden import assert_golden

SUFFIX = {"text": "txt", "markdown": "md", "json": "json"}


def ran(
    change: Change, index: int, code: int = 0, attempts: int = 1, output: str = ""
) -> CommandResult:
    """What the executor records for the `index`th command of `change`."""
    argv = change.commands[index].argv
    outcome = "permanent" if code == -1 else classify(argv[0], code)
    return CommandResult(argv=argv, code=code, attempts=attempts, outcome=outcome, output=output)


def applied(change: Change, *commands: CommandResult) -> ChangeResult:
    done = commands or tuple(ran(change, i) for i in range(len(change.commands)))
    return ChangeResult(
        ctid=change.ctid, name=change.name, action=change.action, status="applied", commands=done
    )


def failed(change: Change, error: str, *commands: CommandResult) -> ChangeResult:
    return ChangeResult(
        ctid=change.ctid,
        name=change.name,
        action=change.action,
        status="failed",
        commands=commands,
        error=error,
    )


def by_ctid(plan: Plan) -> dict[int, Change]:
    return {c.ctid: c for c in plan.changes}


def remaining(plan: Plan, *ctids: int) -> Plan:
    return plan.model_copy(update={"changes": tuple(c for c in plan.changes if c.ctid in ctids)})


def converged_apply() -> Report:
    """Every change of the mixed plan applied; a transient exit was retried; nothing remains."""
    plan = mixed_plan()
    web = by_ctid(plan)[101]
    results = tuple(
        applied(c, ran(c, 0, attempts=2)) if c is web else applied(c) for c in plan.changes
    )
    # The held item of the mixed plan stays held: the final plan still has it (as apply_revision
    # records it), so even a run with nothing left to do does not say "converged".
    result = ApplyResult(
        revision=HEAD.sha, results=results, converged=True, rounds=1, held=plan.held
    )
    return build_report(plan, result, remaining(plan))


SET_102_ERR = "Error: failed to apply some parameters, not saving configuration file!\n"


def failed_apply() -> Report:
    """A permanent failure, a timed-out create after a destroy, and a change skipped because
    the run was told to stop: two failures remain, and the first one is the reason."""
    plan = mixed_plan()
    c = by_ctid(plan)
    set_102 = ran(c[102], 0, code=2, output="UB limits were set successfully\n" + SET_102_ERR)
    create_103 = ran(c[103], 2, code=-1)
    error_102 = f"container 102: vzctl set failed (exit 2): {SET_102_ERR.strip()}"
    results = (
        applied(c[106]),
        applied(c[101]),
        failed(c[102], error_102, set_102),
        failed(
            c[103],
            "container 103: vzctl create timed out",
            ran(c[103], 0),
            ran(c[103], 1),
            create_103,
        ),
        ChangeResult(ctid=105, name="db", action="create", status="skipped", error="shutting down"),
    )
    result = ApplyResult(
        revision=HEAD.sha,
        results=results,
        converged=False,
        not_converged_reason=f"{error_102} (and 1 more failures)",
        rounds=1,
        held=plan.held,
    )
    return build_report(plan, result, remaining(plan, 102, 103, 105))


def differing_apply() -> Report:
    """Every command succeeded over two rounds, and one container still differs from git."""
    plan = mixed_plan()
    after = remaining(plan, 101)
    first = after.changes[0]
    result = ApplyResult(
        revision=HEAD.sha,
        results=tuple(applied(c) for c in plan.changes),
        converged=False,
        not_converged_reason=f"container 101 still differs after applying: {first.reason}",
        rounds=2,
        held=plan.held,
    )
    return build_report(plan, result, after)


REPORTS: dict[str, Callable[[], Report]] = {
    "apply-converged": converged_apply,
    "apply-failed": failed_apply,
    "apply-differs": differing_apply,
}


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
@pytest.mark.parametrize("name", sorted(REPORTS))
def test_golden(name: str, fmt: Any, update_golden: bool) -> None:
    assert_golden(f"report/{name}.{SUFFIX[fmt]}", render(REPORTS[name](), fmt), update_golden)


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_json_validates_and_round_trips(name: str) -> None:
    report = REPORTS[name]()
    text = render(report, "json")
    validator = jsonschema.Draft202012Validator(report_schema())
    assert [e.message for e in validator.iter_errors(json.loads(text))] == []
    assert Report.model_validate_json(text) == report


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_text_names_every_result_and_ends_with_the_summary(name: str) -> None:
    report = REPORTS[name]()
    assert report.apply is not None
    lines = render(report, "text").rstrip("\n").splitlines()
    assert lines[-1] == report.summary
    for r in report.apply.results:
        line = f"  {r.status}: container {r.ctid} ({r.name}) {r.action}"
        assert line + (f": {r.error}" if r.error else "") in lines
