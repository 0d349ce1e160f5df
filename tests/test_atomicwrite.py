"""The one atomic-write helper: the new file or the old one, never half of either."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.atomicwrite import replace_file


@pytest.mark.parametrize("durable", [False, True])
def test_the_file_is_replaced_and_no_temp_file_is_left(tmp_path: Path, durable: bool) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(b"old")
    replace_file(path, b"new", durable=durable)
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]


def test_a_named_temp_file_is_used_and_renamed(tmp_path: Path) -> None:
    path = tmp_path / "101.conf"
    replace_file(str(path), b'A="1"\n', tmp=f"{path}.tmp")
    assert path.read_bytes() == b'A="1"\n'
    assert not (tmp_path / "101.conf.tmp").exists()


def test_a_failed_rename_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "taken"
    (path / "inside").mkdir(parents=True)  # a non-empty directory cannot be replaced by a file
    with pytest.raises(OSError):
        replace_file(path, b"new", durable=True)
    assert path.is_dir() and os.listdir(tmp_path) == ["taken"]


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        replace_file(tmp_path / "no" / "f", b"x")
