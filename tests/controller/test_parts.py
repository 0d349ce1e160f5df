"""The controller's pure parts: durations, jitter, coalescing, backoff, schedule, log lines."""

from __future__ import annotations

import io
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from reconciler.controller.backoff import Backoff, ContainerBackoff, Failures
from reconciler.controller.daemon import watched_git_dir
from reconciler.controller.events import EventLog, format_line
from reconciler.controller.httpd import Listen, parse_listen
from reconciler.controller.schedule import Schedule, duration, jittered
from reconciler.controller.sources import GitWatch, is_git_change, watch_roots, watched_dirs
from reconciler.controller.triggers import TriggerQueue
from reconciler.errors import UsageError
from tests.support import GIT_ENV, GitRepo


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60", 60.0), ("0.01", 0.01), ("250ms", 0.25), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "-1", "5 minutes", "1d", "s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        duration(text)


@pytest.mark.parametrize("unit", [0.0, 0.25, 0.5, 0.999999])
def test_jitter_stays_within_ten_percent(unit: float) -> None:
    assert 54.0 <= jittered(60.0, unit) <= 66.0


def test_jitter_spreads() -> None:
    assert jittered(60.0, 0.0) == pytest.approx(54.0)
    assert jittered(60.0, 0.5) == pytest.approx(60.0)


@pytest.mark.parametrize(
    ("text", "listen"),
    [
        ("127.0.0.1:9300", Listen("127.0.0.1", 9300)),
        (":9300", Listen("127.0.0.1", 9300)),
        ("9300", Listen("127.0.0.1", 9300)),
        ("0.0.0.0:0", Listen("0.0.0.0", 0)),
        ("[::1]:8080", Listen("::1", 8080)),
    ],
)
def test_listen_addresses(text: str, listen: Listen) -> None:
    assert parse_listen(text) == listen


@pytest.mark.parametrize("text", ["host", "1.2.3.4:", "1.2.3.4:99999", "x:y"])
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(UsageError):
        parse_listen(text)


def test_triggers_during_a_reconcile_coalesce_into_one_batch() -> None:
    queue = TriggerQueue()
    threads = [threading.Thread(target=queue.fire, args=("webhook",)) for _ in range(500)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.fire("sighup")
    assert queue.take(0) == {"webhook", "sighup"}
    assert queue.take(0) == frozenset()
    assert queue.fired == 501


def test_take_waits_for_a_trigger() -> None:
    queue = TriggerQueue()
    timer = threading.Timer(0.05, queue.fire, args=("watch",))
    timer.start()
    assert queue.take(30) == {"watch"}
    timer.join()


def test_wake_returns_without_a_reason() -> None:
    queue = TriggerQueue()
    timer = threading.Timer(0.05, queue.wake)
    timer.start()
    assert queue.take(30) == frozenset()
    timer.join()


def test_a_wake_before_take_is_not_lost() -> None:
    queue = TriggerQueue()
    queue.wake()
    started = time.monotonic()
    assert queue.take(30) == frozenset()
    assert time.monotonic() - started < 10
    timer = threading.Timer(0.05, queue.fire, args=("watch",))
    timer.start()
    assert queue.take(30) == {"watch"}
    timer.join()


def test_backoff_is_capped_exponential_and_resets() -> None:
    backoff = Backoff(initial=1.0, maximum=300.0)
    delays = [backoff.next_delay() for _ in range(12)]
    assert delays[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert max(delays) == 300.0
    backoff.reset()
    assert backoff.next_delay() == 1.0


def test_container_backoff_spaces_out_corrections() -> None:
    backoff = ContainerBackoff(base=10.0, maximum=60.0)
    assert backoff.ready(101, 0.0)
    backoff.corrected(101, 0.0)
    assert not backoff.ready(101, 9.0)
    assert backoff.ready(101, 10.0)
    backoff.corrected(101, 10.0)
    assert not backoff.ready(101, 29.0)
    assert backoff.ready(101, 30.0)
    for _ in range(10):
        backoff.corrected(101, 100.0)
    assert backoff.not_before(101) == 160.0
    assert backoff.ready(102, 0.0)
    backoff.settled(101)
    assert backoff.ready(101, 100.0)
    backoff.corrected(101, 100.0)
    backoff.corrected(102, 100.0)
    backoff.keep_only({102})
    assert backoff.ready(101, 100.0) and not backoff.ready(102, 100.0)


def test_schedule_polls_checks_drift_and_backs_off() -> None:
    schedule = Schedule(next_poll=60.0, next_drift=0.0, drift_interval=300.0)
    assert schedule.next_due() == ("drift-check", 0.0)
    assert schedule.due(0.0) == {"drift"}
    schedule.done(1.0, poll_in=60.0, retry_in=None, drift_checked=True)
    assert schedule.next_due() == ("poll", 61.0)
    assert schedule.due(61.0) == {"poll"}
    schedule.done(62.0, poll_in=60.0, retry_in=4.0, drift_checked=False)
    assert schedule.next_due() == ("retry", 66.0)
    assert schedule.due(130.0) == {"retry"}, "after a failure only the retry timer runs"
    schedule.done(131.0, poll_in=60.0, retry_in=None, drift_checked=False)
    assert schedule.next_due() == ("poll", 191.0)
    assert schedule.due(302.0) == {"poll", "drift"}


def test_schedule_without_drift_checks() -> None:
    schedule = Schedule(next_poll=5.0, next_drift=None, drift_interval=0.0)
    schedule.done(1.0, poll_in=5.0, retry_in=None, drift_checked=True)
    assert schedule.next_due() == ("poll", 6.0)
    assert schedule.due(1000.0) == {"poll"}


def test_the_watched_git_dir_of_a_work_tree_a_bare_repository_and_a_url(tmp_path: Path) -> None:
    GitRepo(tmp_path / "work")
    assert watched_git_dir(str(tmp_path / "work")) == (tmp_path / "work" / ".git").resolve()
    bare = tmp_path / "bare.git"
    subprocess.run(
        ["git", "init", "-q", "--bare", str(bare)], env={**os.environ, **GIT_ENV}, check=True
    )
    assert watched_git_dir(bare.as_uri()) == bare.resolve()
    with pytest.raises(UsageError, match=r"--watch: .* is not a local git repository"):
        watched_git_dir(str(tmp_path))


@pytest.mark.parametrize(
    ("changed", "wanted"),
    [
        ("refs/heads/main", True),
        ("packed-refs", True),
        ("HEAD", True),
        ("objects/ab/cdef", True),
        ("index", False),
        ("logs/HEAD", False),
        ("hooks/post-update", False),
    ],
)
def test_watch_filter(tmp_path: Path, changed: str, wanted: bool) -> None:
    assert is_git_change(tmp_path, str(tmp_path / changed)) is wanted
    assert is_git_change(tmp_path, "/elsewhere/refs/heads/main") is False


def test_a_linked_worktree_is_watched_with_its_common_directory(tmp_path: Path) -> None:
    main = GitRepo(tmp_path / "main")
    main.write("a.yaml", "a: 1\n")
    main.commit("one")
    main.git("worktree", "add", "-q", "-b", "feature", str(tmp_path / "linked"))
    git_dir = watched_git_dir(str(tmp_path / "linked"))
    common = (tmp_path / "main" / ".git").resolve()
    assert watched_dirs(git_dir) == (git_dir, common)
    assert watch_roots(watched_dirs(git_dir)) == [common]
    assert watched_dirs(common) == (common,)


def test_a_commit_in_a_linked_worktree_wakes_the_watch(tmp_path: Path) -> None:
    main = GitRepo(tmp_path / "main")
    main.write("a.yaml", "a: 1\n")
    main.commit("one")
    main.git("worktree", "add", "-q", "-b", "feature", str(tmp_path / "linked"))
    linked = tmp_path / "linked"
    woken = threading.Event()
    watch = GitWatch(watched_git_dir(str(linked)), woken.set, lambda *a, **k: None)
    watch.start()
    try:
        for attempt in range(10):  # until the watcher is surely set up: each commit moves a ref
            (linked / "a.yaml").write_text(f"a: {attempt + 2}\n")
            git = ["git", "-C", str(linked), "commit", "-qam", f"change {attempt}"]
            subprocess.run(git, env={**os.environ, **GIT_ENV}, check=True)
            if woken.wait(1.0):
                break
        assert woken.is_set(), "no watch event for commits made in the linked worktree"
    finally:
        watch.close()


def test_json_log_lines_put_revision_and_ctid_first() -> None:
    line = format_line(
        "json", 0.0, "info", "apply.change", {"status": "ok", "ctid": 101, "revision": "ab"}
    )
    record = json.loads(line)
    assert list(record) == ["ts", "level", "event", "revision", "ctid", "status"]
    assert record["ts"] == "1970-01-01T00:00:00.000Z"


def test_text_log_lines_are_one_line_each() -> None:
    line = format_line(
        "text", 0.0, "warning", "x", {"error": "two\nlines", "ctid": 7, "none": None}
    )
    assert "\n" not in line
    assert line == '1970-01-01T00:00:00.000Z warning x ctid=7 error="two\\nlines"'


def test_event_log_writes_whole_lines() -> None:
    stream = io.StringIO()
    log = EventLog("json", stream, clock=lambda: 1.5)
    log("info", "controller.started", pid=1)
    assert json.loads(stream.getvalue())["ts"] == "1970-01-01T00:00:01.500Z"


def test_failures_back_off_hold_or_park_by_the_class_of_the_error() -> None:
    failures = Failures(Backoff(initial=1.0, maximum=300.0), park=3600.0)
    failures.failed("retry-later", now=0.0)
    assert [failures.retry_in(), failures.retry_in()] == [1.0, 2.0]
    failures.failed("needs-human", now=10.0, tip="a" * 40)
    assert failures.retry_in() is None
    assert failures.holding("a" * 40, sighup=False)
    assert not failures.holding("a" * 40, sighup=True), "SIGHUP tries again"
    assert not failures.holding("b" * 40, sighup=False), "a new revision is tried"
    failures.failed("permanent", now=20.0, tip="a" * 40)
    assert failures.retry_in() is None and not failures.holding("a" * 40, sighup=False)
    assert failures.parked(3619.0, sighup=False)
    assert not failures.parked(3620.0, sighup=False), "tried again after the long interval"
    assert not failures.parked(100.0, sighup=True)
    failures.failed("retry-later", now=30.0)
    assert not failures.parked(31.0, sighup=False), "another kind of failure: parked no more"
    assert failures.retry_in() == 1.0, "the backoff started again after the wait"
    failures.succeeded()
    assert failures.retry_in() == 1.0 and not failures.parked(40.0, sighup=False)
