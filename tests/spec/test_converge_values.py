"""Edge values (issue 17): what validates equals what vzctl stores; what vzctl refuses is refused.

Each accepted value is planned against the config line vzctl 4.x writes for it (config.c's
store functions: `%lu` numbers, conf_store_bitmap masks, add_str2list lists without repeats),
and must compare equal, so the next plan is empty. Each refused value is checked by its
rendered problem, which names the field and says what to write instead.
"""

from __future__ import annotations

import pytest
import yaml

from reconciler.fields import BY_NAME, desired_settings, saved_settings
from reconciler.importer import to_document
from reconciler.plan.observed import ObservedContainer
from reconciler.spec.load import load_desired, validate_files

MAX = 9223372036854775807
HEAD = "apiVersion: vzgitops/v1\nkind: Container\nmetadata:\n  name: web\nspec:\n  ctid: 101\n"
OST = "  ostemplate: debian-12.0-x86_64-minimal\n"
DEFAULTS = "apiVersion: vzgitops/v1\nkind: Defaults\nmetadata:\n  name: all\nspec:\n"

STORED = [
    # vzctl's parse_vswap: LONG_MAX bytes rounded up to pages, 2^51
    ("ram: unlimited", "PHYSPAGES", "0:2251799813685248"),
    ("swap: unlimited", "SWAPPAGES", "0:2251799813685248"),
    ("ram: unlimited", "PHYSPAGES", "0:unlimited"),  # written by hand: LONG_MAX pages
    ("diskspace: unlimited", "DISKSPACE", f"{MAX}:{MAX}"),
    ("diskspace: 1G:unlimited", "DISKSPACE", f"1048576:{MAX}"),
    ("diskinodes: unlimited", "DISKINODES", f"{MAX}:{MAX}"),
    ("diskinodes: 5:unlimited", "DISKINODES", f"5:{MAX}"),
    (f"quotaugidlimit: {MAX}", "QUOTAUGIDLIMIT", str(MAX)),
    ("cpumask: 0-4095", "CPUMASK", "all"),
    ("cpumask: '1,0'", "CPUMASK", "0-1"),
    ("cpumask: 0-0", "CPUMASK", "0"),
    ("cpumask: 0-2,1-3,7", "CPUMASK", "0-3,7"),
    ("nameserver: [10.0.0.1, 10.0.0.1]", "NAMESERVER", "10.0.0.1"),
    ("nameserver: [10.0.0.2, 10.0.0.1, 10.0.0.2]", "NAMESERVER", "10.0.0.2 10.0.0.1"),
    ("searchdomain: [A.lan, a.lan]", "SEARCHDOMAIN", "a.lan"),
    ("iopslimit: 2147483647", "IOPSLIMIT", "2147483647"),
    # config.c's devperm2str: r, w, q in that order, each once
    ("devnodes: {net/tun: wr}", "DEVNODES", "net/tun:rw "),
    ("devnodes: {sdb: qrr}", "DEVNODES", "sdb:rq "),
    ("devnodes: {net/tun: none}", "DEVNODES", "net/tun: "),
]


@pytest.mark.parametrize(("line", "key", "stored"), STORED)
def test_an_edge_value_plans_equal_to_what_vzctl_stores_for_it(
    line: str, key: str, stored: str
) -> None:
    container = load_desired({"web.yaml": (HEAD + OST + f"  {line}\n").encode()}).containers[0]
    field = line.split(":")[0]
    want = desired_settings(container.spec, container.name)[field]
    have = saved_settings({key: stored}, 101)[field]
    assert BY_NAME[field].equal(want, have), (want, have)


def test_a_device_permission_reaches_vzctl_as_it_stores_it() -> None:
    container = load_desired({"web.yaml": (HEAD + OST + "  devnodes: {fuse: wqr}\n").encode()})
    want = desired_settings(container.containers[0].spec, "web")["devnodes"]
    assert BY_NAME["devnodes"].argv(want, None) == ["--devnodes", "fuse:rwq"]


def test_unlimited_disk_inodes_reach_vzctl_as_a_number() -> None:
    """vzctl's parse_dq reads no `unlimited` (`Bad parameter for --diskinodes`, exit 21)."""
    container = load_desired({"web.yaml": (HEAD + OST + "  diskinodes: unlimited\n").encode()})
    want = desired_settings(container.containers[0].spec, "web")["diskinodes"]
    assert BY_NAME["diskinodes"].argv(want, None) == ["--diskinodes", f"{MAX}:{MAX}"]


PLOOP = "  layout: ploop\n"
REFUSED_PLOOP = [
    (
        "diskspace: unlimited",
        "web.yaml:9:14: spec.diskspace: layout: ploop makes an image of the hard limit, and a"
        " ploop image is at most 16T (vzctl create would exit 151); write at most 16T",
    ),
    (
        "diskspace: 1G:17T",
        "web.yaml:9:14: spec.diskspace: layout: ploop makes an image of the hard limit, and a"
        " ploop image is at most 16T (vzctl create would exit 151); write at most 16T",
    ),
    (
        "diskinodes: 1073741825",
        "web.yaml:9:15: spec.diskinodes: layout: ploop gives the image 16K per inode, at most"
        " 16T, so vzctl create refuses more than 1073741824 inodes (exit 21); write at most"
        " 1073741824",
    ),
]


@pytest.mark.parametrize(("line", "message"), REFUSED_PLOOP)
def test_a_ploop_image_vzctl_cannot_make_is_refused(line: str, message: str) -> None:
    problems = validate_files({"web.yaml": (HEAD + OST + PLOOP + f"  {line}\n").encode()})
    assert [p.render() for p in problems] == [message]


@pytest.mark.parametrize("line", ["diskspace: 16T", "diskinodes: 1073741824", "diskspace: 1G"])
def test_a_ploop_image_vzctl_can_make_is_valid(line: str) -> None:
    assert validate_files({"web.yaml": (HEAD + OST + PLOOP + f"  {line}\n").encode()}) == []


def test_the_same_ploop_limits_are_valid_on_simfs() -> None:
    lines = "  diskspace: unlimited\n  diskinodes: unlimited\n"
    assert validate_files({"web.yaml": (HEAD + OST + lines).encode()}) == []


def test_two_interfaces_of_one_name_are_refused() -> None:
    netif = (
        "  netif:\n  - {ifname: eth0, mac: '00:18:51:AA:BB:01'}\n"
        "  - {ifname: eth0, mac: '00:18:51:AA:BB:02'}\n"
    )
    problems = validate_files({"web.yaml": (HEAD + OST + netif).encode()})
    assert [p.render() for p in problems] == [
        "web.yaml:10:14: spec.netif[1].ifname: interface name eth0 is already used by this document"
    ]


REFUSED = [
    (
        "cpumask: 3-1",
        "web.yaml:8:12: spec.cpumask: '3-1': the range 3-1 goes down, which vzctl refuses; write 1-3",
    ),
    (
        "cpumask: 0-4096",
        "web.yaml:8:12: spec.cpumask: '0-4096': CPU 4096 is beyond vzctl's mask of 4096 CPUs"
        " (0-4095); write CPUs the node has, or all",
    ),
    (
        "cpumask: 0-3,",
        "web.yaml:8:12: spec.cpumask: '0-3,' is not a CPU mask; write CPUs and ranges such as"
        " 0-3,7, or all",
    ),
    (
        f"iopslimit: {MAX}",
        f"web.yaml:8:14: spec.iopslimit: {MAX} is more than vzctl takes here (2147483647, a C"
        " int); write at most 2147483647, or 0 for no limit",
    ),
    (
        f"quotaugidlimit: {MAX + 1}",
        f"web.yaml:8:19: spec.quotaugidlimit: must be less than or equal to {MAX}, got {MAX + 1}",
    ),
    (
        "nameserver: []",
        "web.yaml:8:15: spec.nameserver: an empty list cannot be set with vzctl, which keeps the"
        " entries it has; list at least one, or leave the field out",
    ),
    (
        "disabled: true",
        "web.yaml:8:13: spec.disabled: disabled: true with state: running can never be reached,"
        " vzctl refuses to start a disabled container (exit 105); write state: stopped, or"
        " disabled: false",
    ),
]


@pytest.mark.parametrize(("line", "message"), REFUSED)
def test_a_value_vzctl_refuses_is_refused_naming_the_field_and_what_to_write(
    line: str, message: str
) -> None:
    problems = validate_files({"web.yaml": (HEAD + OST + f"  {line}\n").encode()})
    assert [p.render() for p in problems] == [message]


def test_a_disabled_default_with_a_running_container_is_refused_at_the_container() -> None:
    files = {
        "defaults.yaml": (DEFAULTS + "  disabled: true\n").encode(),
        "web.yaml": (HEAD + OST).encode(),
    }
    problems = [p.render() for p in validate_files(files)]
    assert problems == [
        "web.yaml:5:1: spec.state: disabled: true (from a Defaults document) with state: running"
        " can never be reached, vzctl refuses to start a disabled container (exit 105); write"
        " state: stopped, or disabled: false"
    ]


@pytest.mark.parametrize("config", ["basic", "light"])
def test_ram_without_swap_on_a_sample_without_swap_is_refused(config: str) -> None:
    files = {"web.yaml": (HEAD + OST + f"  config: {config}\n  ram: 1G\n").encode()}
    assert [p.render() for p in validate_files(files)] == [
        f"web.yaml:9:8: spec.ram: config: {config} sets no swap, and vzctl refuses --ram without"
        " one (required UB parameter (swap) not set, exit 28); add swap, 0 for none"
    ]
    with_swap = {"web.yaml": (HEAD + OST + f"  config: {config}\n  ram: 1G\n  swap: 0\n").encode()}
    assert validate_files(with_swap) == []


def test_a_disabled_container_that_is_meant_to_be_stopped_is_valid() -> None:
    files = {"web.yaml": (HEAD + OST + "  state: stopped\n  disabled: true\n").encode()}
    assert validate_files(files) == []


def test_a_running_container_the_node_marks_disabled_imports_to_a_valid_document() -> None:
    """Started with `vzctl start --force`: `disabled: true` with `state: running` is refused."""
    running = ObservedContainer(ctid=101, status="running", saved={"disabled": True})
    document, warnings = to_document(running)
    assert "disabled" not in document["spec"]
    assert warnings == [
        "container 101: disabled left out: it runs although its config says DISABLED=yes"
    ]
    text = yaml.safe_dump({**document, "spec": {**document["spec"], "ostemplate": OST.split()[1]}})
    assert validate_files({"ct101.yaml": text.encode()}) == []
