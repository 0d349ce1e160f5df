"""Helpers for the simulator tests: containers on a `SimNode`, waiting for a held lock."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import SimNode

TEMPLATE = "debian-12.0-x86_64-minimal"
REC = Path(__file__).resolve().parents[1] / "data" / "openvz-recorded"


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, f"rc={done.returncode}\n{done.stdout}{done.stderr}"
    return done


def create(node: SimNode, ctid: int = 101, *args: str, start: bool = False) -> None:
    ok(node.run("vzctl", "create", str(ctid), "--ostemplate", TEMPLATE, *args))
    if start:
        ok(node.run("vzctl", "start", str(ctid)))


def conf(node: SimNode, ctid: int = 101) -> str:
    return (node.dir / "conf" / f"{ctid}.conf").read_text(encoding="utf-8")


def conf_lines(node: SimNode, ctid: int = 101) -> list[str]:
    return [ln for ln in conf(node, ctid).splitlines() if ln and not ln.startswith("#")]


def popen(node: SimNode, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(node.bin / argv[0]), *argv[1:]],
        env=node.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_lock(node: SimNode, ctid: int, pid: int, timeout: float = 10.0) -> None:
    """Wait until process `pid` holds the vzctl lock of `ctid`."""
    lock = node.dir / "lock" / f"{ctid}.lck"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lock.exists() and lock.read_text(encoding="ascii") == f"{pid}\n\n":
            return
        time.sleep(0.02)
    raise AssertionError(f"pid {pid} never took {lock}")


def real_cmdline(text: str, node: SimNode) -> str:
    """A `Locked by:` line as on a real node: the interpreter prefix and node paths removed."""
    # `-I` alone while coverage measures the node's processes (tests/conftest.py)
    text = text.replace(f"{sys.executable} -IS ", "").replace(f"{sys.executable} -I ", "")
    return text.replace(str(node.bin / "vzctl"), "/usr/sbin/vzctl")


def fault(node: SimNode, *args: str) -> None:
    from vzsim.cli import main

    assert main(["fault", str(node.dir), *args]) == 0
