"""Renderers: golden files for text, markdown and JSON of plans and drift; JSON agrees with
the text and validates against schemas/report.schema.json; markdown stays under the limit."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.plan import Inventory, Policy, plan
from reconciler.plan.observed import ObservedContainer, ObservedState
from reconciler.plan.result import ApplyResult
from reconciler.report import (
    COMMENT_LIMIT,
    MARKER,
    Report,
    build_drift_report,
    build_plan_report,
    build_report,
    render,
    render_markdown,
    report_schema,
)
from tests.report.cases import (
    BASE,
    HEAD,
    clean_drift,
    container,
    empty_plan,
    held_plan,
    mixed_drift,
    mixed_plan,
)
from tests.report.golden import assert_golden

SCHEMA_FILE = Path(__file__).parents[2] / "schemas" / "report.schema.json"

REPORTS: dict[str, Callable[[], Report]] = {
    "plan-mixed": lambda: build_report(mixed_plan()),
    "plan-empty": lambda: build_report(empty_plan()),
    "plan-held": lambda: build_report(held_plan()),
    "apply-held": lambda: build_report(
        held_plan(),
        ApplyResult(revision=HEAD.sha, converged=True, held=held_plan().held),
        held_plan(),
    ),
    "plan-pr-offline": lambda: build_plan_report(
        [mixed_plan("hn1"), empty_plan("hn2")], head=HEAD, base=BASE, against="base"
    ),
    "plan-pr-live": lambda: build_plan_report([mixed_plan()], head=HEAD, base=BASE, against="node"),
    "drift-mixed": lambda: build_drift_report(mixed_drift(), "2026-01-02T03:04:05Z"),
    "drift-clean": lambda: build_drift_report(clean_drift()),
}
SUFFIX = {"text": "txt", "markdown": "md", "json": "json"}


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
@pytest.mark.parametrize("name", sorted(REPORTS))
def test_golden(name: str, fmt: Any, update_golden: bool) -> None:
    assert_golden(f"report/{name}.{SUFFIX[fmt]}", render(REPORTS[name](), fmt), update_golden)


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(report_schema())


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_json_validates_against_the_report_schema(name: str) -> None:
    document = json.loads(render(REPORTS[name](), "json"))
    errors = [e.message for e in _validator().iter_errors(document)]
    assert errors == []


def test_committed_schema_is_the_generated_one() -> None:
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == report_schema(), "schemas/ is stale; run `make schemas`"
    jsonschema.Draft202012Validator.check_schema(committed)


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_json_round_trips_and_agrees_with_the_text(name: str) -> None:
    report = REPORTS[name]()
    document = json.loads(render(report, "json"))
    assert Report.model_validate_json(render(report, "json")) == report
    text = render(report, "text")
    assert text.rstrip("\n").splitlines()[-1] == document["summary"]
    for section in document["nodes"]:
        for change in section["changes"]:
            assert f"container {change['ctid']} ({change['name']}): {change['action']}" in text
            for f in change["fields"]:
                if change["action"] == "create":
                    assert f"{f['field']}: {f['after']}" in text
                else:
                    assert f"{f['field']}: {f['before'] or '(unset)'} -> {f['after']}" in text
    drift = document["drift"]
    for c in drift["containers"] if drift else ():
        for f in c["fields"]:
            assert f"{f['field']}: git {f['desired']}," in text


def test_markdown_names_base_and_head_and_flags_dangerous_changes() -> None:
    text = render(REPORTS["plan-pr-offline"](), "markdown")
    assert text.startswith(MARKER)
    assert BASE.sha[:12] in text and HEAD.sha[:12] in text
    assert ":warning: **Destroys data:** 106 (gone) destroy, 103 (old) recreate" in text
    assert ":arrows_counterclockwise: **Restarts:** 102 (app), 103 (old)" in text
    summary_end = text.index("<details>")
    assert "| `hn1` | 1 | 2 | 2 | 1 | 1 | 1 |" in text[:summary_end]


def _mass_report(count: int) -> Report:
    desired = tuple(
        container(
            1000 + i,
            f"ct{i:04d}",
            ram="1G",
            ip=[f"10.{i // 250}.{i % 250}.1/16"],
            description="x" * 60,
            features={"nfs": True},
        )
        for i in range(count)
    )
    p = plan(desired, ObservedState({}), Inventory(), Policy(), revision=HEAD.sha)
    return build_plan_report([p], head=HEAD, base=BASE, against="base")


def test_two_thousand_containers_stay_under_the_comment_limit_with_the_summary_whole() -> None:
    report = _mass_report(2000)
    text = render(report, "markdown")
    assert len(text) <= COMMENT_LIMIT
    assert "**Plan: 2000 to create, 0 to change, 0 to destroy.**" in text
    assert "| `default` | 2000 | 0 | 0 | 0 | 0 | 0 |" in text
    shown = text.count("<details>")
    assert 0 < shown < 2000
    assert re.search(rf"_… {2000 - shown} more changes not shown", text)
    assert text.count("<details>") == text.count("</details>")


def test_mass_destroy_lists_are_bounded_so_the_summary_always_fits() -> None:
    doomed = {
        1000 + i: ObservedContainer(ctid=1000 + i, status="running", saved={"name": f"c{i}"})
        for i in range(3000)
    }
    inventory = Inventory(owned=frozenset(doomed))
    policy = Policy(prune=True, allow_mass_destroy=True)
    plans = [plan((), ObservedState(doomed), inventory, policy, node=f"hn{n}") for n in range(5)]
    text = render(build_plan_report(plans), "markdown")
    assert len(text) <= COMMENT_LIMIT
    assert "**Plan, 5 nodes: 0 to create, 0 to change, 15000 to destroy.**" in text
    assert ", and 14980 more" in text
    assert text.index("| `hn4` |") < text.index("<details>")


def test_summary_line_is_the_public_one() -> None:
    assert build_report(mixed_plan()).summary == mixed_plan().summary()
    assert (
        mixed_plan().summary()
        == "Plan: 1 to create, 2 to change, 1 to destroy, 1 to recreate, 1 held."
    )
    assert mixed_plan().model_copy(update={"held": ()}).summary() == (
        "Plan: 1 to create, 2 to change, 1 to destroy, 1 to recreate."
    )


def test_even_an_oversized_summary_is_cut_to_the_limit() -> None:
    report = build_report(mixed_plan())
    text = render_markdown(report, limit=300)
    assert len(text) <= 300 and text.endswith("_… summary cut at the comment size limit._\n")


def test_a_fleet_total_says_how_many_nodes_it_counts_in_every_format() -> None:
    from reconciler.report.model import failed_section

    plans = [mixed_plan("laptop"), empty_plan("server")]
    report = build_plan_report(plans)
    assert report.summary == (
        "Plan, 2 nodes: 1 to create, 2 to change, 1 to destroy, 1 to recreate, 1 held."
    )
    text = render(report, "text")
    assert text.splitlines()[-1] == report.summary
    assert "Plan: 1 to create, 2 to change, 1 to destroy, 1 to recreate, 1 held." in text
    assert f"**{report.summary}**" in render(report, "markdown")
    failed = build_plan_report(plans, failed=[failed_section("office", "unreachable")])
    assert failed.summary.startswith("Plan, 2 of 3 nodes: 1 to create")
    assert build_plan_report(plans[:1]).summary == plans[0].summary()
