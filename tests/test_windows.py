"""Maintenance windows: validation, open/next with fixed times, and what the planner holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from reconciler.plan import Plan, Policy
from reconciler.spec.windows import MaintenanceWindow, closed, is_open, next_open
from tests.test_plan import container, matching, node, owned, run

WEEKEND = MaintenanceWindow(days=["sat", "sun"], start="02:00", duration="4h",
                            timezone="Europe/Berlin")  # fmt: skip
NIGHTLY = MaintenanceWindow(start="23:30", duration="1h")  # UTC, crosses midnight
WED_NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # a Wednesday


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("window", "now", "open_"),
    [
        (WEEKEND, "2026-12-05T01:00+00:00", True),  # Sat 02:00 in Berlin (UTC+1)
        (WEEKEND, "2026-12-05T00:59+00:00", False),
        (WEEKEND, "2026-12-05T05:00+00:00", False),  # Sat 06:00 Berlin: closed again
        (WEEKEND, "2026-12-06T04:59+00:00", True),  # Sunday
        (WEEKEND, "2026-12-07T01:30+00:00", False),  # Monday
        (WEEKEND, "2026-07-04T00:30+00:00", True),  # summer: Berlin is UTC+2
        (NIGHTLY, "2026-12-02T23:45+00:00", True),
        (NIGHTLY, "2026-12-03T00:29+00:00", True),  # the night's window, still open
        (NIGHTLY, "2026-12-03T00:30+00:00", False),
    ],
)
def test_is_open(window: MaintenanceWindow, now: str, open_: bool) -> None:
    assert is_open([window], at(now)) is open_


def test_no_windows_is_always_open() -> None:
    assert is_open([], WED_NOON)


def test_next_window_is_the_earliest_start_in_its_own_time_zone() -> None:
    assert next_open([WEEKEND], WED_NOON).isoformat() == "2026-12-05T02:00:00+01:00"
    assert next_open([WEEKEND, NIGHTLY], WED_NOON).isoformat() == "2026-12-02T23:30:00+00:00"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("start", "24:00", "'24:00' is not a time of day; write HH:MM, 00:00 to 23:59"),
        ("duration", "2 hours", "'2 hours' is not a duration; write e.g. 30m, 2h, 1h30m or 1d"),
        ("duration", "0m", "'0m' is not a duration"),
        ("duration", "8d", "'8d' is longer than a week"),
        ("timezone", "Mars/Olympus", "unknown time zone 'Mars/Olympus'; write an IANA name"),
        ("timezone", "../etc/passwd", "'../etc/passwd' is not a time zone name"),
        ("days", ["monday"], "Input should be 'mon', 'tue'"),
    ],
)
def test_a_bad_window_is_refused_with_what_to_write(field: str, value: Any, message: str) -> None:
    values: dict[str, Any] = {"start": "02:00", "duration": "1h", field: value}
    with pytest.raises(ValidationError) as caught:
        MaintenanceWindow.model_validate(values)
    assert message in str(caught.value)


def windowed(**spec: Any) -> tuple[Policy, Any]:
    d = container(maintenance=[WEEKEND.model_dump()], **spec)
    reasons = closed({d.ctid: tuple(d.spec.maintenance or ())}, WED_NOON)
    return Policy(closed=reasons), d


def plan_of(policy: Policy, desired: list[Any], observed: Any) -> Plan:
    return run(desired, observed, owned(*observed.containers), **policy.__dict__)


NEXT = "outside its maintenance window; next window at 2026-12-05T02:00+01:00 (CET)"


def test_outside_the_window_a_restart_waits_and_live_fields_apply() -> None:
    policy, d = windowed(cpus=2, features={"nfs": True})
    observed = node(matching(d, cpus=1, features={}))
    p = plan_of(policy, [d], observed)
    [change] = p.changes
    assert change.action == "update"
    assert [f.field for f in change.fields] == ["cpus"]
    assert [c.verb for c in change.commands] == ["set"]
    [held] = p.held
    assert held.kind == "window"
    assert held.reason == f"features need a restart, {NEXT}; pass --ignore-windows to run it now"


@pytest.mark.parametrize(
    ("spec", "status", "action"),
    [
        ({"state": "stopped"}, "running", "stop"),
        ({"ostemplate": "centos-7-x86_64", "allowRecreate": True}, "running", "recreate"),
        ({"state": "absent"}, "running", "destroy"),
    ],
)
def test_outside_the_window_stops_recreates_and_destroys_wait(
    spec: dict[str, Any], status: str, action: str
) -> None:
    policy, d = windowed(**spec)
    was = container(maintenance=[WEEKEND.model_dump()])
    observed = node(matching(was, status=status))
    p = plan_of(Policy(closed=policy.closed, prune=True, allow_mass_destroy=True), [d], observed)
    assert p.changes == ()
    [held] = p.held
    assert (held.kind, held.reason.split(":")[0]) == ("window", action)


def test_a_container_git_dropped_waits_for_the_nodes_window() -> None:
    gone = container(102, "gone")
    observed = node(matching(gone))
    p = run([], observed, owned(102), prune=True, allow_mass_destroy=True, node_closed=NEXT)
    assert p.changes == ()
    assert [(h.kind, h.reason) for h in p.held] == [("window", f"destroy: {NEXT}")]


def test_creates_and_starts_need_no_window() -> None:
    policy, d = windowed()
    assert [c.action for c in plan_of(policy, [d], node()).changes] == ["create"]
    stopped = node(matching(d, status="stopped"))
    assert [c.action for c in plan_of(policy, [d], stopped).changes] == ["start"]


def test_inside_the_window_nothing_waits() -> None:
    d = container(maintenance=[WEEKEND.model_dump()], features={"nfs": True})
    inside = closed({d.ctid: tuple(d.spec.maintenance or ())}, at("2026-12-05T02:00+00:00"))
    assert inside == {}
    p = plan_of(Policy(closed=inside), [d], node(matching(d, features={})))
    assert [c.verb for c in p.changes[0].commands] == ["set", "restart"]


def test_a_bad_window_in_a_document_names_file_line_and_field() -> None:
    from reconciler.spec.load import validate_files

    text = (
        "apiVersion: vzgitops/v1\nkind: Container\nmetadata:\n  name: web\nspec:\n  ctid: 101\n"
        "  ostemplate: centos-6-x86\n  maintenance:\n    - start: '02:00'\n      duration: 2h\n"
        "      timezone: Mars/Olympus\n"
    )
    [problem] = validate_files({"web.yaml": text.encode()})
    assert problem.render() == (
        "web.yaml:11:17: spec.maintenance[0].timezone: unknown time zone 'Mars/Olympus'; "
        "write an IANA name such as UTC or Europe/Berlin"
    )


def test_a_containers_windows_come_from_its_defaults_too() -> None:
    from reconciler.spec.load import load_desired

    head = "apiVersion: vzgitops/v1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n"
    defaults = head.format(kind="Defaults", name="all") + "  maintenance:\n"
    defaults += "    - {start: '01:00', duration: 1h}\n"
    web = head.format(kind="Container", name="web") + "  ctid: 101\n  ostemplate: centos-6-x86\n"
    state = load_desired({"d.yaml": defaults.encode(), "web.yaml": web.encode()})
    [d] = state.containers
    assert d.spec.maintenance == [MaintenanceWindow(start="01:00", duration="1h")]
