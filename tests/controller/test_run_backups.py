"""`vzgitops run` takes a scheduled dump (real process, real git, the simulated node's vzdump),
shows it in status.json, `vzgitops status` and /metrics; kill -9 of the controller during a
scheduled dump, then a new controller converges and takes the dump it never recorded."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from tests.controller.harness import Controllers, Remote
from tests.sim.support import fault
from tests.support import container_doc, listing, vzgitops

FAST = ["--interval", "0.3", "--drift-interval", "1", "--log-format", "json"]
CTID = 288  # its jitter on a 5m schedule is a few hundredths of a second: due at once
BACKUP = {"schedule": "5m", "mode": "stop", "keepLast": 3}


def holder(lock: Path) -> str:
    """The command line of the process holding a container's vzctl lock, or ''."""
    try:
        pid = lock.read_text(encoding="ascii").split()[0]
        return (Path("/proc") / pid / "cmdline").read_bytes().decode(errors="replace")
    except (OSError, IndexError):
        return ""


def dumped(s: dict[str, Any]) -> Any:
    lines = s.get("backups") or []
    return lines and lines[0]["state"] == "ok" and s.get("converged") and s


def test_a_scheduled_dump_is_taken_and_shown(
    controllers: Controllers, remote: Remote, node_env: dict[str, str], sim_node: Any
) -> None:
    remote.commit({"web.yaml": container_doc("web", CTID, backup=BACKUP)}, "web, backed up")
    run = controllers.start(["--repo", remote.url, "--metrics-listen", "127.0.0.1:0", *FAST])
    status = run.wait(dumped, "the first scheduled dump")
    [line] = status["backups"]
    assert line["archive"].startswith(str(sim_node.dir / "dump" / f"vzdump-openvz-{CTID}-"))
    assert line["policy"] == "every 5m, stop, gzip, keep last 3"
    assert any(e["event"] == "backup.taken" for e in run.events())
    age = run.metrics()[f'vzgitops_backup_age_seconds{{ctid="{CTID}",name="web"}}']
    assert 0 <= age < 300
    shown = vzgitops(["status", "--state-dir", str(run.state)], node_env)
    assert f"  {CTID:<8} {'web':<20} ok: last " in shown.stdout
    assert run.stop() == 0


def test_kill_9_during_a_scheduled_dump_then_a_new_controller_converges(
    controllers: Controllers, remote: Remote, node_env: dict[str, str], sim_node: Any
) -> None:
    remote.commit({"web.yaml": container_doc("web", CTID, backup=BACKUP)}, "web, backed up")
    fault(sim_node, "--verb", "vzdump", "--latency", "1.5")
    first = controllers.start(["--repo", remote.url, *FAST])
    lock = sim_node.dir / "lock" / f"{CTID}.lck"
    first.wait(lambda s: "vzdump" in holder(lock), "vzdump holding the container's lock")
    os.kill(first.pid, signal.SIGKILL)  # the orphaned vzdump finishes on its own
    first.proc.wait(10)
    deadline = time.monotonic() + 60
    while lock.exists():
        assert time.monotonic() < deadline, "the orphaned vzdump did not finish"
        time.sleep(0.05)
    fault(sim_node, "--clear")
    assert not (first.state / "backups.json").exists()  # killed before recording it
    second = controllers.start(["--repo", remote.url, *FAST], state=first.state, name="again")
    status = second.wait(dumped, "the dump the first controller never recorded")
    assert listing(node_env)[CTID]["status"] == "running"  # vzdump --mode stop started it again
    assert status["backups"][0]["error"] is None
    assert second.stop() == 0
