"""Declared backups (pure): validating `backup` and `restoreFrom`, the cron parser, due times with
their jitter, missed backups, retention, inheritance from Defaults and Node, and what the
planner does with restoreFrom."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from reconciler.plan import Inventory
from reconciler.plan.backups import backup_lines
from reconciler.spec.backup import (
    BackupPolicy,
    expired,
    missed,
    next_due,
    next_match,
    parse_cron,
    period_at,
    retry_delay,
)
from reconciler.spec.load import load_desired, validate_files
from tests.test_plan import container, matching, node, run

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC).timestamp()  # a Wednesday, noon UTC
HOUR = 3600.0


def policy(**values: Any) -> BackupPolicy:
    return BackupPolicy.model_validate({"schedule": "6h", **values})


# ---- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schedule", ["5m", "6h", "1d", "1h30m", "30 2 * * *", "*/15 * * * 1-5", "0 0 1 jan,jul *"]
)
def test_good_schedules(schedule: str) -> None:
    assert policy(schedule=schedule).schedule == schedule


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("schedule", "4m", "'4m' is shorter than 5m"),
        ("schedule", "daily", "'daily' is neither an interval (6h, 1d, 1h30m) nor a 5-field cron"),
        ("schedule", "0 2 * *", "a cron expression has 5 fields, '0 2 * *' has 4"),
        ("schedule", "61 2 * * *", "minute 61 is outside 0-59"),
        ("schedule", "0 25 * * *", "hour 25 is outside 0-23"),
        ("schedule", "0 2 * * 8", "day of week 8 is outside 0-7"),
        ("schedule", "0 2 5-1 * *", "day of month range '5-1' runs backwards"),
        ("schedule", "0 2 x * *", "day of month 'x' is not a number"),
        ("schedule", "0 0 30 2 *", "the cron expression '0 0 30 2 *' never matches a day"),
        ("mode", "hot", "Input should be 'stop', 'suspend' or 'snapshot'"),
        ("compress", "bzip2", "Input should be 'none', 'gzip' or 'lzo'"),
        ("dumpDir", "relative/dir", "'relative/dir' is not an absolute directory path"),
        ("dumpDir", "/vz/../etc", "'/vz/../etc' is not an absolute directory path"),
        ("dumpDir", "/vz/dump;rm", "is not an absolute directory path"),
        ("keepLast", 0, "Input should be greater than or equal to 1"),
        ("keepFor", "a week", "'a week' is not a duration; write e.g. 12h, 7d or 30d"),
        ("timezone", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("every", "6h", "Extra inputs are not permitted"),
    ],
)
def test_a_bad_policy_is_refused_with_what_to_write(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        policy(**{field: value})
    assert message in str(caught.value)


def _doc(spec: str) -> bytes:
    head = "apiVersion: vzgitops/v1\nkind: Container\nmetadata:\n  name: web\nspec:\n  ctid: 101\n"
    return (head + "  ostemplate: centos-6-x86\n" + spec).encode()


def test_a_bad_policy_in_a_document_names_file_line_and_field() -> None:
    [problem] = validate_files({"web.yaml": _doc("  backup:\n    schedule: 0 25 * * *\n")})
    assert problem.render() == "web.yaml:9:15: spec.backup.schedule: hour 25 is outside 0-23"


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("latest", True),
        ("vzdump-openvz-101-2026_01_31-02_30_00.tar.gz", True),
        ("vzdump-openvz-7-2026_01_31-02_30_00.tar", True),
        ("/vz/dump/vzdump-openvz-101-2026_01_31-02_30_00.tar.gz", False),
        ("../vzdump-openvz-101-2026_01_31-02_30_00.tar.gz", False),
        ("newest", False),
    ],
)
def test_restore_from_is_latest_or_an_archive_name(value: str, ok: bool) -> None:
    problems = validate_files({"web.yaml": _doc(f"  restoreFrom: '{value}'\n")})
    assert not problems if ok else "spec.restoreFrom: " in problems[0].render()


def test_restore_from_cannot_be_a_default() -> None:
    text = b"apiVersion: vzgitops/v1\nkind: Defaults\nmetadata:\n  name: all\nspec:\n  restoreFrom: latest\n"  # fmt: skip
    [problem] = validate_files({"d.yaml": text})
    assert "restoreFrom" in problem.render()


def test_a_policy_comes_from_the_container_else_its_defaults_else_the_node() -> None:
    def doc(kind: str, name: str, body: str) -> bytes:
        return f"apiVersion: vzgitops/v1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n{body}".encode()  # fmt: skip

    ost = "  ostemplate: centos-6-x86\n"
    files = {
        "n.yaml": doc("Node", "n1", "  backup: {schedule: 1d, keepLast: 7}\n"),
        "d.yaml": doc("Defaults", "db", "  node: n1\n  backup: {schedule: 6h}\n"),
        "a.yaml": doc("Container", "a", f"  ctid: 101\n{ost}"),
        "b.yaml": doc("Container", "b", f"  ctid: 102\n{ost}  backup: {{schedule: 12h}}\n"),
    }
    state = load_desired(files)
    found = {c: p.schedule for c, p in state.backup_policies("n1").items()}
    assert found == {101: "6h", 102: "12h"}  # the node's 1d is replaced by the Defaults' 6h
    del files["d.yaml"]
    found = {c: p.schedule for c, p in load_desired(files).backup_policies("n1").items()}
    assert found == {101: "1d", 102: "12h"}


# ---- cron ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("30 2 * * *", "2026-12-02T12:00+00:00", "2026-12-03T02:30:00+00:00"),
        ("30 2 * * *", "2026-12-02T02:29+00:00", "2026-12-02T02:30:00+00:00"),
        ("*/15 * * * *", "2026-12-02T12:00+00:00", "2026-12-02T12:15:00+00:00"),
        ("0 3 * * sun", "2026-12-02T12:00+00:00", "2026-12-06T03:00:00+00:00"),
        ("0 3 * * 7", "2026-12-02T12:00+00:00", "2026-12-06T03:00:00+00:00"),
        ("0 0 1 * *", "2026-12-02T12:00+00:00", "2027-01-01T00:00:00+00:00"),
        ("0 0 29 feb *", "2026-12-02T12:00+00:00", "2028-02-29T00:00:00+00:00"),
        # day of month OR day of week when both are restricted (Vixie cron): the 13th or a Friday
        ("0 0 13 * 5", "2026-12-02T12:00+00:00", "2026-12-04T00:00:00+00:00"),
        ("0 9-17/4 * * 1-5", "2026-12-04T18:00+00:00", "2026-12-07T09:00:00+00:00"),
    ],
)
def test_next_cron_match(expression: str, after: str, expected: str) -> None:
    found = next_match(parse_cron(expression), datetime.fromisoformat(after), ZoneInfo("UTC"))
    assert found is not None and found.isoformat() == expected


def test_a_cron_schedule_runs_in_its_time_zone() -> None:
    berlin = policy(schedule="0 2 * * *", timezone="Europe/Berlin")
    due = next_due(berlin, 288, None, T0)
    assert datetime.fromtimestamp(due, UTC).strftime("%Y-%m-%dT%H:%M") == "2026-12-03T01:00"


# ---- due times, jitter, missed ---------------------------------------------------------------


def test_an_interval_counts_from_the_last_successful_dump_plus_a_fixed_jitter() -> None:
    six = policy()
    first = next_due(six, 101, T0, T0 - 99 * HOUR)
    assert T0 + 6 * HOUR <= first <= T0 + 6 * HOUR + 900  # a tenth of 6h, at most 15 min
    assert next_due(six, 101, T0, 0) == first  # the same for a container every time
    spread = {next_due(six, c, T0, 0) for c in range(101, 111)}
    assert len(spread) == 10  # and different for different containers


def test_never_dumped_is_due_when_the_policy_was_first_seen() -> None:
    assert T0 <= next_due(policy(), 101, None, T0) <= T0 + 900


def test_a_failed_dump_is_retried_after_a_tenth_of_its_period() -> None:
    assert retry_delay(policy(), T0) == 2160.0
    assert retry_delay(policy(schedule="5m"), T0) == 60.0
    assert retry_delay(policy(schedule="30 2 * * *"), T0) == 3600.0


@pytest.mark.parametrize(
    ("schedule", "late", "is_missed"),
    [("6h", 6 * HOUR - 1, False), ("6h", 6 * HOUR + 1, True), ("30 2 * * *", 23 * HOUR, False),
     ("30 2 * * *", 25 * HOUR, True)],
)  # fmt: skip
def test_missed_means_overdue_by_more_than_one_period(
    schedule: str, late: float, is_missed: bool
) -> None:
    assert missed(policy(schedule=schedule), T0, T0 + late) is is_missed


def test_a_cron_period_is_the_gap_to_the_next_match() -> None:
    assert period_at(policy(schedule="0 2 * * 1-5"), T0) == 86400.0  # Thu 02:00 -> Fri 02:00
    friday = datetime(2026, 12, 4, 1, 0, tzinfo=UTC).timestamp()
    assert (
        period_at(policy(schedule="0 2 * * 1-5"), friday) == 3 * 86400.0
    )  # Fri 02:00 -> Mon 02:00


# ---- retention -------------------------------------------------------------------------------

DAY = 86400.0
ARCHIVES = [(f"/vz/dump/a{i}.tar.gz", T0 - i * DAY) for i in range(6)]  # a0 is the newest


@pytest.mark.parametrize(
    ("keep", "deleted"),
    [
        ({}, []),
        ({"keepLast": 3}, ["a3", "a4", "a5"]),
        ({"keepFor": "2d"}, ["a2", "a3", "a4", "a5"]),
        ({"keepLast": 4, "keepFor": "2d"}, ["a4", "a5"]),  # either rule keeps it
        ({"keepLast": 1, "keepFor": "3d12h"}, ["a4", "a5"]),
        ({"keepFor": "1h"}, ["a1", "a2", "a3", "a4", "a5"]),  # the newest always stays
    ],
)
def test_retention_keeps_what_either_rule_keeps(keep: dict[str, Any], deleted: list[str]) -> None:
    doomed = expired(ARCHIVES, policy(**keep), T0)
    assert [p.split("/")[-1].split(".")[0] for p in doomed] == deleted


# ---- plans -----------------------------------------------------------------------------------


def test_a_plan_shows_each_policy_and_its_next_due_time() -> None:
    web, db = container(101, "web"), container(102, "db", state="absent")
    policies = {101: policy(keepLast=7, keepFor="30d"), 102: policy()}
    [line] = backup_lines((web, db), policies, {101: T0}, T0 + HOUR)
    assert (line.ctid, line.name) == (101, "web")
    assert line.policy == "every 6h, snapshot, gzip, keep last 7 / 30d"
    assert line.last == "2026-12-02T12:00:00Z"
    assert line.next_due.startswith("2026-12-02T18:")


ARCHIVE = "vzdump-openvz-101-2026_12_01-02_30_00.tar.gz"
OLDER = "vzdump-openvz-101-2026_11_30-02_30_00.tar.gz"


def _restoring(value: str, names: tuple[str, ...], **extra: Any) -> Any:
    d = container(restoreFrom=value)
    archives = {101: ("/vz/dump", names)}
    return run([d], node(), Inventory(), archives=archives, **extra)


@pytest.mark.parametrize(("value", "archive"), [("latest", ARCHIVE), (OLDER, OLDER)])
def test_an_absent_container_with_restore_from_is_restored(value: str, archive: str) -> None:
    other = "vzdump-openvz-102-2026_12_02-02_30_00.tar.gz"  # another container's, newer
    p = _restoring(value, (OLDER, ARCHIVE, other))
    [change] = p.changes
    assert change.action == "restore"
    assert [(c.tool, c.argv) for c in change.commands] == [
        ("vzrestore", (f"/vz/dump/{archive}", "101"))
    ]
    assert p.summary() == "Plan: 0 to create, 0 to change, 0 to destroy, 1 to restore."


def test_an_interrupted_restore_is_run_again_with_force() -> None:
    p = _restoring("latest", (ARCHIVE,), interrupted_restores=frozenset({101}))
    assert p.changes[0].commands[0].argv[-1] == "--force"
    assert "interrupted" in p.changes[0].reason


@pytest.mark.parametrize(("value", "why"), [("latest", "no archive of"), (OLDER, f"no archive {OLDER} of")])  # fmt: skip
def test_a_restore_without_its_archive_is_held(value: str, why: str) -> None:
    p = _restoring(value, ("vzdump-openvz-102-2026_12_02-02_30_00.tar.gz",))
    assert p.changes == ()
    [held] = p.held
    assert held.kind == "refused" and f"restoreFrom: {why} container 101 in /vz/dump" in held.reason


def test_restore_from_on_an_existing_container_is_held_unless_it_was_restored() -> None:
    d = container(restoreFrom="latest")
    observed = node(matching(d))
    held = run([d], observed, Inventory(owned=frozenset({101})))
    assert [h.kind for h in held.held] == ["refused"] and held.changes == ()
    assert "vzrestore never overwrites one" in held.held[0].reason
    done = Inventory(owned=frozenset({101}), restored={101: f"/vz/dump/{ARCHIVE}"})
    after = run([d], observed, done)
    assert after.empty and after.held == ()


def test_restore_from_is_not_planned_for_an_unowned_container() -> None:
    d = container(restoreFrom="latest")
    p = run([d], node(matching(d)), Inventory())
    assert [h.kind for h in p.held] == ["unowned"]


def test_text_markdown_and_json_show_the_restore_and_the_backup_lines() -> None:
    from reconciler.report import build_report, render

    web = container(restoreFrom="latest", backup={"schedule": "1d", "keepLast": 7})
    p = run([web], node(), Inventory(), archives={101: ("/vz/dump", (ARCHIVE,))})
    p = p.model_copy(update={"backups": backup_lines((web,), {101: policy(schedule="1d", keepLast=7)}, {}, T0)})  # fmt: skip
    report = build_report(p)
    text = render(report, "text")
    assert f"+ container 101 (web): restore from /vz/dump/{ARCHIVE}  # restoreFrom: latest" in text
    assert f"$ vzrestore /vz/dump/{ARCHIVE} 101" in text
    assert "backup container 101 (web): every 1d, snapshot, gzip, keep last 7; next due 2026-12-02T12:" in text  # fmt: skip
    assert "never dumped" in text
    markdown = render(report, "markdown")
    assert f"<b>restore from /vz/dump/{ARCHIVE}</b>" in markdown
    assert ":floppy_disk: backup 101 (web): every 1d" in markdown
    data = json.loads(render(report, "json"))
    assert data["counts"]["restore"] == 1
    assert data["nodes"][0]["backups"][0]["policy"] == "every 1d, snapshot, gzip, keep last 7"


def test_offline_plans_count_a_base_restore_as_done_and_show_a_new_one_unresolved() -> None:
    from reconciler.offline import as_applied, inventory_of
    from reconciler.plan import Policy, plan

    web = container(restoreFrom="latest")
    same = plan((web,), as_applied([web]), inventory_of([web]), Policy())
    assert same.empty and same.held == ()
    new = plan((web,), as_applied([]), inventory_of([]), Policy())
    assert [(c.action, c.commands[0].argv) for c in new.changes] == [("restore", ("latest", "101"))]
