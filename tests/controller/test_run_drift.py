"""Drift under `vzgitops run`: a container changed by hand is put back within one drift interval
with --drift correct, and only reported with --drift report."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import Any

from tests.controller.harness import Controllers, Remote, Running, conf_value, wait_for
from tests.sim.support import fault
from tests.support import container_doc, mutating_calls, vz

DRIFT = ["--interval", "1h", "--drift-interval", "1", "--log-format", "json"]


def converged(s: dict[str, Any]) -> bool:
    return bool(s.get("converged") and s.get("containers"))


def logged(run: Running, event: str, ctid: int) -> bool:
    return any(e["event"] == event and e.get("ctid") == ctid for e in run.events())


def edit_conf(conf_dir: Path, ctid: int, key: str, value: str) -> None:
    """A hand edit of CTID.conf (no vzctl call)."""
    path = conf_dir / f"{ctid}.conf"
    text = re.sub(rf"^{key}=.*$", f'{key}="{value}"', path.read_text(), flags=re.MULTILINE)
    path.write_text(text)


def container(status: dict[str, Any], ctid: int) -> dict[str, Any]:
    return next(c for c in status.get("containers", []) if c["ctid"] == ctid)


def test_drift_correct_puts_a_hand_change_back(
    controllers: Controllers, remote: Remote, conf_dir: Path, node_env: dict[str, str]
) -> None:
    remote.commit({"web.yaml": container_doc("web", 101, cpus=1)})
    run = controllers.start(["--repo", remote.url, "--metrics-listen", "127.0.0.1:0", *DRIFT])
    run.wait(converged, "the commit applied")
    assert vz("vzctl", ["set", "101", "--cpus", "3", "--save"], node_env).returncode == 0
    run.wait(lambda s: conf_value(conf_dir, 101, "CPUS") == "1", "the hand change put back", 10)
    # status.json is written when a cycle ends: until the correcting cycle is over it still shows
    # the cycle before the hand change ("in-sync"), and a stop now would interrupt the correction.
    wait_for(lambda: logged(run, "drift.corrected", 101), 10, "the correction logged", run.tail)
    cycles = run.status().get("cycles", 0)
    run.wait(
        lambda s: s.get("cycles", 0) > cycles and container(s, 101)["state"] == "in-sync",
        "status in sync again, from a cycle after the correction",
    )
    assert run.metrics()["vzgitops_drifted_containers"] == 0
    assert run.stop() == 0
    events = [e for e in run.events() if e.get("ctid") == 101]
    assert any(e["event"] == "drift.detected" and "cpus" in e["fields"] for e in events)
    assert any(e["event"] == "drift.corrected" for e in events)


def test_drift_report_only_reports(
    controllers: Controllers, remote: Remote, conf_dir: Path, node_env: dict[str, str]
) -> None:
    remote.commit({"web.yaml": container_doc("web", 101, cpus=1)})
    run = controllers.start(
        ["--repo", remote.url, "--drift", "report", "--metrics-listen", "127.0.0.1:0", *DRIFT]
    )
    run.wait(converged, "the commit applied")
    assert vz("vzctl", ["set", "101", "--cpus", "3", "--save"], node_env).returncode == 0
    hand_made = len(mutating_calls(conf_dir.parent))
    status = run.wait(lambda s: container(s, 101)["state"] == "drifted" and s, "drift reported", 10)
    assert "cpus" in container(status, 101)["detail"]
    cycles = status["cycles"]
    run.wait(lambda s: s["cycles"] >= cycles + 2, "two more drift checks")
    assert conf_value(conf_dir, 101, "CPUS") == "3"
    assert len(mutating_calls(conf_dir.parent)) == hand_made
    assert run.metrics()["vzgitops_drifted_containers"] == 1
    latest = json.loads((run.state / "drift" / "latest.json").read_text())
    assert latest["drift"]["containers"][0]["ctid"] == 101
    assert run.stop() == 0


def test_a_correction_that_fails_is_a_failure_not_a_correction(
    controllers: Controllers, remote: Remote, conf_dir: Path, sim_node: Any
) -> None:
    remote.commit({"web.yaml": container_doc("web", 101, cpus=1)})
    run = controllers.start(["--repo", remote.url, "--metrics-listen", "127.0.0.1:0", *DRIFT])
    run.wait(converged, "the commit applied")
    # the rule is in place before the hand change, so the first correction fails (exit 2:
    # permanent, tried once); the hand change itself edits CTID.conf and calls no vzctl
    fault(sim_node, "--verb", "set", "--ctid", "101", "--fail", "1", "--exit", "2")
    edit_conf(conf_dir, 101, "CPUS", "3")

    def correction_failed() -> dict[str, Any]:
        return next((e for e in run.events() if e["event"] == "drift.correction_failed"), {})

    failed = wait_for(correction_failed, 15, "the failed correction logged", run.tail)
    assert failed["ctid"] == 101 and failed["level"] == "error"
    assert "vzctl set failed (exit 2" in failed["error"]
    status = run.wait(lambda s: (s.get("last_error") or {}).get("message") and s, "the error shown")
    assert "vzctl set failed (exit 2" in status["last_error"]["message"]
    assert status["last_error"]["kind"] == "permanent"
    assert run.metrics()['vzgitops_reconciles_total{result="failure"}'] >= 1
    cycles = status["cycles"]
    run.wait(lambda s: s.get("cycles", 0) >= cycles + 2, "two more drift checks")
    assert conf_value(conf_dir, 101, "CPUS") == "3", "a permanent failure is not retried by itself"
    run.signal(signal.SIGHUP)  # something changed: a person asks for a full reconcile
    run.wait(lambda s: s.get("converged") and conf_value(conf_dir, 101, "CPUS") == "1",
             "the SIGHUP that puts the hand change back", 30)  # fmt: skip
    assert run.stop() == 0
    sets = [e for e in run.events() if e["event"] == "drift.correction_failed"]
    assert len(sets) == 1, "tried once before the SIGHUP"
    assert not [e for e in run.events() if e["event"] == "drift.corrected"]


def test_sighup_corrects_a_hand_change_at_once(
    controllers: Controllers, remote: Remote, conf_dir: Path, node_env: dict[str, str]
) -> None:
    """No drift check is due for an hour: the reconcile SIGHUP starts includes one."""
    remote.commit({"web.yaml": container_doc("web", 101, cpus=1)})
    args = ["--repo", remote.url, "--interval", "1h", "--drift-interval", "1h"]
    run = controllers.start([*args, "--log-format", "json"])
    run.wait(converged, "the commit applied")
    assert vz("vzctl", ["set", "101", "--cpus", "3", "--save"], node_env).returncode == 0
    cycles = run.status()["cycles"]
    run.signal(signal.SIGHUP)
    wait_for(lambda: logged(run, "drift.corrected", 101), 15, "the correction logged", run.tail)
    assert conf_value(conf_dir, 101, "CPUS") == "1"
    status = run.wait(lambda s: s.get("cycles", 0) > cycles and s, "the SIGHUP cycle recorded")
    assert container(status, 101)["state"] == "in-sync"
    assert run.stop() == 0
    detected = [e for e in run.events() if e["event"] == "drift.detected"]
    assert [(e["ctid"], e["fields"]) for e in detected] == [(101, "cpus")]
