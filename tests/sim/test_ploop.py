"""ploop on the simulated node, as vzctl 4.x (src/lib/create.c, image.c, vzctl-actions.c set())
and libploop's size limit have it: a node with ploop, and one without (exit 99)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SimNode, make_sim_node
from tests.sim.support import TEMPLATE, conf_lines, ok
from vzsim.hardware import Hardware

PLOOP = ("--layout", "ploop", "--config", "vswap-256m")


@pytest.fixture
def ploop_node(tmp_path: Path) -> SimNode:
    return make_sim_node(tmp_path / "node", machine=Hardware(ploop=True))


def _create(node: SimNode, ctid: int, *args: str) -> tuple[int, str]:
    done = node.run("vzctl", "create", str(ctid), "--ostemplate", TEMPLATE, *args)
    return done.returncode, done.stdout + done.stderr


def test_a_node_without_ploop_refuses_a_ploop_create_with_99(sim_node: SimNode) -> None:
    code, said = _create(sim_node, 101, *PLOOP)
    assert code == 99
    assert said.splitlines() == [
        "No ploop support in the kernel, or kernel is way too old.",
        "Make sure you have OpenVZ kernel 042stab058.7 or later running,",
        "and kernel ploop modules loaded.",
        "Alternatively, if you can't or don't want to use ploop, please",
        "add --layout simfs option, or set VE_LAYOUT=simfs in /etc/vz/vz.conf",
        "Creation of container private area failed",
    ]
    assert not (sim_node.dir / "conf" / "101.conf").exists()


def test_a_ploop_create_makes_the_image_of_the_hard_limit(ploop_node: SimNode) -> None:
    code, said = _create(ploop_node, 101, *PLOOP, "--diskspace", "5G:6G")
    assert code == 0, said
    private = ploop_node.dir / "private" / "101"
    assert f"Creating image: {private}/root.hdd/root.hdd size=6291456K" in said
    descriptor = (private / "root.hdd" / "DiskDescriptor.xml").read_text(encoding="utf-8")
    assert "<Disk_size>12582912</Disk_size>" in descriptor
    lines = conf_lines(ploop_node)
    assert 'VE_LAYOUT="ploop"' in lines
    assert 'DISKSPACE="5242880:6291456"' in lines


def test_a_ploop_image_is_at_most_16t_and_16k_per_inode(ploop_node: SimNode) -> None:
    code, said = _create(ploop_node, 101, *PLOOP, "--diskspace", "17T")
    assert code == 151, said
    assert "The maximum allowed size is 34359738368 sectors" in said
    code, said = _create(ploop_node, 102, *PLOOP, "--diskinodes", "1073741825")
    assert (code, said.splitlines()[-3:]) == (21, [
        "Error: diskinodes value specified (1073741825) is too high.",
        "Maximum allowed diskinodes value is 1073741824.",
        "Creation of container private area failed",
    ])  # fmt: skip
    assert not (ploop_node.dir / "private" / "102").exists()
    code, said = _create(ploop_node, 103, *PLOOP, "--diskspace", "16T")
    assert code == 0, said


def test_a_ploop_create_without_a_disk_space_exits_63(ploop_node: SimNode) -> None:
    sample = ploop_node.dir / "conf" / "ve-nodisk.conf-sample"
    sample.write_text('PHYSPAGES="0:256M"\nSWAPPAGES="0:512M"\n', encoding="utf-8")
    code, said = _create(ploop_node, 101, "--layout", "ploop", "--config", "nodisk")
    assert code == 63
    assert "Error: diskspace not set (required for ploop)" in said


def test_set_resizes_a_ploop_image_only_with_save(ploop_node: SimNode) -> None:
    assert _create(ploop_node, 101, *PLOOP)[0] == 0
    ok(ploop_node.run("vzctl", "start", "101"))
    unsaved = ploop_node.run("vzctl", "set", "101", "--diskspace", "3G")
    assert unsaved.returncode == 20
    assert unsaved.stderr == (
        "Error: can't use --diskspace without --save for a ploop-based container\n"
    )
    too_big = ploop_node.run("vzctl", "set", "101", "--diskspace", "17T", "--save")
    assert too_big.returncode == 154
    assert 'DISKSPACE="2G:2.2G"' in conf_lines(ploop_node)  # the sample's, not saved
    ok(ploop_node.run("vzctl", "set", "101", "--diskspace", "3G", "--save"))
    assert 'DISKSPACE="3145728:3145728"' in conf_lines(ploop_node)
    descriptor = ploop_node.dir / "private" / "101" / "root.hdd" / "DiskDescriptor.xml"
    assert "<Disk_size>6291456</Disk_size>" in descriptor.read_text(encoding="utf-8")


def test_disk_inodes_of_a_ploop_container_are_saved_with_a_warning(ploop_node: SimNode) -> None:
    assert _create(ploop_node, 101, *PLOOP)[0] == 0
    done = ok(ploop_node.run("vzctl", "set", "101", "--diskinodes", "5:6", "--save"))
    assert done.stdout.splitlines()[0] == (
        "Warning: --diskinodes is ignored for ploop-based container"
    )
    assert 'DISKINODES="5:6"' in conf_lines(ploop_node)


@pytest.mark.parametrize(
    ("ve_layout", "args", "stored"),
    [
        (None, (), "ploop"),  # create.c: no --layout, no VE_LAYOUT: ploop (built with ploop)
        ("ploop:expanded", (), "ploop"),  # store_ve_layout saves simfs or ploop only
        ("simfs", (), "simfs"),
        ("ploop", ("--layout", "simfs"), "simfs"),
        ("Ploop", (), "ploop"),  # parse_ve_layout is case-sensitive: invalid, the default
    ],
)
def test_create_without_layout_takes_vz_conf_then_vzctl_default(
    ploop_node: SimNode, ve_layout: str | None, args: tuple[str, ...], stored: str
) -> None:
    conf = ploop_node.dir / "vz.conf"
    line = "" if ve_layout is None else f"VE_LAYOUT={ve_layout}"
    conf.write_text(conf.read_text().replace('VE_LAYOUT="simfs"', line))
    code, said = _create(ploop_node, 101, "--config", "vswap-256m", *args)
    assert code == 0, said
    assert f'VE_LAYOUT="{stored}"' in conf_lines(ploop_node, 101)


def test_a_node_without_ploop_refuses_its_default_layout_ploop_with_99(sim_node: SimNode) -> None:
    conf = sim_node.dir / "vz.conf"
    conf.write_text(conf.read_text().replace('VE_LAYOUT="simfs"', "VE_LAYOUT=ploop"))
    code, said = _create(sim_node, 101, "--config", "vswap-256m")
    assert code == 99
    assert "add --layout simfs option, or set VE_LAYOUT=simfs in /etc/vz/vz.conf" in said
    assert _create(sim_node, 101, "--config", "vswap-256m", "--layout", "simfs")[0] == 0


@pytest.mark.parametrize("ploop", [False, True])
def test_ls_lists_the_simulated_proc_vz(tmp_path: Path, ploop: bool) -> None:
    """/proc/vz has ploop_minor only with the ploop modules (what is_ploop_supported() looks
    for); every other listing is coreutils' ls."""
    node = make_sim_node(tmp_path / "node", machine=Hardware(ploop=ploop))
    listed = node.run("ls", "-1", "/proc/vz")
    assert listed.returncode == 0
    assert listed.stdout.split() == sorted(["veinfo", "veip", "vestat", *(["ploop_minor"] * ploop)])
    one = node.run("ls", "/proc/vz/ploop_minor")
    assert (one.returncode, one.stdout) == ((0, "/proc/vz/ploop_minor\n") if ploop else (2, ""))
    if not ploop:
        assert one.stderr == "ls: cannot access '/proc/vz/ploop_minor': No such file or directory\n"
    samples = node.run("ls", "-1", str(node.dir / "conf"))
    assert samples.returncode == 0 and "ve-basic.conf-sample" in samples.stdout.split()
    missing = node.run("ls", "-1", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "nowhere" in missing.stderr
