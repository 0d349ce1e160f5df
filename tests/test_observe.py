"""Observing: strict vzlist JSON parsing (it does not escape strings), config parsing, fallback."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from reconciler.node.access import LocalAccess
from reconciler.node.observe import FALLBACK_ARGV, VZLIST_ARGV, listed_values, observe
from reconciler.node.process import Completed
from reconciler.node.vzconf import parse_conf

RECORDED = Path(__file__).parent / "data" / "openvz-recorded"


def test_recorded_quote_in_description_is_invalid_json() -> None:
    text = (RECORDED / "native_3ct_vzlist_S_j_o.out").read_text()
    with pytest.raises(ValueError):
        listed_values(text)


def test_forged_duplicate_key_is_rejected() -> None:
    forged = '[{"ctid": 101, "description": "x", "status": "running", "status": "stopped"}]'
    with pytest.raises(ValueError, match="duplicate key 'status'"):
        listed_values(forged)


@pytest.mark.parametrize("text", ["{}", "[1]", '[{"ctid": "101"}]', '[{"ctid": true}]'])
def test_unexpected_shapes_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        listed_values(text)


def test_recorded_empty_listing_parses() -> None:
    assert listed_values((RECORDED / "fake_0ct_vzlist_a_j.out").read_text()) == {}


def test_conf_parser_follows_vzctl() -> None:
    conf = parse_conf('# c\nA="1"\nA="2"\nD="web "quoted""\nB=plain\nE="a\\\\b"\n\n  C = "x y"  \n')
    # `  C = "x y"` sets the key `C ` (vzctl does not strip around `=`), which no one reads
    assert conf == {"A": "1", "D": 'web "quoted"', "B": "plain", "E": "a\\b", "C ": ' "x y"'}


class Scripted:
    def __init__(self, answers: dict[tuple[str, ...], str]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str], *, timeout: float = 0) -> Completed:
        self.calls.append(tuple(argv))
        return Completed(tuple(argv), 0, self.answers[tuple(argv)], "", 0.0)


def test_invalid_json_falls_back_to_the_table_and_marks_running_values_unknown(
    tmp_path: Path,
) -> None:
    (tmp_path / "101.conf").write_text('HOSTNAME="web"\nNAME="web"\nCPUS="2"\n')
    (tmp_path / "102.conf").write_text("")
    broken = (RECORDED / "native_3ct_vzlist_S_j_o.out").read_text()
    runner = Scripted(
        {VZLIST_ARGV: broken, FALLBACK_ARGV: "       101 running\n       102 stopped\n"}
    )
    state = observe(LocalAccess(runner, tmp_path))
    assert runner.calls == [VZLIST_ARGV, FALLBACK_ARGV]
    assert not state.running_known and "unusable JSON" in state.warnings[0]
    assert state.containers[101].status == "running" and state.containers[101].saved["cpus"] == 2
    assert state.containers[101].running is None
    assert state.containers[102].saved == {}
