"""`apply_revision` applies only the destroys and recreates a person confirmed: a plan (the first,
or one made again after a round) that holds any other is not applied, and says so. In process,
against the simulated node's real vzctl/vzlist."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from reconciler.apply import Executor
from reconciler.node.access import LocalAccess
from reconciler.node.identity import local_identity as identity
from reconciler.node.process import SubprocessRunner
from reconciler.reconcile import Options, apply_revision, make_plan
from reconciler.spec.desired import DesiredState
from reconciler.state import StateDir
from tests.support import listing
from tests.test_plan import container


def setup(sim_node: Any, tmp_path: Path) -> tuple[LocalAccess, StateDir, DesiredState]:
    made = sim_node.run("vzctl", "create", "101", "--ostemplate", "debian-12.0-x86_64-minimal",
                        "--name", "web")  # fmt: skip
    assert made.returncode == 0, made.stderr
    conf = Path(sim_node.env["VZGITOPS_VZ_CONF_DIR"])
    access = LocalAccess(run=SubprocessRunner(env=sim_node.env), conf_dir=conf)
    state = StateDir(tmp_path / "state")
    state.ensure()
    state.record_owned(101, "web", "adopt", identity=identity(conf, 101))
    return access, state, DesiredState(containers=(container(101, "web", state="absent"),))


def apply(access: LocalAccess, state: StateDir, desired: DesiredState, confirmed: Any) -> Any:
    options = Options(prune=True, allow_mass_destroy=True, confirmed=confirmed)
    executor = Executor(run=access.run, state=state, sleep=time.sleep, identify=access.identity)
    planned, _ = make_plan(desired, None, access, state, options)
    return apply_revision(desired, None, access, state, executor, options, planned=planned)


def test_an_unconfirmed_destroy_is_not_applied(sim_node: Any, tmp_path: Path) -> None:
    access, state, desired = setup(sim_node, tmp_path)
    result, after = apply(access, state, desired, frozenset())
    assert not result.converged and result.results == ()
    assert "destroy or recreate that was not confirmed (container 101)" in str(
        result.not_converged_reason
    )
    assert [c.action for c in after.changes] == ["destroy"]
    assert 101 in listing(sim_node.env)


def test_a_confirmed_destroy_is_applied(sim_node: Any, tmp_path: Path) -> None:
    access, state, desired = setup(sim_node, tmp_path)
    result, _ = apply(access, state, desired, frozenset({(101, "destroy")}))
    assert result.converged, result.not_converged_reason
    assert 101 not in listing(sim_node.env)
