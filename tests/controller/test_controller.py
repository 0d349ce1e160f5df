"""The controller's cycle in-process, with a fake source and an empty fake node: what happens
on bugs, invalid tips, rewrites and shutdown, without waiting for anything."""

from __future__ import annotations

import io
import json
import shutil
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.controller.events import EventLog
from reconciler.controller.loop import Controller
from reconciler.controller.metrics import Health, Metrics
from reconciler.controller.settings import Seams, Settings
from reconciler.controller.triggers import TriggerQueue
from reconciler.node.access import LocalAccess
from reconciler.node.process import DEFAULT_TIMEOUT, Completed
from reconciler.source import DEFAULT_LIMITS, Commit, Limits, Revision
from reconciler.state import StateDir

NODE = b"apiVersion: vzgitops/v1\nkind: Node\nmetadata:\n  name: n1\n"


class FakeSource:
    """Commits in memory: sha -> (parent, files); `tip` is what the ref resolves to."""

    def __init__(self) -> None:
        self.commits: dict[str, tuple[str | None, dict[str, bytes]]] = {}
        self.tip = ""
        self.reads: list[str] = []
        self.failure: Exception | None = None

    def add(self, sha_char: str, files: dict[str, bytes], parent: str | None) -> str:
        sha = sha_char * 40
        self.commits[sha] = (parent, files)
        self.tip = sha
        return sha

    @property
    def limits(self) -> Limits:
        return DEFAULT_LIMITS

    def fetch(self) -> None:
        if self.failure is not None:
            raise self.failure

    def resolve(self, ref: str | None) -> str:
        return self.tip

    def locate(self, ref: str | None, subpath: str = "") -> Commit:
        sha = ref or self.tip
        when = datetime(2024, 1, 1, tzinfo=UTC)
        return Commit(sha, sha, subpath, sha[:1] * 39 + "0", when, f"commit {sha[:1]}")

    def read_at(self, commit: Commit) -> Revision:
        self.reads.append(commit.sha)
        files = self.commits[commit.sha][1]
        return Revision(commit.sha, commit.ref, files, commit.committed_at, commit.subject)

    def read(self, ref: str | None, subpath: str = "") -> Revision:
        return self.read_at(self.locate(ref, subpath))

    def is_ancestor(self, old_sha: str, new_sha: str) -> bool:
        sha: str | None = new_sha
        while sha is not None:
            if sha == old_sha:
                return True
            sha = self.commits[sha][0]
        return False

    def commits_between(self, old_sha: str | None, new_sha: str) -> list[str]:
        raise NotImplementedError

    def verify_signatures(
        self,
        old_sha: str | None,
        new_sha: str,
        *,
        allowed_signers: Path | None,
        gpg_home: Path | None,
    ) -> list[str]:
        raise NotImplementedError


def empty_node(argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> Completed:
    """A node with no containers: vzlist lists nothing."""
    return Completed(tuple(argv), 0, "[]" if argv[0] == "vzlist" else "", "", 0.0)


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


def make(source: FakeSource, tmp_path: Path) -> tuple[Controller, io.StringIO]:
    log = io.StringIO()
    (tmp_path / "conf").mkdir(exist_ok=True)
    state = StateDir(tmp_path / "state")
    state.ensure()  # as the daemon does before it starts the controller
    seams = Seams(
        source=source,
        access=LocalAccess(empty_node, tmp_path / "conf"),
        state=state,
        log=EventLog("json", log),
        metrics=Metrics(),
        health=Health(),
        queue=TriggerQueue(),
        stopping=threading.Event(),
    )
    settings = Settings(
        repo="fake", ref=None, path="", state_dir=tmp_path / "state", conf_dir=tmp_path / "conf"
    )
    return Controller(settings, seams), log


def result(controller: Controller) -> str | None:
    """The last cycle's result (a function, so mypy does not narrow it between cycles)."""
    return controller.last_result


def events(log: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.getvalue().splitlines()]


def test_a_bug_is_logged_and_backed_off_and_the_loop_goes_on(
    source: FakeSource, tmp_path: Path
) -> None:
    source.add("a", {"node.yaml": NODE}, None)
    source.failure = KeyError("boom")
    controller, log = make(source, tmp_path)
    controller.run_cycle(frozenset({"startup"}))
    assert result(controller) == "failure"
    assert controller.last_error is not None
    assert controller.last_error.message == "internal error: KeyError: 'boom'"
    assert controller.schedule.next_due()[0] == "retry"
    failed = next(e for e in events(log) if e["event"] == "reconcile.failed")
    assert "Traceback" in str(failed["traceback"])
    source.failure = None
    controller.run_cycle(frozenset({"retry"}))
    assert result(controller) == "success"
    assert controller.last_error is None
    assert controller.schedule.next_due()[0] != "retry"


def test_an_invalid_tip_is_validated_once_and_reported_every_cycle(
    source: FakeSource, tmp_path: Path
) -> None:
    good = source.add("a", {"node.yaml": NODE}, None)
    controller, _ = make(source, tmp_path)
    controller.run_cycle(frozenset({"startup"}))
    bad = source.add("b", {"node.yaml": b"kind: [unclosed\n"}, good)
    for _ in range(3):
        controller.run_cycle(frozenset({"poll"}))
    assert result(controller) == "invalid"
    assert source.reads.count(bad) == 1
    assert controller.live is not None and controller.live.sha == good
    assert controller.pending is not None and controller.pending.sha == bad
    assert controller.s.metrics.reconciles["invalid"] == 3
    snapshot = controller.snapshot()
    assert snapshot.pending is not None and snapshot.pending.problems


def test_a_rewrite_is_held_and_a_descendant_of_the_live_commit_is_not(
    source: FakeSource, tmp_path: Path
) -> None:
    first = source.add("a", {"node.yaml": NODE}, None)
    controller, _ = make(source, tmp_path)
    controller.run_cycle(frozenset({"startup"}))
    source.add("b", {"node.yaml": NODE}, None)
    controller.run_cycle(frozenset({"poll"}))
    assert result(controller) == "held"
    assert controller.pending is not None and "history rewrite" in controller.pending.reason
    child = source.add("c", {"node.yaml": NODE}, first)
    controller.run_cycle(frozenset({"poll"}))
    assert result(controller) == "success"
    assert controller.live is not None and controller.live.sha == child
    assert controller.pending is None


def test_a_restarted_controller_resumes_from_last_applied(
    source: FakeSource, tmp_path: Path
) -> None:
    first = source.add("a", {"node.yaml": NODE}, None)
    controller, _ = make(source, tmp_path)
    controller.run_cycle(frozenset({"startup"}))
    again, _ = make(source, tmp_path)
    assert again.live is not None and again.live.sha == first
    again.run_cycle(frozenset({"startup"}))
    assert source.reads.count(first) == 1, "its tree validated before the restart: not re-read"
    assert again.live.subject == "commit a"
    assert again.live_desired == controller.live_desired


def test_a_restarted_controller_reads_the_live_revision_again_without_its_cache(
    source: FakeSource, tmp_path: Path
) -> None:
    first = source.add("a", {"node.yaml": NODE}, None)
    controller, _ = make(source, tmp_path)
    controller.run_cycle(frozenset({"startup"}))
    shutil.rmtree(tmp_path / "state" / "desired")
    again, _ = make(source, tmp_path)
    again.run_cycle(frozenset({"startup"}))
    assert source.reads.count(first) == 2, "re-read once for its drift check, not re-applied"
    assert again.live is not None and again.live_desired == controller.live_desired


def test_stopping_ends_a_cycle_between_steps_without_counting_it(
    source: FakeSource, tmp_path: Path
) -> None:
    source.add("a", {"node.yaml": NODE}, None)
    controller, log = make(source, tmp_path)
    controller.s.stopping.set()
    controller.run_cycle(frozenset({"startup"}))
    assert controller.cycles == 0
    assert source.reads == []
    assert any(e["event"] == "reconcile.interrupted" for e in events(log))
