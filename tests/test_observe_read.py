"""Reading the config directory: the texts are those text mode reads, whatever the files hold."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import ObservationIncomplete, ObserveError
from reconciler.fields import saved_settings
from reconciler.observe import _config_texts, read_configs, read_saved
from reconciler.vzconf import parse_conf


def reference_texts(conf_dir: Path) -> dict[int, str]:
    """What the configs read as with Path.read_text (the reader this one replaced)."""
    return {
        int(path.name.removesuffix(".conf")): path.read_text(encoding="utf-8", errors="replace")
        for path in conf_dir.iterdir()
        if path.name.removesuffix(".conf").isdigit() and path.name.endswith(".conf")
    }


CONTENTS = [
    b'HOSTNAME="web"\nNAME="web"\nCPUS="2"\n',
    b'HOSTNAME="web"\r\nNAME="w\r"\r\nCPUS="2"\r\n',
    b'HOSTNAME="web"\rNAME="web"\r\rCPUS="2"',
    b'DESCRIPTION="caf\xe9 \xff\xfe"\nNAME="\xc3\xa9t\xc3\xa9"\n',
    b'\xef\xbb\xbfNAME="bom"\n',
    b"",
    b'DESCRIPTION="' + b"x" * 200_000 + b'"\n',
]


def test_texts_are_those_text_mode_reads(tmp_path: Path) -> None:
    for ctid, data in enumerate(CONTENTS, start=101):
        (tmp_path / f"{ctid}.conf").write_bytes(data)
    for name in ("x.conf", "101.conf.bak", "102.conf~", "ve-basic.conf-sample", "1O1.conf"):
        (tmp_path / name).write_bytes(b'NAME="not a container"\n')
    assert dict(_config_texts(tmp_path)) == reference_texts(tmp_path)
    assert sorted(read_configs(tmp_path)) == list(range(101, 101 + len(CONTENTS)))


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=200)
    | st.lists(st.sampled_from([b"\r", b"\n", b"A=", b'"', b"\xe9"])).map(b"".join)
)
def test_any_bytes_read_as_text_mode_reads_them(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    conf_dir = tmp_path_factory.mktemp("conf")
    (conf_dir / "101.conf").write_bytes(data)
    assert dict(_config_texts(conf_dir)) == reference_texts(conf_dir)


def test_saved_values_are_the_parsers(tmp_path: Path) -> None:
    for ctid, data in enumerate(CONTENTS, start=101):
        (tmp_path / f"{ctid}.conf").write_bytes(data)
    expected = {
        ctid: saved_settings(parse_conf(text), ctid)
        for ctid, text in reference_texts(tmp_path).items()
    }
    assert read_saved(tmp_path) == expected


def test_a_missing_directory_is_an_error_not_a_node_without_containers(tmp_path: Path) -> None:
    for read in (read_configs, read_saved):
        with pytest.raises(ObservationIncomplete, match=r"directory .*absent does not exist"):
            read(tmp_path / "absent")


def test_the_hosts_own_config_is_not_a_container(tmp_path: Path) -> None:
    (tmp_path / "0.conf").write_text('ONBOOT="no"\n')
    (tmp_path / "101.conf").write_text('NAME="web"\n')
    assert sorted(read_configs(tmp_path)) == [101]


def test_a_config_that_cannot_be_read_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "101.conf").write_text('NAME="web"\n')
    (tmp_path / "102.conf").mkdir()
    with pytest.raises(ObservationIncomplete, match=r"cannot read .*102.conf \(container 102\)"):
        read_saved(tmp_path)


def test_a_file_in_place_of_the_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "conf").write_text("")
    with pytest.raises(ObserveError, match=r"config directory .*conf: Not a directory"):
        read_configs(tmp_path / "conf")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads whatever the permissions say")
def test_an_unreadable_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir(mode=0o000)
    with pytest.raises(ObserveError, match="Permission denied"):
        read_configs(tmp_path / "conf")


def test_no_descriptor_is_left_open(tmp_path: Path) -> None:
    (tmp_path / "101.conf").write_text('NAME="web"\n')
    before = set(os.listdir("/proc/self/fd"))
    for _ in range(3):
        read_saved(tmp_path)
        next(_config_texts(tmp_path))  # abandoned part way: closed when collected
    assert set(os.listdir("/proc/self/fd")) <= before
