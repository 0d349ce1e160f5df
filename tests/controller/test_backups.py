"""Scheduled backups in the controller, in-process with a fake clock (the `Seams.clock` seam) and
the simulated node's real vzdump: when dumps are due, what is recorded and shown (status,
metrics), retention after a successful dump only (the safety net's archives spared), a failed
or missed backup as an error, and no dump while another process holds the node lock."""

from __future__ import annotations

import io
import json
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from reconciler.controller.events import EventLog
from reconciler.controller.loop import Controller
from reconciler.controller.metrics import Health, Metrics
from reconciler.controller.settings import Seams, Settings
from reconciler.controller.status import utc
from reconciler.controller.status_text import render_text
from reconciler.controller.triggers import TriggerQueue
from reconciler.node.access import LocalAccess
from reconciler.node.process import SubprocessRunner
from reconciler.state import StateDir, node_lock
from tests.controller.test_controller import NODE, FakeSource, events
from tests.sim.support import fault
from tests.support import container_doc, oplog

T0 = 1_800_000_000.0
HOUR = 3600.0
CTID = 288  # its jitter on a 6h schedule is under a second: due times read plainly


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def web(source: FakeSource, **backup: Any) -> None:
    policy = {"schedule": "6h", "mode": "stop", **backup}
    doc = yaml.safe_load(container_doc("web", CTID))
    doc["spec"]["backup"] = policy
    files = {"node.yaml": NODE, "web.yaml": yaml.safe_dump(doc).encode()}
    source.add("a", files, None)


def started(sim_node: Any, tmp_path: Path, **backup: Any) -> tuple[Controller, Clock, io.StringIO]:
    """A controller whose first cycle created web; the clock stands still until moved."""
    source, clock, log = FakeSource(), Clock(), io.StringIO()
    web(source, **backup)
    state = StateDir(tmp_path / "state")
    state.ensure()
    conf = Path(sim_node.env["VZGITOPS_VZ_CONF_DIR"])
    seams = Seams(source=source, access=LocalAccess(SubprocessRunner(dict(sim_node.env)), conf),
                  state=state, log=EventLog("json", log), metrics=Metrics(), health=Health(),
                  queue=TriggerQueue(), stopping=threading.Event(), clock=clock)  # fmt: skip
    settings = Settings(repo="fake", ref=None, path="", state_dir=state.root, conf_dir=conf)
    made = Controller(settings, seams)
    made.run_cycle(frozenset({"startup"}))
    assert made.converged, log.getvalue()
    return made, clock, log


def due(made: Controller) -> float:
    assert made.live_desired is not None
    found = made.backups.next_at(made.live_desired, "n1")
    assert found is not None
    return found


def dumps(sim_node: Any) -> int:
    return sum(1 for e in oplog(sim_node.dir) if e.get("tool") == "vzdump")


def archives(sim_node: Any) -> list[str]:
    return sorted(p.name for p in (sim_node.dir / "dump").glob(f"vzdump-openvz-{CTID}-*.tar.gz"))


def line(made: Controller) -> dict[str, Any]:
    [found] = made.snapshot().model_dump(mode="json")["backups"]
    return dict(found)


def test_dumps_are_taken_when_due_and_then_an_interval_after_the_last_success(
    sim_node: Any, tmp_path: Path
) -> None:
    made, clock, log = started(sim_node, tmp_path)
    first = due(made)
    assert T0 <= first < T0 + 1  # never dumped: due when the policy was first seen, plus jitter
    assert line(made)["state"] == "never"
    clock.now = first - 0.5
    assert made.run_backups() == 0 and dumps(sim_node) == 0
    clock.now = first
    assert made.run_backups() == 1 and dumps(sim_node) == 1
    [archive] = archives(sim_node)
    record = json.loads((made.s.state.root / "backups.json").read_text())["containers"][str(CTID)]
    assert record["ok_at"] == first and record["archive"].endswith(archive)
    assert [e["event"] for e in events(log) if str(e["event"]).startswith("backup.")] == [
        "backup.started", "backup.taken"
    ]  # fmt: skip
    clock.now = first + HOUR
    assert made.run_backups() == 0
    shown = line(made)
    assert (shown["state"], shown["age_seconds"], shown["error"]) == ("ok", HOUR, None)
    metric = f'vzgitops_backup_age_seconds{{ctid="{CTID}",name="web",node="default"}} 3600.0'
    assert metric in made.s.metrics.render()
    second = due(made)
    assert first + 6 * HOUR <= second < first + 6 * HOUR + 1
    clock.now = second
    assert made.run_backups() == 1 and dumps(sim_node) == 2
    assert [e["verb"] for e in oplog(sim_node.dir) if e.get("ctid") == CTID][-1:] == ["vzdump"]


def _older(sim_node: Any, stamps: list[str]) -> list[Path]:
    """The one archive moved to older names, each with its log, as earlier dumps (so the next
    dump's name is newer than all of them, within the same second or not)."""
    [newest] = (sim_node.dir / "dump").glob(f"vzdump-openvz-{CTID}-*.tar.gz")
    made = []
    for stamp in stamps:
        copy = newest.with_name(f"vzdump-openvz-{CTID}-{stamp}.tar.gz")
        shutil.copy(newest, copy)
        copy.with_suffix("").with_suffix(".log").write_text("old\n")
        made.append(copy)
    newest.unlink()
    return made


def test_retention_after_a_successful_dump_spares_the_safety_net(
    sim_node: Any, tmp_path: Path
) -> None:
    made, clock, _ = started(sim_node, tmp_path, keepLast=2)
    clock.now = due(made)
    assert made.run_backups() == 1
    safety, oldest, older = _older(sim_node, ["2020_01_01-00_00_00", "2020_01_02-00_00_00",
                                              "2020_01_03-00_00_00"])  # fmt: skip
    made.s.state.record_safety_dump(CTID, str(safety), clock.now)
    fault(sim_node, "--verb", "vzdump", "--fail", "1", "--exit", "255")
    clock.now = due(made)
    assert made.run_backups() == 1  # failed: nothing pruned
    assert oldest.exists() and older.exists()
    assert line(made)["state"] == "failed"
    clock.now = due(made)
    assert made.run_backups() == 1
    left = archives(sim_node)
    assert safety.name in left and older.name in left and oldest.name not in left
    assert len(left) == 3  # the new one, the one keepLast keeps, and the safety dump
    assert not oldest.with_suffix("").with_suffix(".log").exists()


def test_a_failed_dump_is_an_error_until_a_retry_succeeds(sim_node: Any, tmp_path: Path) -> None:
    made, clock, log = started(sim_node, tmp_path)
    fault(sim_node, "--verb", "vzdump", "--fail", "1", "--exit", "255")
    clock.now = failed_at = due(made)
    assert made.run_backups() == 1
    shown = line(made)
    assert shown["state"] == "failed" and "the last dump failed at" in shown["error"]
    assert 'vzgitops_backup_errors{node="default"} 1.0' in made.s.metrics.render()
    assert [e["event"] for e in events(log)].count("backup.failed") == 1
    assert due(made) == failed_at + 0.1 * 6 * HOUR  # retried after a tenth of the period
    clock.now = due(made) - 1
    assert made.run_backups() == 0
    clock.now = due(made)
    assert made.run_backups() == 1
    assert line(made)["state"] == "ok" and line(made)["error"] is None
    assert 'vzgitops_backup_errors{node="default"} 0.0' in made.s.metrics.render()


def test_a_backup_overdue_by_a_whole_period_is_missed(sim_node: Any, tmp_path: Path) -> None:
    made, clock, _ = started(sim_node, tmp_path)
    clock.now = due(made) + 6 * HOUR - 1
    assert line(made)["state"] == "never"
    clock.now = due(made) + 6 * HOUR + 1
    shown = line(made)
    assert shown["state"] == "missed" and "no successful dump since it was due" in shown["error"]
    assert "backups:    1, 1 ERROR" in render_text(made.snapshot(), utc(clock.now))


def test_no_dump_while_another_process_holds_the_node_lock(sim_node: Any, tmp_path: Path) -> None:
    made, clock, log = started(sim_node, tmp_path)
    clock.now = due(made)
    holder = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with node_lock(made.s.state, what="vzgitops apply"):
            holder.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holder.wait(30)
        assert made.run_backups() == 0 and dumps(sim_node) == 0
        assert "backup.waiting" in [e["event"] for e in events(log)]
    finally:
        release.set()
        thread.join(30)
    assert made.run_backups() == 1 and dumps(sim_node) == 1


def test_a_nodes_policy_and_dump_dir_apply_to_its_containers(sim_node: Any, tmp_path: Path) -> None:
    source, clock, log = FakeSource(), Clock(), io.StringIO()
    where = tmp_path / "node-dumps"
    where.mkdir()  # vzdump refuses a dump directory that does not exist
    node = NODE + f"spec:\n  backup: {{schedule: 1d, mode: stop, dumpDir: {where}}}\n".encode()
    source.add("a", {"node.yaml": node, "web.yaml": container_doc("web", CTID).encode()}, None)
    state = StateDir(tmp_path / "state")
    state.ensure()
    conf = Path(sim_node.env["VZGITOPS_VZ_CONF_DIR"])
    seams = Seams(source=source, access=LocalAccess(SubprocessRunner(dict(sim_node.env)), conf),
                  state=state, log=EventLog("json", log), metrics=Metrics(), health=Health(),
                  queue=TriggerQueue(), stopping=threading.Event(), clock=clock)  # fmt: skip
    made = Controller(Settings(repo="fake", ref=None, path="", state_dir=state.root,
                               conf_dir=conf), seams)  # fmt: skip
    made.run_cycle(frozenset({"startup"}))
    clock.now = due(made)
    assert made.run_backups() == 1
    assert len(list(where.glob(f"vzdump-openvz-{CTID}-*.tar.gz"))) == 1, log.getvalue()
    assert line(made)["policy"] == f"every 1d, stop, gzip, in {where}, keep all"


def test_a_stop_mode_dump_waits_for_the_maintenance_window(sim_node: Any, tmp_path: Path) -> None:
    # T0 is a Friday, 08:00 UTC; the window opens at 02:00 UTC every day for an hour
    made, clock, _ = started(sim_node, tmp_path, schedule="1d")
    assert made.live_desired is not None
    window = {"start": "02:00", "duration": "1h"}
    doc = yaml.safe_load(container_doc("web", CTID, maintenance=[window]))
    doc["spec"]["backup"] = {"schedule": "1d", "mode": "stop"}
    source = made.s.source
    assert isinstance(source, FakeSource)
    source.add("b", {"node.yaml": NODE, "web.yaml": yaml.safe_dump(doc).encode()}, source.tip)
    made.run_cycle(frozenset({"poll"}))
    opens = datetime(2027, 1, 16, 2, 0, tzinfo=UTC).timestamp()
    assert datetime.fromtimestamp(T0, UTC).isoformat() == "2027-01-15T08:00:00+00:00"
    clock.now = T0 + 60
    assert made.run_backups() == 0 and dumps(sim_node) == 0
    assert due(made) == opens and line(made)["next_due"] == "2027-01-16T02:00:00Z"
    clock.now = opens
    assert made.run_backups() == 1 and dumps(sim_node) == 1
