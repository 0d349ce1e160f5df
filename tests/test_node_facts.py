"""Node facts for pre-flight: the parsers of the tools' output, and `gather` asking a real
simulated node through the Runner (uname, nproc, free, df are the node's own processes)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import pytest

from reconciler.node.facts import ProbeFailed, gather, node_path, parse_df, parse_free
from reconciler.node.process import DEFAULT_TIMEOUT, Completed, SubprocessRunner
from reconciler.node.ssh import SshAccess, SshTarget
from reconciler.plan.facts import FactsUnknown, NodeFacts
from tests.conftest import SshNode, make_sim_node
from vzsim import hardware
from vzsim.hardware import Hardware

# recorded on a CentOS 7 host (procps-ng 3.3.10, coreutils 8.22)
FREE_B = """              total        used        free      shared  buff/cache   available
Mem:    16656588800  1234567890 12345678901    12345678  2345678901 14567890123
Swap:    2147479552           0  2147479552
"""
DF_PK = """Filesystem            1024-blocks     Used Available Capacity Mounted on
/dev/mapper/centos-vz   411706176 20528452 370200764       6% /vz
"""


def test_free_gives_ram_and_swap_totals() -> None:
    assert parse_free(FREE_B) == (16656588800, 2147479552)
    assert parse_free(FREE_B.replace("Swap:", "Other:")) == (16656588800, 0)


def test_df_gives_the_available_kib() -> None:
    assert parse_df(DF_PK) == 370200764
    # a long device name wraps nowhere in POSIX format, but a second path adds a line
    assert parse_df(DF_PK + "/dev/sdb1 10 5 5 50% /vz2\n") == 5


@pytest.mark.parametrize(
    ("parse", "text"), [(parse_free, "total used\n"), (parse_df, "Filesystem\n"), (parse_df, "")]
)
def test_other_output_is_refused(parse: object, text: str) -> None:
    with pytest.raises(ProbeFailed):
        parse(text)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("/vz/private/$VEID", "/vz/private"),
        ("/srv/vz/${VEID}/private", "/srv/vz"),
        (None, "/vz/template"),
        ("/", "/"),
    ],
)
def test_vz_conf_paths(value: str | None, path: str) -> None:
    assert node_path(value, "/vz/template", "TEMPLATE") == path


@pytest.mark.parametrize("value", ["relative/dir", "-rf", "/a\nb"])
def test_a_vz_conf_path_that_is_not_absolute_never_reaches_a_command(value: str) -> None:
    with pytest.raises(ProbeFailed, match="TEMPLATE"):
        node_path(value, "/vz/template", "TEMPLATE")


class Recording:
    """The real runner, remembering each argv."""

    def __init__(self, env: dict[str, str]) -> None:
        self.inner = SubprocessRunner(env)
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        self.calls.append(tuple(argv))
        return self.inner(argv, timeout=timeout)


def test_gather_asks_the_simulated_node_what_sim_init_was_told(tmp_path: Path) -> None:
    machine = Hardware(arch="i686", cpus=2, ram=4 << 30, swap=1 << 30, disk=100 << 30)
    sim = make_sim_node(tmp_path / "node", ("mine-1-x86",), machine)
    (sim.dir / "template" / "cache" / "README").write_text("not a template\n")
    run = Recording(sim.env)
    facts = gather(run, PurePosixPath(sim.env["VZGITOPS_VZ_CONF_DIR"]))
    assert isinstance(facts, NodeFacts)
    assert (facts.arch, facts.cpus, facts.ram, facts.swap) == ("i686", 2, 4 << 30, 1 << 30)
    assert 0 < facts.disk_free <= 100 << 20
    assert facts.template_dir == str(sim.dir / "template")
    assert {"mine-1-x86", "centos-6-x86", "debian-12.0-x86_64-minimal"} <= facts.templates
    assert "README" not in facts.templates
    assert {"basic", "vswap-256m"} <= (facts.samples or frozenset())
    assert "101" not in (facts.samples or frozenset())
    assert [c[0] for c in run.calls] == ["cat", "free", "ls", "ls", "uname", "nproc", "df", "ls"]
    assert (facts.ploop, facts.ve_layout, facts.default_layout) == (False, "simfs", "simfs")


@pytest.mark.parametrize(("ploop", "ve_layout"), [(True, "ploop"), (False, None), (True, None)])
def test_gather_asks_the_node_for_ploop_and_its_default_layout(
    tmp_path: Path, ploop: bool, ve_layout: str | None
) -> None:
    """`ls -1 /proc/vz` (the simulated kernel has ploop_minor there with `sim init --ploop`)
    and VE_LAYOUT from the vz.conf already read; without one, vzctl's default is ploop."""
    sim = make_sim_node(tmp_path / "node", machine=Hardware(ploop=ploop))
    conf = sim.dir / "vz.conf"
    line = "" if ve_layout is None else f"VE_LAYOUT={ve_layout}"
    conf.write_text(conf.read_text().replace('VE_LAYOUT="simfs"', line))
    facts = gather(SubprocessRunner(sim.env), PurePosixPath(sim.env["VZGITOPS_VZ_CONF_DIR"]))
    assert isinstance(facts, NodeFacts)
    assert (facts.ploop, facts.ve_layout, facts.default_layout) == (ploop, ve_layout, "ploop")
    created = sim.run("vzctl", "create", "101", "--ostemplate", "centos-6-x86")
    assert created.returncode == (0 if ploop else 99), created.stdout + created.stderr
    if not ploop:  # the message of vzctl's is_ploop_supported() and create.c
        assert "No ploop support in the kernel" in created.stderr
        assert "add --layout simfs option, or set VE_LAYOUT=simfs" in created.stderr
    else:
        assert 'VE_LAYOUT="ploop"' in (sim.dir / "conf" / "101.conf").read_text()


def test_the_ploop_probe_answers_over_ssh(ssh_node: SshNode) -> None:
    """The same argv through the node's sshd (its sessions have the node's `bin/` first)."""
    sshd = ssh_node.sshd
    target = SshTarget("n1", sshd.host, sshd.port, sshd.user, sshd.host_key, None, 10)
    access = SshAccess(target, ssh_config=ssh_node.keys.config)
    try:
        answers = []
        for ploop in (False, True):
            hardware.save(str(ssh_node.node.dir), Hardware(ploop=ploop))
            facts = gather(access.run, access.conf_dir)
            assert isinstance(facts, NodeFacts), facts
            answers.append(facts.ploop)
    finally:
        access.close()
    assert answers == [False, True]


def test_a_ploop_probe_that_does_not_answer_leaves_the_facts_unknown(tmp_path: Path) -> None:
    """ls exits 0, or 1 or 2 without /proc/vz; anything else (ssh's 255) is no answer, not a
    node without ploop."""
    sim = make_sim_node(tmp_path / "node")
    inner = SubprocessRunner(sim.env)

    def run(argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        if tuple(argv) == ("ls", "-1", "/proc/vz"):
            return Completed(tuple(argv), 255, "", "ssh: connect to host n1: refused\n", 0.0)
        return inner(argv, timeout=timeout)

    facts = gather(run, PurePosixPath(sim.env["VZGITOPS_VZ_CONF_DIR"]))
    assert facts == FactsUnknown(
        "pre-flight could not ask the node: ls -1 /proc/vz failed: ssh: connect to host n1: refused"
    )


def test_the_simulated_disk_fills_as_containers_are_created(tmp_path: Path) -> None:
    sim = make_sim_node(tmp_path / "node")
    conf = PurePosixPath(sim.env["VZGITOPS_VZ_CONF_DIR"])
    before = gather(SubprocessRunner(sim.env), conf)
    done = sim.run("vzctl", "create", "101", "--ostemplate", "centos-6-x86")
    assert done.returncode == 0, done.stdout + done.stderr
    after = gather(SubprocessRunner(sim.env), conf)
    assert isinstance(before, NodeFacts) and isinstance(after, NodeFacts)
    assert after.disk_free < before.disk_free


def test_a_node_that_cannot_be_asked_gives_the_reason(tmp_path: Path) -> None:
    sim = make_sim_node(tmp_path / "node")
    facts = gather(SubprocessRunner(sim.env), PurePosixPath(tmp_path / "nowhere" / "conf"))
    assert isinstance(facts, FactsUnknown)
    assert facts.reason.startswith("pre-flight could not ask the node: cat ")
    assert "vz.conf failed" in facts.reason


def test_a_missing_template_cache_directory_holds_no_templates(tmp_path: Path) -> None:
    sim = make_sim_node(tmp_path / "node")
    shutil.rmtree(sim.dir / "template" / "cache")
    facts = gather(SubprocessRunner(sim.env), PurePosixPath(sim.env["VZGITOPS_VZ_CONF_DIR"]))
    assert isinstance(facts, NodeFacts)
    assert facts.templates == frozenset()
