"""`make demo` runs the founding story end to end: the laptop, the server over ssh, the move."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_demo_moves_the_groupware_from_the_laptop_to_the_server(
    tmp_path: Path, ssh_keys: object
) -> None:  # ssh_keys: fails, never skips, where sshd cannot run
    env = {**os.environ, "VZGITOPS_DEMO_DIR": str(tmp_path / "demo"), "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "Plan, 2 nodes: 0 to create, 0 to change, 0 to destroy, 2 to move, 2 held." in out
    assert "Meeting with the customer on Monday." in out.split("vzmigrate on the laptop")[1]
    moved = tmp_path / "demo" / "server" / "private" / "101" / "root" / "notes.txt"
    assert moved.read_text() == "Meeting with the customer on Monday.\n"
    assert not (tmp_path / "demo" / "laptop" / "private" / "101").exists()
    assert "\x1b[" not in out  # no escape codes into a pipe
