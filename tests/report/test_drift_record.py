"""Drift records in the state directory: latest.json plus a bounded history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.controller.drift_record import applied_revision, check_drift, history, record_drift
from reconciler.errors import UsageError, VzGitopsError
from reconciler.node.access import LocalAccess
from reconciler.node.process import SubprocessRunner
from reconciler.report import build_drift_report
from reconciler.spec.load import load_desired
from reconciler.state import StateDir
from tests.conftest import SimNode
from tests.report.cases import clean_drift, mixed_drift


def test_latest_and_bounded_history(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    for i in range(7):
        drift = mixed_drift() if i % 2 else clean_drift()
        latest = record_drift(state, build_drift_report(drift, f"2026-01-01T00:00:0{i}Z"), keep=5)
    names = [p.name for p in history(state)]
    assert names == [f"{n:08d}.json" for n in range(3, 8)]
    assert latest == tmp_path / "drift" / "latest.json"
    document = json.loads(latest.read_text(encoding="utf-8"))
    assert document["generated_at"] == "2026-01-01T00:00:06Z" and document["heartbeat"] is True
    assert history(state)[-1].read_bytes() == latest.read_bytes()
    assert not list((tmp_path / "drift").rglob(".*.tmp"))


def test_drift_is_measured_against_the_last_applied_revision(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    with pytest.raises(VzGitopsError, match="--ref"):
        applied_revision(state)
    state.record_applied("c" * 40, True, 0.0)
    assert applied_revision(state) == "c" * 40


def test_drift_names_the_node_the_plan_names(sim_node: SimNode, tmp_path: Path) -> None:
    """One node-selection rule: a repository declaring one node is that node's, --node or not."""
    desired = load_desired(
        {"n.yaml": b"apiVersion: vzgitops/v1\nkind: Node\nmetadata:\n  name: office\n"}
    )
    access = LocalAccess(SubprocessRunner(env=sim_node.env), sim_node.dir / "conf")
    assert check_drift(desired, None, access, StateDir(tmp_path / "state")).node == "office"
    several = load_desired(
        {
            "a.yaml": b"apiVersion: vzgitops/v1\nkind: Node\nmetadata:\n  name: a\n",
            "b.yaml": b"apiVersion: vzgitops/v1\nkind: Node\nmetadata:\n  name: b\n",
        }
    )
    with pytest.raises(UsageError, match="pass --node NAME"):
        check_drift(several, None, access, StateDir(tmp_path / "state"))
