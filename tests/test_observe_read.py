"""Reading the config directory: the texts are the files decoded, line ends as vzctl sees them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.errors import ObservationIncomplete, ObserveError
from reconciler.fields import saved_settings
from reconciler.node.observe import local_config_texts, read_configs, read_saved
from reconciler.node.vzconf import parse_conf

CONTENTS = [
    b'HOSTNAME="web"\nNAME="web"\nCPUS="2"\n',
    b'HOSTNAME="web"\r\nNAME="w\r"\r\nCPUS="2"\r\n',
    b'HOSTNAME="web"\rNAME="web"\r\rCPUS="2"',
    b'DESCRIPTION="caf\xe9 \xff\xfe"\nNAME="\xc3\xa9t\xc3\xa9"\n',
    b'\xef\xbb\xbfNAME="bom"\n',
    b"",
    b'DESCRIPTION="' + b"x" * 200_000 + b'"\n',
]


def test_texts_are_the_files_decoded_with_their_line_ends(tmp_path: Path) -> None:
    for ctid, data in enumerate(CONTENTS, start=101):
        (tmp_path / f"{ctid}.conf").write_bytes(data)
    for name in ("x.conf", "101.conf.bak", "102.conf~", "ve-basic.conf-sample", "1O1.conf"):
        (tmp_path / name).write_bytes(b'NAME="not a container"\n')
    expected = {ctid: data.decode("utf-8", "replace") for ctid, data in enumerate(CONTENTS, 101)}
    assert dict(local_config_texts(tmp_path)) == expected
    configs = read_configs(tmp_path)
    assert sorted(configs) == list(range(101, 101 + len(CONTENTS)))
    # vzctl: only "\n" ends a line, "\r" is a blank cut from either end of one
    assert configs[102] == {"HOSTNAME": "web", "NAME": "w\r", "CPUS": "2"}
    assert configs[103] == {"HOSTNAME": 'web"\rNAME="web"\r\rCPUS="2'}


def test_saved_values_are_the_parsers(tmp_path: Path) -> None:
    for ctid, data in enumerate(CONTENTS, start=101):
        (tmp_path / f"{ctid}.conf").write_bytes(data)
    expected = {
        ctid: saved_settings(parse_conf(text), ctid) for ctid, text in local_config_texts(tmp_path)
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
        next(local_config_texts(tmp_path))  # abandoned part way: closed when collected
    assert set(os.listdir("/proc/self/fd")) <= before
