"""The simulated node's hardware: `sim init --arch/--cpus/--ram/--swap/--disk/--ploop`, stored in
hardware.json and answered by its bin/uname, nproc, free and df processes in the real tools'
formats."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from vzsim.cli import main


def tool(node: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(node / "bin" / argv[0]), *argv[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def small(tmp_path: Path) -> Path:
    node = tmp_path / "node"
    argv = ["--arch", "i686", "--cpus", "2", "--ram", "4G", "--swap", "1G", "--disk", "20G"]
    assert main(["init", str(node), *argv]) == 0
    return node


def test_uname_and_nproc_answer_what_init_was_told(small: Path) -> None:
    assert tool(small, "uname", "-m").stdout == "i686\n"
    assert tool(small, "uname").stdout == "Linux\n"
    assert tool(small, "uname", "-a").stdout.split()[-4:] == ["i686", "i686", "i686", "GNU/Linux"]
    assert tool(small, "nproc").stdout == "2\n"


def test_free_prints_procps_columns(small: Path) -> None:
    lines = tool(small, "free", "-b").stdout.splitlines()
    assert lines[0].split() == ["total", "used", "free", "shared", "buff/cache", "available"]
    assert lines[1].split()[:2] == ["Mem:", str(4 << 30)]
    assert lines[2].split() == ["Swap:", str(1 << 30), "0", str(1 << 30)]
    assert tool(small, "free").stdout.splitlines()[1].split()[1] == str(4 << 20)  # KiB


def test_df_prints_posix_format_for_an_existing_path(small: Path) -> None:
    done = tool(small, "df", "-P", "-k", str(small / "private"))
    head, row = done.stdout.splitlines()
    columns = "Filesystem 1024-blocks Used Available Capacity Mounted on"
    assert head.split() == columns.split()
    assert row.split()[1] == str(20 << 20)
    missing = tool(small, "df", "-P", "-k", str(small / "nope"))
    assert missing.returncode == 1
    assert missing.stderr == f"df: '{small / 'nope'}': No such file or directory\n"


@pytest.mark.parametrize(
    ("argv", "stderr"),
    [
        (["uname", "-x"], "uname: invalid option -- 'x'\n"),
        (["nproc", "--bogus"], "nproc: unrecognized option '--bogus'\n"),
        (["free", "-h"], "free: invalid option -- 'h'\n"),
    ],
)
def test_unknown_options_are_refused_as_the_real_tools_do(
    small: Path, argv: list[str], stderr: str
) -> None:
    done = tool(small, *argv)
    assert done.returncode == 1
    assert done.stderr.startswith(stderr)


def test_a_node_without_hardware_json_is_the_default_machine(small: Path) -> None:
    (small / "hardware.json").unlink()
    assert tool(small, "uname", "-m").stdout == "x86_64\n"
    assert tool(small, "nproc").stdout == "16\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ram", "lots"], "'LOTS' is not a size such as 4G, 512M or 1T"),
        (["--cpus", "0"], "--cpus must be 1..4096, --ram and --disk more than 0"),
        (["--disk", "0"], "--cpus must be 1..4096, --ram and --disk more than 0"),
    ],
)
def test_bad_hardware_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["init", str(tmp_path / "node"), *argv]) == 1
    assert capsys.readouterr().err == f"vzgitops sim init: {message}\n"
    assert not (tmp_path / "node").exists()


def test_an_unknown_arch_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path / "node"), "--arch", "sparc"]) == 64


def test_init_ploop_gives_the_node_ploop(tmp_path: Path) -> None:
    """Without --ploop a ploop create exits 99 (tests/sim/test_ploop.py); with it, it works."""
    for flag, code in (([], 99), (["--ploop"], 0)):
        node = tmp_path / f"node{code}"
        assert main(["init", str(node), *flag]) == 0
        create = [
            "create",
            "101",
            "--ostemplate",
            "debian-12.0-x86_64-minimal",
            "--layout",
            "ploop",
        ]
        assert tool(node, "vzctl", *create).returncode == code
