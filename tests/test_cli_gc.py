"""One-shot commands collect cycles rarely while they run; `run` and the caller keep the default."""

from __future__ import annotations

import argparse
import gc
from collections.abc import Callable

import pytest

from reconciler import cli


def test_a_command_runs_with_the_batch_threshold_and_restores_the_callers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, tuple[int, int, int]] = {}

    def record(name: str) -> Callable[[argparse.Namespace], int]:
        def command(args: argparse.Namespace) -> int:
            seen[name] = gc.get_threshold()
            return 0

        return command

    monkeypatch.setitem(cli.COMMANDS, "status", record("status"))
    monkeypatch.setattr(cli, "cmd_run", record("run"))
    before = gc.get_threshold()
    assert cli.run(["status"]) == 0
    assert cli.run(["run", "--repo", "."]) == 0
    assert seen["status"] == (cli.BATCH_GC_THRESHOLD, *before[1:])
    assert seen["run"] == before
    assert gc.get_threshold() == before
