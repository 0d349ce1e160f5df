"""The CLI's answers to faults: where a crash report goes, and `import` of containers whose
names vzgitops would not accept."""

from __future__ import annotations

import argparse
import json
import os
import re
import stat
import tempfile
from pathlib import Path

import pytest

from reconciler import cli
from reconciler.cli import main
from tests.conftest import SimNode
from tests.sim.support import create, ok
from tests.support import vzgitops


def _boom(args: argparse.Namespace) -> int:
    raise RuntimeError("a planted bug")


def _crash(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    monkeypatch.setitem(cli.COMMANDS, "validate", _boom)
    assert main(["validate"]) == 3
    message = capsys.readouterr().err
    found = re.search(r"traceback written to (\S+)", message)
    assert found, message
    return Path(found.group(1))


def test_a_crash_report_goes_to_a_new_private_file_under_xdg_state_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    first = _crash(monkeypatch, capsys)
    second = _crash(monkeypatch, capsys)
    assert first.parent == tmp_path / "xdg" / "vzgitops"
    assert first != second  # a new name each time, not one per pid
    assert stat.S_IMODE(first.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert "RuntimeError: a planted bug" in first.read_text(encoding="utf-8")


def test_a_crash_report_never_follows_a_link_planted_in_the_temp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")  # XDG_STATE_HOME unusable: the fallback is mkstemp in the temp dir
    monkeypatch.setenv("XDG_STATE_HOME", str(blocked))
    shared = tmp_path / "tmp"
    shared.mkdir()
    monkeypatch.setenv("TMPDIR", str(shared))
    monkeypatch.setattr(tempfile, "tempdir", None)
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    (shared / f"vzgitops-crash-{os.getpid()}.txt").symlink_to(victim)  # the old, guessable name
    path = _crash(monkeypatch, capsys)
    assert path.parent == shared
    assert not path.is_symlink()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "RuntimeError: a planted bug" in path.read_text(encoding="utf-8")
    assert victim.read_text() == "keep me\n"


def test_import_skips_a_container_whose_name_vzgitops_refuses_and_imports_the_rest(
    sim_node: SimNode, tmp_path: Path
) -> None:
    names = {101: "my web", 102: "good", 103: "12345"}  # vzctl accepts all three
    for ctid, name in names.items():
        create(sim_node, ctid)
        ok(sim_node.run("vzctl", "set", str(ctid), "--name", name, "--save"))
    create(sim_node, 104)  # no name: imported as ct104
    state, out = tmp_path / "state", tmp_path / "out"
    done = vzgitops(["import", "--state-dir", str(state), "--out", str(out)], sim_node.env)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["ct104.yaml", "good.yaml"]
    assert "container 101 skipped: its name is not one vzgitops accepts: 'my web'" in done.stderr
    assert "container 103 skipped" in done.stderr and "all digits" in done.stderr
    assert "internal error" not in done.stderr
    owned = json.loads((state / "inventory.json").read_text(encoding="utf-8"))["containers"]
    assert sorted(owned) == ["102", "104"]
