"""The state directory's own guarantees, with real files and real processes: a failed write
leaves the old file, and a container's identity is what `ownership` says it is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from reconciler.node.identity import local_identity as identity

# RLIMIT_FSIZE makes write() fail with EFBIG once the file would grow past the limit (Python
# ignores SIGXFSZ): the same partial write a full disk gives, without filling one.
WRITE_PAST_LIMIT = """
import resource, sys
from pathlib import Path
from reconciler.errors import StateUnusable
from reconciler.state import write_json
resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))
try:
    write_json(Path(sys.argv[1]), {"containers": {str(n): {"name": "x" * 40} for n in range(50)}})
except StateUnusable as error:
    print(error)
    sys.exit(1)
"""


def test_a_write_that_fails_midway_keeps_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "inventory.json"
    path.write_text('{"containers": {}}\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", WRITE_PAST_LIMIT, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"cannot write {path}: File too large; it was left as it was" in done.stdout
    assert path.read_text(encoding="utf-8") == '{"containers": {}}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["inventory.json"]


def test_identity_survives_vzctl_set_and_differs_for_a_container_made_again(
    sim_node: Any,
) -> None:
    conf = sim_node.dir / "conf"
    create = ("create", "101", "--ostemplate", "debian-12.0-x86_64-minimal", "--name", "web")
    assert identity(conf, 101) is None
    assert sim_node.run("vzctl", *create).returncode == 0
    made = identity(conf, 101)
    assert made is not None
    changed = sim_node.run("vzctl", "set", "101", "--name", "www", "--cpus", "2", "--save")
    assert changed.returncode == 0, changed.stdout
    assert sim_node.run("vzctl", "start", "101").returncode == 0
    assert identity(conf, 101) == made
    assert sim_node.run("vzctl", "stop", "101").returncode == 0
    assert sim_node.run("vzctl", "destroy", "101").returncode == 0
    assert identity(conf, 101) is None
    assert sim_node.run("vzctl", *create).returncode == 0
    again = identity(conf, 101)
    assert again is not None and again != made
