"""The error class decides what the controller does next (`errors.disposition`): a transient
vzctl failure backs off and recovers, a permanent one is recorded and not re-applied until
something changes, and a --ref that does not exist waits for a person instead of a retry loop."""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reconciler.apply import RetryPolicy
from reconciler.controller.events import EventLog
from reconciler.controller.loop import Controller
from reconciler.controller.metrics import Health, Metrics
from reconciler.controller.schedule import Schedule
from reconciler.controller.settings import Seams, Settings
from reconciler.controller.triggers import TriggerQueue
from reconciler.errors import UsageError
from reconciler.node.access import LocalAccess
from reconciler.node.process import DEFAULT_TIMEOUT, Completed, SubprocessRunner
from reconciler.state import StateDir
from tests.controller.harness import Controllers, Remote
from tests.controller.test_controller import NODE, FakeSource, events, result
from tests.support import container_doc, vz, vzgitops


class Counting:
    """The real simulated node, counting each vzctl verb."""

    def __init__(self, env: dict[str, str]) -> None:
        self.inner = SubprocessRunner(env)
        self.verbs: list[str] = []

    def __call__(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        if argv[0] == "vzctl":
            self.verbs.append(argv[1])
        return self.inner(argv, timeout=timeout)


def controller(
    source: FakeSource, sim_node: Any, tmp_path: Path, node: str | None = None
) -> tuple[Controller, Counting, io.StringIO]:
    log, runner = io.StringIO(), Counting(dict(sim_node.env))
    state = StateDir(tmp_path / "state")
    state.ensure()
    conf = Path(sim_node.env["VZGITOPS_VZ_CONF_DIR"])
    seams = Seams(source=source, access=LocalAccess(runner, conf), state=state,
                  log=EventLog("json", log), metrics=Metrics(), health=Health(),
                  queue=TriggerQueue(), stopping=threading.Event())  # fmt: skip
    settings = Settings(
        repo="fake",
        ref=None,
        path="",
        state_dir=state.root,
        conf_dir=conf,
        nodes=(node,) if node else (),
    )
    made = Controller(settings, seams)
    made.node.retry = RetryPolicy(attempts=1)  # the executor's own retries are tested elsewhere
    return made, runner, log


def fault(sim_node: Any, *args: str) -> None:
    done = vzgitops(["sim", "fault", str(sim_node.dir), "--verb", "create", *args], sim_node.env)
    assert done.returncode == 0, done.stderr


def web(source: FakeSource) -> str:
    files = {"node.yaml": NODE, "web.yaml": container_doc("web", 101).encode()}
    return source.add("a", files, None)


def test_a_transient_vzctl_failure_backs_off_and_recovers(sim_node: Any, tmp_path: Path) -> None:
    source = FakeSource()
    web(source)
    made, runner, log = controller(source, sim_node, tmp_path)
    fault(sim_node, "--fail", "2", "--exit", "9")  # the container is locked, twice
    made.run_cycle(frozenset({"startup"}))
    assert result(made) == "failure"
    assert made.last_error is not None and made.last_error.kind == "retry-later"
    assert made.last_error.retry_at is not None
    assert made.schedule.next_due()[0] == "retry"
    made.run_cycle(frozenset({"retry"}))
    assert made.schedule.next_due()[0] == "retry"
    assert [e["retry_in"] for e in events(log) if e["event"] == "reconcile.retry"] == [1.0, 2.0]
    made.run_cycle(frozenset({"retry"}))
    assert result(made) == "success" and made.converged is True
    assert made.last_error is None
    assert made.schedule.next_due()[0] != "retry"
    assert runner.verbs.count("create") == 3


def test_a_permanent_vzctl_failure_is_recorded_and_not_reapplied_until_sighup(
    sim_node: Any, tmp_path: Path
) -> None:
    source = FakeSource()
    web(source)
    made, runner, log = controller(source, sim_node, tmp_path)
    fault(sim_node, "--fail", "100", "--exit", "21")
    made.run_cycle(frozenset({"startup"}))
    tried = runner.verbs.count("create")
    assert result(made) == "failure" and tried >= 1
    assert made.last_error is not None and made.last_error.kind == "permanent"
    assert "exit 21" in made.last_error.message
    assert made.schedule.next_due()[0] == "poll"
    for _ in range(3):
        made.run_cycle(frozenset({"poll"}))
    assert runner.verbs.count("create") == tried, "not re-applied at every poll"
    assert result(made) == "failure" and made.s.metrics.reconciles["failure"] == 4
    assert not any(e["event"] == "reconcile.retry" for e in events(log))
    made.run_cycle(frozenset({"sighup"}))
    assert runner.verbs.count("create") == 2 * tried, "SIGHUP tries again"


def test_drift_is_still_reported_while_a_permanent_failure_parks_the_revision(
    sim_node: Any, tmp_path: Path
) -> None:
    """web applies, db's create fails for good: the revision is parked, yet a hand change of web
    is reported at the next drift check, and neither corrected nor db's create tried again."""
    source = FakeSource()
    files = {
        "node.yaml": NODE,
        "web.yaml": container_doc("web", 101, cpus=1).encode(),
        "db.yaml": container_doc("db", 102).encode(),
    }
    source.add("a", files, None)
    made, runner, log = controller(source, sim_node, tmp_path)
    fault(sim_node, "--ctid", "102", "--fail", "100", "--exit", "21")
    made.run_cycle(frozenset({"startup"}))
    assert made.last_error is not None and made.last_error.kind == "permanent"
    made.schedule = Schedule(0.0, 0.0, 0.001)  # a drift check due at the next cycle
    changed = vz("vzctl", ["set", "101", "--cpus", "3", "--save"], sim_node.env)
    assert changed.returncode == 0, changed.stderr
    before = list(runner.verbs)
    made.run_cycle(frozenset({"drift"}))
    drifted = [e for e in events(log) if e["event"] == "drift.detected"]
    assert [e["ctid"] for e in drifted] == [101]
    assert runner.verbs == before, "nothing applied or corrected while parked"
    assert result(made) == "failure"
    assert made.last_error is not None and made.last_error.kind == "permanent"


def test_a_ref_that_does_not_exist_schedules_no_retry(sim_node: Any, tmp_path: Path) -> None:
    source = FakeSource()
    web(source)
    made, _, log = controller(source, sim_node, tmp_path)
    missing = UsageError("ref 'nope' not found in fake.")
    resolve = source.resolve
    source.resolve = lambda ref: (_ for _ in ()).throw(missing)  # type: ignore[method-assign]
    made.run_cycle(frozenset({"startup"}))
    assert result(made) == "failure"
    assert made.last_error is not None and made.last_error.kind == "needs-human"
    assert made.last_error.retry_at is None
    assert made.schedule.next_due()[0] == "poll"
    assert not any(e["event"] == "reconcile.retry" for e in events(log))
    source.resolve = resolve  # type: ignore[method-assign]
    made.run_cycle(frozenset({"sighup"}))
    assert result(made) == "success" and made.converged is True
    assert made.last_error is None


def test_a_tip_that_needs_a_person_is_not_tried_again_until_sighup_or_a_new_revision(
    sim_node: Any, tmp_path: Path
) -> None:
    source = FakeSource()
    first = web(source)
    made, runner, log = controller(source, sim_node, tmp_path, node="elsewhere")

    def tried() -> int:
        return sum(1 for e in events(log) if e["event"] == "revision.new")

    made.run_cycle(frozenset({"startup"}))
    assert made.last_error is not None and made.last_error.kind == "needs-human"
    assert "'elsewhere' is not declared" in made.last_error.message
    for reason in ("poll", "webhook", "drift"):
        made.run_cycle(frozenset({reason}))
    assert tried() == 1, "the same tip is not tried again at every poll"
    assert result(made) == "failure" and made.last_error.kind == "needs-human"
    assert made.schedule.next_due()[0] != "retry"
    made.run_cycle(frozenset({"sighup"}))
    assert tried() == 2
    source.add("b", {"node.yaml": NODE}, first)
    made.run_cycle(frozenset({"poll"}))
    assert tried() == 3, "a new revision is tried"
    assert runner.verbs == [], "nothing reached the node"


def test_a_missing_ref_is_not_fetched_again_and_again(
    controllers: Controllers, remote: Remote, tmp_path: Path
) -> None:
    first = remote.commit({"web.yaml": container_doc("web", 101)})
    run = controllers.start(
        ["--repo", remote.url, "--ref", "later", "--interval", "1h", "--log-format", "json"]
    )
    error = run.wait(lambda s: s.get("last_error"), "the missing ref recorded")
    assert "later" in error["message"] and error["kind"] == "needs-human"
    assert error["retry_at"] is None
    assert run.status()["next"]["action"] != "retry"
    remote.work.git("branch", "later", first)
    remote.work.git("push", "-q", "origin", "later")
    run.signal(1)  # SIGHUP: the barrier; every cycle before it is in the log
    status = run.wait(lambda s: (s.get("applied") or {}).get("sha") == first and s, "applied")
    assert status["cycles"] == 2 and status["last_error"] is None
    assert run.stop() == 0
    seen = [e["event"] for e in run.events()]
    assert seen.count("reconcile.failed") == 1
    assert "reconcile.retry" not in seen
