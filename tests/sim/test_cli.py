"""`vzgitops sim init`: the node layout, entry points, templates, env file, refusals."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.sim.support import REC
from vzsim.cli import main


def test_init_creates_a_4x_node_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node = tmp_path / "node"
    assert main(["init", str(node), "--template", "debian-7.0-x86_64-minimal"]) == 0
    assert f". {node}/env" in capsys.readouterr().out
    for sub in ("bin", "conf", "names", "private", "root", "lock", "run", "template/cache"):
        assert (node / sub).is_dir(), sub
    vz_conf = (node / "vz.conf").read_text()
    for line in (f'VE_ROOT="{node}/root/$VEID"', f'VE_PRIVATE="{node}/private/$VEID"',
                 f'TEMPLATE="{node}/template"', f'LOCKDIR="{node}/lock"',
                 'CONFIGFILE="vswap-256m"', 'DEF_OSTEMPLATE="centos-6-x86"',
                 'VE_LAYOUT="simfs"'):  # fmt: skip
        assert line + "\n" in vz_conf
    sample = (node / "conf" / "ve-vswap-256m.conf-sample").read_text()
    assert (REC / "conf_101_after_create.conf").read_text().startswith(sample)
    caches = sorted(p.name for p in (node / "template" / "cache").iterdir())
    assert "debian-7.0-x86_64-minimal.tar.gz" in caches
    assert "centos-6-x86.tar.gz" in caches
    assert (node / "env").read_text() == (
        f'export PATH="{node}/bin:$PATH"\nexport VZGITOPS_VZ_CONF_DIR="{node}/conf"\n'
    )


def test_entry_points_run_with_this_interpreter_and_any_cwd(tmp_path: Path) -> None:
    node = tmp_path / "node"
    assert main(["init", str(node)]) == 0
    script = (node / "bin" / "vzctl").read_text()
    assert script.startswith(f"#!{sys.executable} -IS\n")
    assert os.access(node / "bin" / "vzlist", os.X_OK)
    done = subprocess.run(
        [str(node / "bin" / "vzctl"), "--version"],
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "vzctl version 4.11.1\n")


def test_templates_are_small_reproducible_tarballs(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path / "a")]) == 0
    assert main(["init", str(tmp_path / "b")]) == 0
    a = tmp_path / "a" / "template" / "cache" / "ubuntu-22.04-x86_64.tar.gz"
    b = tmp_path / "b" / "template" / "cache" / "ubuntu-22.04-x86_64.tar.gz"
    assert a.read_bytes() == b.read_bytes()
    with tarfile.open(a) as tar:
        assert "etc/network/interfaces" in tar.getnames()


def test_init_refuses_a_non_empty_dir_unless_forced(tmp_path: Path) -> None:
    node = tmp_path / "node"
    node.mkdir()
    (node / "keep.txt").write_text("x")
    assert main(["init", str(node)]) == 1
    assert main(["init", str(node), "--force"]) == 0
    assert (node / "keep.txt").exists()
    (node / "conf" / "101.conf").write_text('HOSTNAME="old"\n')
    assert main(["init", str(node), "--force"]) == 0
    assert not (node / "conf" / "101.conf").exists()


@pytest.mark.parametrize("name", ["../evil", "a/b", "", "-x", "x..y"])
def test_init_rejects_bad_template_names(tmp_path: Path, name: str) -> None:
    assert main(["init", str(tmp_path / "node"), f"--template={name}"]) == 1
    assert not (tmp_path / "node").exists()


def test_bad_usage_exits_64(tmp_path: Path) -> None:
    assert main([]) == 64
    assert main(["frobnicate"]) == 64
    assert main(["init"]) == 64
