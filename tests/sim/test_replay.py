"""Replay of the recorded vzctl/vzlist 4.11.1 scenarios against one simulated node.

Every scenario of tests/data/openvz-recorded runs on a node created with the recorded
template and brought to the state the scenarios before it in ORDER.txt left (each test
restores a saved state and replays, unchecked, what lies between, so the tests pass in any
order: `make test` also runs them reversed and shuffled); its exit status, stdout, stderr
and (where recorded) config file are compared after the normalisation in `normalise_*`. The recordings come from an
upstream-kernel host; `PLAN` lists, with a reason, each scenario whose outcome depends on
that kernel: it is compared against the OpenVZ-kernel behaviour instead ("kernel"), tested by
a dedicated test with real concurrent processes ("separate"), or left out ("excluded").
The last test writes the tally to docs/SIMULATOR.md (refresh with `pytest --update-golden`).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import SimNode, make_sim_node

REC = Path(__file__).resolve().parents[1] / "data" / "openvz-recorded"
DOC = Path(__file__).resolve().parents[2] / "docs" / "SIMULATOR.md"
TEMPLATE = "debian-7.0-x86_64-minimal"
BANNER = "Directory /proc/vz not found, assuming non-OpenVZ kernel"
# Lines the upstream-kernel recording host printed that an OpenVZ node does not.
HOST_ONLY_ERR = re.compile(
    r"^(Unable to open /proc/.*|File /usr/sbin/vzquota not found|vps-net_(add|del) WARNING: .*"
    r"|WARNING: Running container unprivileged\..*|Cannot find device \"venet0\")$"
)
# fairsched messages vzctl prints on an OpenVZ kernel only (the recordings lack them).
VZ_KERNEL_ONLY_OUT = re.compile(r"^Setting (CPU units|CPU limit|CPUs): -?\d+$")
RUNNING_AT_NATIVE_3CT = (101, 103)


@dataclass(frozen=True)
class Plan:
    """How a scenario that depends on the recording host is handled."""

    kind: str  # "kernel" | "separate" | "excluded"
    reason: str
    same_as: str | None = None
    out: str | None = None
    err: str | None = None
    rc: int | None = None
    drop_running: tuple[int, ...] = ()
    conf_changes: tuple[tuple[str, str], ...] = ()
    mask_columns: tuple[int, int] | None = None
    collapse_spaces: bool = False
    rollback: bool = False


def _saved(ctid: int) -> str:
    return f"UB limits were set successfully\nCT configuration saved to /etc/vz/conf/{ctid}.conf\n"


RAM_SWAP = (
    ('PHYSPAGES="0:256M"', 'PHYSPAGES="0:131072"'),
    ('SWAPPAGES="0:512M"', 'SWAPPAGES="0:65536"'),
)
NO_VSWAP = "upstream kernel refuses --ram/--swap (exit 3); an OpenVZ kernel saves them as pages"
NATIVE_RUNNING = "upstream vzlist saw running CTs as mounted; on a node -S hides running CTs"
NATIVE_EMPTY = "upstream vzlist could not open /proc/vz/veinfo and printed nothing"
PLAN: dict[str, Plan] = {
    "vzlist_a_0ct": Plan("kernel", NATIVE_EMPTY, same_as="fake_0ct_vzlist_a"),
    "vzlist_0ct": Plan("kernel", NATIVE_EMPTY, same_as="fake_0ct_vzlist"),
    "vzlist_a_j_0ct": Plan("kernel", NATIVE_EMPTY, same_as="fake_0ct_vzlist_a_j"),
    "vzlist_a_H_0ct": Plan("kernel", NATIVE_EMPTY, same_as="fake_0ct_clean_vzlist_a_H_o"),
    "native_vzlist_a_1ct_stopped": Plan("kernel", NATIVE_EMPTY,
                                        same_as="native_vzlist_S_1ct_stopped"),
    "native_vzlist_101_1ct_stopped": Plan("kernel", NATIVE_EMPTY + " (exit 1)",
                                          same_as="native_vzlist_S_1ct_stopped"),
    "native_vzlist_a_101": Plan("kernel", NATIVE_EMPTY + " (exit 1)",
                                same_as="native_vzlist_S_1ct_stopped"),
    "exec_101_ip_addr": Plan("excluded", "shows the recording host's network namespace and a "
                             "random MAC; venet in a real guest has neither"),
    "exec_101_ps": Plan("excluded", "process list of the recording guest (busybox init); the "
                        "simulated guest runs no processes"),
    "native_vzlist_a_1ct_running": Plan("excluded", NATIVE_EMPTY + "; the kernel view of a "
                                        "running CT is checked by fake_1ct_running_*"),
    "native_vzlist_S_1ct_running": Plan("kernel", NATIVE_RUNNING, drop_running=(101,)),
    "set_101_ram_swap": Plan("kernel", NO_VSWAP, same_as="set_101_ram_swap_force_first",
                             conf_changes=RAM_SWAP, rollback=True),
    "set_101_diskspace": Plan("kernel", "upstream has no vzquota (exit 62); a node applies "
                              "--diskspace live", out=_saved(101), err="", rc=0,
                              conf_changes=(('DISKSPACE="2G:2.2G"', 'DISKSPACE="2097152:2097152"'),),
                              rollback=True),
    "set_101_all_at_once": Plan("kernel", NO_VSWAP, out="Name web2 assigned\n" + _saved(101),
                                err="", rc=0, rollback=True, conf_changes=(
        ('PHYSPAGES="0:256M"', 'PHYSPAGES="0:262144"'), ('SWAPPAGES="0:512M"', 'SWAPPAGES="0:131072"'),
        ('DISKSPACE="2G:2.2G"', 'DISKSPACE="3145728:3145728"'), ('CPUS="2"', 'CPUS="1"'),
        ('CPUUNITS="1000"', 'CPUUNITS="500"'), ('CPULIMIT="50"', 'CPULIMIT="25"'),
        ('ONBOOT="yes"', 'ONBOOT="no"'), ('NAMESERVER="8.8.8.8"', 'NAMESERVER="1.1.1.1"'),
        ('SEARCHDOMAIN="example.com"', 'SEARCHDOMAIN="example.org"'),
        ('HOSTNAME="x"', 'HOSTNAME="ct101.example.com"'),
        ('DESCRIPTION="web server, 2nd "quoted""', 'DESCRIPTION="d2"'),
        ('NAME="web"', 'NAME="web2"'))),
    "set_101_ram_swap_force_after": Plan("kernel", NO_VSWAP, out=_saved(101), err="", rc=0,
                                         conf_changes=RAM_SWAP, rollback=True),
    "inv_cpus_0": Plan("kernel", "exit 96 is a cgroup artefact; an OpenVZ node refuses "
                       "--cpus 0 as a bad value", out="", err="Bad parameter for --cpus: 0\n",
                       rc=21),
    "inv_cpulimit_neg": Plan("kernel", "exit 96 is a cgroup artefact; on a node fairsched_rate "
                             "rejects the negative rate (exit 2), nothing is saved",
                             out="UB limits were set successfully\n",
                             err="fairsched_rate: Invalid argument\nError: failed to apply some "
                             "parameters, not saving configuration file!\n", rc=2),
    "conc_B_set_101_during_restart": Plan("separate", "needs a second vzctl holding the lock: "
                                          "tests/sim/test_locking.py"),
    "conc_F_stop_101_second": Plan("separate", "needs a second vzctl holding the lock: "
                                   "tests/sim/test_locking.py"),
    "native_3ct_vzlist_a": Plan("excluded", NATIVE_EMPTY + "; a node shows two running CTs "
                                "with kernel values, checked by fake_1ct_running_*"),
    "set_102_stopped_ram_noforce": Plan("kernel", NO_VSWAP, out="CT configuration saved to "
                                        "/etc/vz/conf/102.conf\n", err="", rc=0,
                                        conf_changes=RAM_SWAP, rollback=True),
    "fake_1ct_running_vzlist_a_H_o": Plan("kernel", "the fake kernel data had no vzquota; a "
                                          "node shows the disk usage (DSPACE column masked)",
                                          mask_columns=(125, 135)),
}  # fmt: skip
for _name in (
    "S",
    "S_H_o",
    "S_o",
    "S_o_limits",
    "S_1",
    "S_j_o",
    "S_N_web",
    "S_sort_hostname",
    "S_j",
):
    PLAN[f"native_3ct_vzlist_{_name}"] = Plan(
        "kernel",
        NATIVE_RUNNING,
        drop_running=RUNNING_AT_NATIVE_3CT,
        # PRIVATE/ROOT columns: the node's paths are longer than /vz/private/N.
        collapse_spaces=_name == "S_o_limits",
    )


def _order() -> list[str]:
    lines = (REC / "ORDER.txt").read_text(encoding="utf-8").splitlines()
    return [ln.split()[0] for ln in lines if ln.strip() and not ln.startswith("#")]


ORDER = _order()


def _recorded(name: str, ext: str) -> str:
    return (REC / f"{name}.{ext}").read_text(encoding="utf-8")


def normalise_expected(name: str) -> tuple[str, str, int]:
    """The recorded outcome without the upstream-kernel banner and host-only stderr lines."""
    out = "".join(ln for ln in _recorded(name, "out").splitlines(True) if ln.rstrip("\n") != BANNER)
    err = "".join(
        ln
        for ln in _recorded(name, "err").splitlines(True)
        if not HOST_ONLY_ERR.match(ln.rstrip("\n"))
    )
    return out, err, int(_recorded(name, "rc").strip())


def map_paths(text: str, node: SimNode) -> str:
    """Show the simulated node's paths as the real node's ones."""
    d = str(node.dir)
    for mine, real in (
        (f"{d}/bin/vzctl", "/usr/sbin/vzctl"),
        (f"{d}/bin/vzlist", "vzlist"),
        (f"{d}/conf", "/etc/vz/conf"),
        (f"{d}/names", "/etc/vz/names"),
        (f"{d}/vz.conf", "/etc/vz/vz.conf"),
        (f"{d}/private", "/vz/private"),
        (f"{d}/root", "/vz/root"),
        (f"{d}/lock", "/vz/lock"),
        (f"{d}/template", "/vz/template"),
    ):
        text = text.replace(mine, real)
    return text


def normalise_pids(text: str) -> str:
    return re.sub(r"pid \d+", "pid N", text)


def normalise_actual(out: str, err: str, node: SimNode) -> tuple[str, str]:
    out = "".join(ln for ln in out.splitlines(True) if not VZ_KERNEL_ONLY_OUT.match(ln.rstrip()))
    return normalise_pids(map_paths(out, node)), normalise_pids(map_paths(err, node))


def drop_running(text: str, ctids: tuple[int, ...]) -> str:
    """The listing an OpenVZ node prints for `-S`: rows/objects of running CTs removed."""
    if text.startswith("["):
        objects = re.split(r"(?m)^  \{$", text[1:].rsplit("\n]", 1)[0])
        keep = [o for o in objects[1:] if not any(f'"ctid": {c},' in o for c in ctids)]
        body = ",".join("\n  {" + o.rstrip(",\n").rstrip("\n") for o in keep)
        return "[" + body + "\n]\n" if keep else "[\n]\n"
    lines = text.splitlines(True)
    return "".join(ln for ln in lines if not any(re.match(rf"^\s*{c}\b", ln) for c in ctids))


def mask(text: str, span: tuple[int, int]) -> str:
    return "".join(
        ln[: span[0]] + "#" * (span[1] - span[0]) + ln[span[1] :] if len(ln) > span[1] else ln
        for ln in text.splitlines(True)
    )


@dataclass
class Replay:
    """The node being replayed on and the lock holders its scenarios started."""

    node: SimNode
    holders: list[subprocess.Popen[bytes]] = field(default_factory=list)


class Chain:
    """One node at a fixed (short) path, restored per test to the state before its scenario.

    `snaps/<i>` holds the node's state (everything but bin/) before scenario `i` of ORDER.
    `prepare(i)` restores the nearest saved state at or before `i` and replays the scenarios in
    between, unchecked, saving the state before each, so every test runs on the node its
    scenario was recorded on whatever ran before it (in any order, or alone)."""

    def __init__(self, root: Path) -> None:
        self.replay = Replay(make_sim_node(root / "n", (TEMPLATE,)))
        # The recording node had only the one template cache (create_102_default_template_missing).
        (self.replay.node.dir / "template" / "cache" / "centos-6-x86.tar.gz").unlink()
        self.snaps = root / "snaps"
        self.saved: set[int] = set()
        self.at: int | None = 0  # the scenario whose before-state the node holds, if known
        self._save(0)

    def _save(self, index: int) -> None:
        _copy_entries(self._state(), self.snaps / str(index))
        self.saved.add(index)

    def _state(self) -> list[Path]:
        return [p for p in self.replay.node.dir.iterdir() if p.name != "bin"]

    def _restore(self, index: int) -> None:
        for entry in self._state():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        _copy_entries(list((self.snaps / str(index)).iterdir()), self.replay.node.dir)

    def prepare(self, index: int) -> Replay:
        if self.at is not None and self.at not in self.saved and self.at < len(ORDER):
            self._save(self.at)
        if self.at != index:
            start = max(k for k in self.saved if k <= index)
            self._restore(start)
            for k in range(start, index):
                _advance(self.replay, ORDER[k], self.snaps / "rollback")
                if k + 1 not in self.saved:
                    self._save(k + 1)
        self.at = None  # unknown until the test says where it left the node
        return self.replay

    def close(self) -> None:
        _kill_holders(self.replay)


# Session-scoped: in the shuffled `make test` a module-scoped chain was torn down whenever a
# test of another module ran between two replays, and each replay rebuilt it from scenario 0
# (10-20 s a test under coverage; the covered pass took 16 minutes instead of 9).
@pytest.fixture(scope="session")
def chain() -> Iterator[Chain]:
    # A short state dir, so private/root paths fit vzlist's 32-character columns uncut.
    short = Path(tempfile.mkdtemp(prefix="vzr"))
    state = Chain(short)
    yield state
    state.close()
    shutil.rmtree(short, ignore_errors=True)


def _copy_entries(entries: list[Path], into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, into / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, into / entry.name, follow_symlinks=False)


def _kill_holders(r: Replay) -> None:
    for proc in r.holders:
        proc.kill()
        proc.wait()
    r.holders.clear()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _lock(node: SimNode, ctid: int, pid: int) -> None:
    (node.dir / "lock" / f"{ctid}.lck").write_text(f"{pid}\n\n", encoding="ascii")


def _fixup_hostname(r: Replay) -> None:
    """Unrecorded: the recording harness reset 101's hostname and nameserver after inv_*."""
    done = r.node.run(
        "vzctl",
        "set",
        "101",
        "--hostname",
        "ct101.example.com",
        "--nameserver",
        "8.8.8.8",
        "--save",
    )
    assert done.returncode == 0, done.stderr


def _hold_lock_with_sleep(r: Replay) -> None:
    proc = subprocess.Popen(["sleep", "300"])
    r.holders.append(proc)
    _lock(r.node, 101, proc.pid)


def _leftover_101(r: Replay) -> None:
    """An earlier setup attempt had left a stopped 101 on the recording node."""
    _ok(r.node.run("vzctl", "create", "101", "--ostemplate", TEMPLATE))


def _mounted_with_stale_lock(r: Replay) -> None:
    """Unrecorded: 101 was mounted and a stale lock left before this stop."""
    _ok(r.node.run("vzctl", "mount", "101"))
    _lock(r.node, 101, _dead_pid())


SETUP: dict[str, Callable[[Replay], None]] = {
    "destroy_101_stopped": _leftover_101,
    "stop_101_mounted_not_running": _mounted_with_stale_lock,
    "lock_stale_deadpid_start_101": lambda r: _lock(r.node, 101, _dead_pid()),
    "lock_held_by_live_nonvzctl_pid_stop_101": _hold_lock_with_sleep,
    "native_3ct_vzlist_a": _fixup_hostname,
}


def _ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stdout + done.stderr


def _teardown(r: Replay, name: str) -> None:
    if name == "lock_held_by_live_nonvzctl_pid_stop_101":
        _kill_holders(r)
        (r.node.dir / "lock" / "101.lck").unlink()


def _snapshot(node: SimNode, into: Path) -> None:
    for sub in ("conf", "names", "run"):
        shutil.copytree(node.dir / sub, into / sub, symlinks=True)


def _restore(node: SimNode, saved: Path) -> None:
    for sub in ("conf", "names", "run"):
        shutil.rmtree(node.dir / sub)
        shutil.copytree(saved / sub, node.dir / sub, symlinks=True)
    shutil.rmtree(saved)


def _expected(name: str, plan: Plan | None) -> tuple[str, str, int]:
    if plan is None:
        return normalise_expected(name)
    out, err, rc = normalise_expected(plan.same_as or name)
    if plan.drop_running:
        out = drop_running(out, plan.drop_running)
    return (
        plan.out if plan.out is not None else out,
        plan.err if plan.err is not None else err,
        plan.rc if plan.rc is not None else rc,
    )


def _ctid(argv: list[str]) -> int | None:
    return int(argv[2]) if argv[0] == "vzctl" and len(argv) > 2 and argv[2].isdigit() else None


def _conf_snapshot(name: str) -> Path | None:
    path = REC / ("conf_101_after_create.conf" if name == "create_101" else f"{name}.conf")
    return path if path.exists() else None


def _argv(name: str) -> list[str]:
    return shlex.split(_recorded(name, "cmd"))


def _compared(name: str) -> bool:
    plan = PLAN.get(name)
    return plan is None or plan.kind not in ("excluded", "separate")


def _last_conf(index: int, ctid: int) -> str:
    """The recorded config of `ctid` as last snapshotted at or before scenario `index`."""
    for name in reversed(ORDER[: index + 1]):
        snap = _conf_snapshot(name)
        if snap is not None and _compared(name) and _ctid(_argv(name)) == ctid:
            return snap.read_text(encoding="utf-8")
    raise AssertionError(f"no recorded config of {ctid} before {ORDER[index]}")


def _check_conf(r: Replay, name: str, plan: Plan | None, argv: list[str]) -> None:
    ctid = _ctid(argv)
    if ctid is None or (_conf_snapshot(name) is None and not (plan and plan.conf_changes)):
        return
    expected = _last_conf(ORDER.index(name), ctid)
    for old, new in plan.conf_changes if plan else ():
        expected = expected.replace(old + "\n", new + "\n")
    actual = map_paths((r.node.dir / "conf" / f"{ctid}.conf").read_text(encoding="utf-8"), r.node)
    assert actual == expected, f"{name}: config differs"


def _perform(r: Replay, name: str, saved: Path) -> subprocess.CompletedProcess[str] | None:
    """Scenario `name` as the recording harness ran it: its unrecorded setup, then (unless it
    is not compared) the recorded command; a rollback scenario's state is first kept in
    `saved`. None when the command is not run."""
    if name in SETUP:
        SETUP[name](r)
    if not _compared(name):
        return None
    plan = PLAN.get(name)
    if plan is not None and plan.rollback:
        _snapshot(r.node, saved)
    done = r.node.run(*_argv(name))
    _teardown(r, name)
    return done


def _advance(r: Replay, name: str, saved: Path) -> None:
    """Replay `name` unchecked (a prerequisite of a later scenario)."""
    _perform(r, name, saved)
    plan = PLAN.get(name)
    if plan is not None and plan.rollback:
        _restore(r.node, saved)


@pytest.mark.parametrize("name", ORDER)
def test_replay(chain: Chain, name: str, tmp_path: Path) -> None:
    index = ORDER.index(name)
    replay = chain.prepare(index)
    plan = PLAN.get(name)
    done = _perform(replay, name, tmp_path / "saved")
    if done is None:
        assert plan is not None
        chain.at = index + 1
        pytest.skip(f"{plan.kind}: {plan.reason}")
    out, err = normalise_actual(done.stdout, done.stderr, replay.node)
    exp_out, exp_err, exp_rc = _expected(name, plan)
    if plan is not None and plan.mask_columns:
        out, exp_out = mask(out, plan.mask_columns), mask(exp_out, plan.mask_columns)
    if plan is not None and plan.collapse_spaces:
        out, exp_out = re.sub(" +", " ", out), re.sub(" +", " ", exp_out)
    assert (done.returncode, out, err) == (exp_rc, exp_out, normalise_pids(exp_err)), name
    _check_conf(replay, name, plan, _argv(name))
    if plan is not None and plan.rollback:
        _restore(replay.node, tmp_path / "saved")
    chain.at = index + 1


def outcome(name: str) -> str:
    """How test_replay compares scenario `name`: "exact", "kernel", "separate" or "excluded"."""
    plan = PLAN.get(name)
    return "exact" if plan is None else plan.kind


def render_doc(outcome: dict[str, str]) -> str:
    """docs/SIMULATOR.md: the replay tally and every scenario not compared as recorded."""
    count = {k: sum(1 for v in outcome.values() if v == k) for k in ("exact", "kernel")}
    reproduced = count["exact"] + count["kernel"]
    rows = [f"| `{n}` | {PLAN[n].kind} | {PLAN[n].reason} |" for n in ORDER if n in PLAN]
    return "\n".join(
        [
            "# The simulated OpenVZ node: fidelity",
            "",
            "Generated by `tests/sim/test_replay.py` (refresh with `pytest --update-golden`).",
            "",
            f"Of the {len(ORDER)} scenarios recorded from real vzctl/vzlist 4.11.1 "
            "(`tests/data/openvz-recorded`), replayed in order on one simulated node, "
            f"**{reproduced} are reproduced**: {count['exact']} exactly as recorded and "
            f"{count['kernel']} as an OpenVZ kernel behaves where the upstream-kernel recording "
            "host differed. Two more (`separate`) are reproduced by tests/sim/test_locking.py with "
            "concurrent processes; the `excluded` ones are not compared.",
            "",
            "Normalisation: the `Directory /proc/vz not found` banner and the recording host's "
            "own stderr lines (vzquota missing, vps-net_add warnings, USER_NS, /proc files) are "
            "dropped; the simulator's `Setting CPU units/limit/CPUs` lines (printed by vzctl on "
            "an OpenVZ kernel only) are dropped; pids are masked; node paths are mapped to "
            "/etc/vz and /vz.",
            "",
            "| Scenario | Compared | Why |",
            "|---|---|---|",
            *rows,
            "",
            *HARDWARE_DOC,
        ]
    )


HARDWARE_DOC = (
    "## The machine",
    "",
    "vzgitops's pre-flight asks a node about its machine with `cat /etc/vz/vz.conf`, `uname -m`, "
    "`nproc`, `free -b`, `df -P -k VE_PRIVATE` and `ls -1 TEMPLATE/cache` (argument lists "
    "through its Runner, so the same on a real node). The simulated node answers them the same "
    "way: `vzgitops sim init DIR --arch i686 --cpus 2 --ram 4G --swap 1G --disk 100G` stores the "
    "machine in `DIR/hardware.json` (defaults: x86_64, 16 CPUs, 64G RAM, 16G swap, a 1T /vz), "
    "and `DIR/bin/uname`, `nproc`, `free` and `df` (entry points like `bin/vzctl`, first on PATH "
    "after `. DIR/env`) print it in the formats of coreutils 8 and procps-ng 3.3. `df` counts "
    "the private areas' used space as the simulated vzquota does, so creating containers fills "
    "the disk; `vz.conf` and the template caches are real files, read by the real `cat` and "
    "`ls`. Editing `hardware.json` changes the machine of an existing node.",
    "",
    "`sim init --ploop` gives the node ploop (`Hardware.ploop`: the kernel's ploop modules and a "
    "vzctl built with it). Without it `vzctl create --layout ploop` exits 99 with vzctl's "
    "is_ploop_supported() message. With it, create needs a disk space (63 without one), makes "
    "`root.hdd/DiskDescriptor.xml` and the image `root.hdd/root.hdd` of the hard limit in the "
    "private area (the files are unpacked next to them, where the simulated guest reads them), "
    "and refuses an image above libploop's PLOOP_MAX_FS_SIZE of 16T (151) or more inodes than "
    "16K each allow in it (21); `set --diskspace` resizes the image (only with `--save`, else "
    "20; 154 above 16T) and `set --diskinodes` warns that it is ignored and saves it (vzctl's "
    "set()).",
    "",
)


def test_simulator_doc(update_golden: bool) -> None:
    """The tally counts what test_replay compares; each of those cases passes or the suite
    fails, so the document does not depend on which of them ran before this test."""
    text = render_doc({name: outcome(name) for name in ORDER})
    if update_golden or not DOC.exists():
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
    assert DOC.read_text(encoding="utf-8") == text, "docs/SIMULATOR.md is stale: --update-golden"
