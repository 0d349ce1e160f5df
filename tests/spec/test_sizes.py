"""Sizes mean one thing: a unit is required, and what no container can run with is refused.

Each accepted value is checked through to the integer vzctl stores (pages, KiB, bytes/s), and
each refused one by its rendered problem, `file:line:col: field: message`, as the loader reports it.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.fields import desired_settings
from reconciler.spec.load import load_desired, validate_files

MAX = 9223372036854775807
HEAD = "apiVersion: vzgitops/v1\nkind: Container\nmetadata:\n  name: web\nspec:\n  ctid: 101\n"
OST = "  ostemplate: debian-12.0-x86_64-minimal\n"


def _file(line: str) -> dict[str, bytes]:
    return {"web.yaml": (HEAD + OST + f"  {line}\n").encode()}


def _node(line: str) -> dict[str, bytes]:
    text = "apiVersion: vzgitops/v1\nkind: Node\nmetadata:\n  name: hn\nspec:\n  capacity:\n"
    return {"node.yaml": f"{text}    {line}\n".encode(), **_file("ram: 1G")}


ACCEPTED: list[tuple[str, str, Any]] = [
    ("ram: 16M", "ram", 4096),
    ("ram: 4096P", "ram", 4096),
    ("ram: 2.5G", "ram", 655360),
    ("ram: 100.3M", "ram", 25677),  # 105172787.2 bytes, up to whole pages as vzctl does
    ("ram: '33554432B'", "ram", 8192),
    ("ram: 1g", "ram", 262144),
    ("ram: unlimited", "ram", MAX),
    ("swap: 0", "swap", 0),
    ("swap: 0M", "swap", 0),
    ("swap: 1B", "swap", 1),
    ("swap: 0.5K", "swap", 1),
    ("swap: 512M", "swap", 131072),
    ("diskspace: 128M", "diskspace", (131072, 131072)),
    ("diskspace: 10.3G:10.7G", "diskspace", (10800332, 11219763)),  # down to whole KiB
    ("diskspace: 2G:unlimited", "diskspace", (2097152, MAX)),
    ("iolimit: 0", "iolimit", 0),
    ("iolimit: unlimited", "iolimit", 0),  # vzctl's "no limit" is 0, never LONG_MAX
    ("iolimit: 1.5M", "iolimit", 1572864),
    ("iolimit: 2147483647B", "iolimit", 2147483647),
    ("diskinodes: 200000", "diskinodes", (200000, 200000)),  # a count, not a size
    ("numproc: 400:500", "numproc", (400, 500)),
]


@pytest.mark.parametrize(("line", "field", "stored"), ACCEPTED)
def test_a_size_with_its_unit_is_read_as_vzctl_stores_it(
    line: str, field: str, stored: Any
) -> None:
    container = load_desired(_file(line)).containers[0]
    assert desired_settings(container.spec, container.name)[field] == stored


UNIT = "write one of B, K, M, G, T or P (4 KiB pages) after the number"
DISK_UNIT = "write one of B, K, M, G or T after the number"
REFUSED: list[tuple[str, str]] = [
    # the issue: `ram: 0.5` became `vzctl set --ram 0B` on a running database
    ("ram: 0.5", f"web.yaml:8:8: spec.ram: '0.5' has no unit; {UNIT}, e.g. 16M"),
    (
        "ram: 524288",
        f"web.yaml:8:8: spec.ram: '524288' has no unit; {UNIT}: 512K if you meant bytes, or 2G if you meant 4 KiB pages",
    ),
    (
        "ram: '512'",
        f"web.yaml:8:8: spec.ram: '512' has no unit; {UNIT}: 512B if you meant bytes, or 2M if you meant 4 KiB pages",
    ),
    (
        "ram: 0",
        "web.yaml:8:8: spec.ram: '0' is less than 16M, the least RAM a container can run with; write at least 16M",
    ),
    (
        "ram: 0.5K",
        "web.yaml:8:8: spec.ram: '0.5K' (4K as vzctl stores it) is less than 16M, the least RAM a container can run with; write at least 16M",
    ),
    (
        "ram: 8m",
        "web.yaml:8:8: spec.ram: '8m' is less than 16M, the least RAM a container can run with; write at least 16M",
    ),
    (
        "ram: 4095P",
        "web.yaml:8:8: spec.ram: '4095P' (16380K as vzctl stores it) is less than 16M, the least RAM a container can run with; write at least 16M",
    ),
    ("ram: -1", "web.yaml:8:8: spec.ram: cannot be negative"),
    (
        "swap: 1000",
        f"web.yaml:8:9: spec.swap: '1000' has no unit; {UNIT}: 1000B if you meant bytes, or 4000K if you meant 4 KiB pages",
    ),
    (
        "swap: 0.5B",
        "web.yaml:8:9: spec.swap: '0.5B' rounds to 0 as vzctl stores it, which means no swap; write 0 if that is meant, or a larger size",
    ),
    (
        "diskspace: 20971520",
        f"web.yaml:8:14: spec.diskspace: '20971520' has no unit; {DISK_UNIT}: 20G if you meant KiB (how vzctl reads a plain number), or 20M if you meant bytes",
    ),
    (
        "diskspace: 10G:20971520",
        f"web.yaml:8:14: spec.diskspace: '20971520' has no unit; {DISK_UNIT}: 20G if you meant KiB (how vzctl reads a plain number), or 20M if you meant bytes",
    ),
    ("diskspace: 0.5", f"web.yaml:8:14: spec.diskspace: '0.5' has no unit; {DISK_UNIT}, e.g. 128M"),
    (
        "diskspace: 127.9M",
        "web.yaml:8:14: spec.diskspace: '127.9M' (130969K as vzctl stores it) is less than 128M, the least disk space a container can run with; write at least 128M",
    ),
    (
        "diskspace: 64M:10G",
        "web.yaml:8:14: spec.diskspace: '64M' is less than 128M, the least disk space a container can run with; write at least 128M",
    ),
    (
        "diskspace: 4P",
        "web.yaml:8:14: spec.diskspace: '4P': P is not a unit for disk space (use B, K, M, G or T)",
    ),
    (
        "iolimit: 10",
        "web.yaml:8:12: spec.iolimit: '10' has no unit; write one of B, K, M, G or T after the number: 10M if you meant MB/s (how vzctl reads a plain number), or 10B if you meant bytes/s",
    ),
    (
        "iolimit: 0.5B",
        "web.yaml:8:12: spec.iolimit: '0.5B' rounds to 0 as vzctl stores it, which means no limit; write 0 if that is meant, or a larger size",
    ),
    (
        "iolimit: 2G",
        "web.yaml:8:12: spec.iolimit: '2G' is more than 2147483647B, the most vzctl takes for an I/O limit",
    ),
]


@pytest.mark.parametrize(("line", "message"), REFUSED)
def test_a_size_without_unit_or_below_the_minimum_is_refused_naming_what_to_write(
    line: str, message: str
) -> None:
    assert [p.render() for p in validate_files(_file(line))] == [message]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "ram: 68719476736",
            "node.yaml:7:10: spec.capacity.ram: '68719476736' has no unit; "
            f"{UNIT}: 64G if you meant bytes, or 256T if you meant 4 KiB pages",
        ),
        (
            "disk: 52428800",
            "node.yaml:7:11: spec.capacity.disk: '52428800' has no unit; "
            f"{DISK_UNIT}: 50G if you meant KiB (how vzctl reads a plain number), or 50M if you meant bytes",
        ),
    ],
)
def test_a_node_capacity_needs_a_unit_too(line: str, message: str) -> None:
    assert [p.render() for p in validate_files(_node(line))] == [message]


def test_a_small_node_capacity_has_no_container_minimum() -> None:
    assert validate_files(_node("ram: 8M")) != []  # 1G of containers do not fit in 8M
    assert [p.render() for p in validate_files(_node("ram: 2G"))] == []
