"""`vzgitops status` rendering (pure): golden text and JSON of representative documents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.controller.status import (
    BackupStatus,
    ContainerStatus,
    ErrorInfo,
    NextAction,
    Pending,
    RevisionInfo,
    Status,
    container_states,
)
from reconciler.controller.status_text import render_text, span
from reconciler.drift import ContainerDrift, Drift, FieldDrift
from reconciler.plan import Action, Change, Command, Held, Plan
from reconciler.spec.load import load_desired
from tests.report.golden import assert_golden
from tests.support import container_doc

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
GOOD, BAD = "1" * 40, "2" * 40


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def healthy() -> Status:
    return Status(
        state="running", pid=4242, started_at=ago(3600), updated_at=ago(1),
        repo="ssh://git@git.example.org/ops/node1.git", ref="main", drift="correct",
        listen={"webhook": "127.0.0.1:9310", "metrics": "127.0.0.1:9311"}, cycles=61,
        last_result="success",
        fetched=RevisionInfo(sha=GOOD, subject="web: 2 cpus", committed_at=ago(4000), at=ago(1)),
        applied=RevisionInfo(sha=GOOD, subject="web: 2 cpus", committed_at=ago(4000), at=ago(3590)),
        converged=True,
        containers=(
            ContainerStatus(ctid=101, name="web", state="in-sync"),
            ContainerStatus(ctid=102, name="db", state="deferred",
                            detail="cpus: git 4, node 1; changed again by hand, next correction after 2024-05-01T12:10:00Z"),
        ),
        unmanaged=(200,),
        next=NextAction(action="poll", at=NOW + timedelta(seconds=59)),
        backups=(
            BackupStatus(ctid=101, name="web", policy="every 6h, snapshot, gzip, keep last 7",
                         state="ok", last_success=ago(7200), age_seconds=7200.0,
                         archive="/vz/dump/vzdump-openvz-101-2024_05_01-10_00_00.tar.gz",
                         next_due=NOW + timedelta(hours=4)),
        ),
    )  # fmt: skip


def troubled() -> Status:
    return healthy().model_copy(
        update={
            "last_result": "invalid",
            "fetched": RevisionInfo(sha=BAD, subject="web: many cpus", at=ago(1)),
            "pending": Pending(
                sha=BAD,
                subject="web: many cpus",
                kind="invalid",
                since=ago(30),
                reason=f"it does not validate (1 problem); the live revision stays {GOOD[:12]}",
                problems=("web.yaml:8:9: spec.cpus: 'many' is not a whole number",),
            ),
            "last_error": ErrorInfo(
                at=ago(5),
                message="git fetch of ssh://git@git.example.org/ops/node1.git timed out after 60 s",
                retry_at=NOW + timedelta(seconds=3),
            ),
            "next": NextAction(action="retry", at=NOW + timedelta(seconds=3)),
            "held": (
                Held(ctid=103, name="old\x1b[2J", kind="destroy-held",
                     reason="destroying needs pruning: pass --prune or set prune: true on the Node"),
            ),  # a name from the node, with an escape sequence: shown escaped
            "backups": (
                BackupStatus(ctid=101, name="web", policy="cron '30 2 * * *' UTC, stop, gzip, keep all",
                             state="failed", next_due=NOW + timedelta(minutes=50),
                             error="the last dump failed at 2024-05-01T11:50:00+00:00: ERROR: Backup of VM 101 failed - vzdump exit 255"),
                BackupStatus(ctid=102, name="db", policy="every 1d, stop, gzip, keep last 3",
                             state="missed", last_success=ago(3 * 86400), age_seconds=3 * 86400.0,
                             next_due=ago(2 * 86400 - 60),
                             error="no successful dump since it was due at 2024-04-29T12:01:00+00:00"),
            ),
        }
    )  # fmt: skip


@pytest.mark.parametrize("name", ["healthy", "troubled"])
def test_golden(name: str, update_golden: bool) -> None:
    status = {"healthy": healthy, "troubled": troubled}[name]()
    assert_golden(f"status/{name}.txt", render_text(status, NOW), update_golden)
    assert_golden(f"status/{name}.json", status.model_dump_json(indent=2) + "\n", update_golden)


def test_container_states_from_plan_failures_deferrals_and_drift() -> None:
    desired = load_desired(
        {f"{n}.yaml": container_doc(n, c, cpus=2).encode() for n, c in
         (("a", 101), ("b", 102), ("c", 103), ("d", 104), ("e", 105), ("f", 106))}
    )  # fmt: skip

    def change(ctid: int, action: Action) -> Change:
        argv = ("set", str(ctid), "--cpus", "2", "--save")
        return Change(
            ctid=ctid,
            name="x",
            action=action,
            commands=(Command(argv=argv),),
            reason="cpus differ from git",
        )

    plan = Plan(
        changes=(change(102, "update"), change(103, "update"), change(104, "create")),
        held=(Held(ctid=105, name="e", kind="unowned", reason="not owned"),),
    )
    drift = Drift(containers=(ContainerDrift(ctid=102, name="b", status="running", fields=(
        FieldDrift(field="cpus", desired="2", saved="1", running=None, where="saved"),)),))  # fmt: skip
    states = container_states(
        desired.containers, plan, {106: "container 106: vzctl set failed (exit 21)"},
        {103: NOW}, drift,
    )  # fmt: skip
    assert [(s.ctid, s.state, s.detail) for s in states] == [
        (101, "in-sync", None),
        (102, "drifted", "cpus: git 2, node 1"),
        (103, "deferred", "cpus differ from git; changed again by hand, next correction after 2024-05-01T12:00:00Z"),
        (104, "missing", "cpus differ from git"),
        (105, "held", "not owned"),
        (106, "failed", "container 106: vzctl set failed (exit 21)"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.4, "0 s"), (59, "59 s"), (119, "119 s"), (120, "2 min"), (7199, "119 min"),
     (7200, "2 h 0 min"), (86400 * 2 + 3600 * 5, "2 d 5 h"), (-30, "30 s")],
)  # fmt: skip
def test_spans(seconds: float, shown: str) -> None:
    assert span(seconds) == shown


@pytest.mark.parametrize(
    ("kind", "retry_at", "tail"),
    [
        ("retry-later", NOW + timedelta(seconds=3), "; retry at "),
        ("needs-human", None, "; needs a person: not retried until a new revision or SIGHUP"),
        ("permanent", NOW + timedelta(hours=1), "; permanent: retry at "),
    ],
)
def test_the_last_error_says_what_happens_next(
    kind: str, retry_at: datetime | None, tail: str
) -> None:
    error = ErrorInfo.model_validate(
        {"at": ago(5), "message": "it failed", "kind": kind, "retry_at": retry_at}
    )
    line = next(
        line
        for line in render_text(
            healthy().model_copy(update={"last_error": error}), NOW
        ).splitlines()
        if line.startswith("last error:")
    )
    assert tail in line
