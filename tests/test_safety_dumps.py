"""The dump before a destroy, in the executor: recorded with its archive, kept for `dump_keep`
by an injected clock, then deleted (archive and log) through the Runner; real simulated vzdump,
vzctl and rm processes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reconciler.apply import Executor, RetryPolicy
from reconciler.node.process import Completed, SubprocessRunner
from reconciler.plan import Change, Command, Plan, dump_command
from reconciler.state import StateDir
from tests.sim.support import create

KEEP = 3600.0


def _executor(sim_node: Any, tmp_path: Path, now: list[float]) -> Executor:
    state = StateDir(tmp_path / "state")
    state.ensure()
    return Executor(
        run=SubprocessRunner(env=sim_node.env),
        state=state,
        sleep=lambda _: None,
        retry=RetryPolicy(attempts=1),
        clock=lambda: now[0],
        dump_keep=KEEP,
    )


def _destroy(ctid: int) -> Plan:
    commands = (dump_command(ctid, None), Command(argv=("destroy", str(ctid))))
    change = Change(ctid=ctid, name="web", action="destroy", commands=commands, reason="test")
    return Plan(changes=(change,))


def test_a_dump_is_recorded_kept_for_its_time_then_deleted(sim_node: Any, tmp_path: Path) -> None:
    create(sim_node, 101)
    now = [1000.0]
    ex = _executor(sim_node, tmp_path, now)
    (result,) = ex.apply(_destroy(101))
    assert result.status == "applied", result.error
    archive = result.commands[0].archive
    assert archive is not None and Path(archive).is_file()
    log = Path(archive.removesuffix(".tar.gz") + ".log")
    assert log.is_file()
    assert ex.state.safety_dumps() == [{"ctid": 101, "path": archive, "at": 1000.0}]
    now[0] = 1000.0 + KEEP - 1
    assert ex.prune_safety_dumps() == [] and Path(archive).exists()
    now[0] = 1000.0 + KEEP
    assert ex.prune_safety_dumps() == [archive]
    assert not Path(archive).exists() and not log.exists()
    assert ex.state.safety_dumps() == []


def test_other_archives_are_never_deleted(sim_node: Any, tmp_path: Path) -> None:
    create(sim_node, 101)
    other = sim_node.dir / "dump" / "vzdump-openvz-101-2020_01_01-00_00_00.tar"
    other.write_bytes(b"a scheduled or hand-made dump")
    now = [1000.0]
    ex = _executor(sim_node, tmp_path, now)
    ex.apply(_destroy(101))
    now[0] = 1e9
    ex.apply(Plan())
    assert other.exists() and ex.state.safety_dumps() == []


class _SilentDump:
    """A vzdump that exits 0 without saying it created an archive."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str], *, timeout: float = 0) -> Completed:
        self.calls.append(tuple(argv))
        return Completed(tuple(argv), 0, "", "", 0.0)


def test_exit_0_without_an_archive_does_not_let_the_destroy_run(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    state.ensure()
    run = _SilentDump()
    ex = Executor(run=run, state=state, sleep=lambda _: None)
    (result,) = ex.apply(_destroy(101))
    assert result.status == "failed"
    assert "the dump before the destroy failed" in (result.error or "")
    assert [c[0] for c in run.calls] == ["vzdump"]
