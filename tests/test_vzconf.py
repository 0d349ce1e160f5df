"""The one config parser reads lines as vzctl 4.11 parse_line() does (REFERENCE §2.1).

The reconciler (`parse_conf`) and the simulator (`parse_text`, through `sim.ctconf`) share it,
so each case here holds for both.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.node.vzconf import NO_EQUALS, UNMATCHED_QUOTES, first_value, parse_conf, parse_text

RECORDED = Path(__file__).parent / "data" / "openvz-recorded"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('A="1"', {"A": "1"}),
        ('A="1"\nB="2"\nA="3"\n', {"A": "1", "B": "2"}),
        ('B="0"\nA="1"\nB="2"\nA="3"\nC="4"', {"B": "0", "A": "1", "C": "4"}),
        ('# A="1"\n  # B="2"\nC="3"', {"C": "3"}),
        # the key is what precedes `=`, blanks included: `A = 1` does not set A
        ("A = 1", {"A ": " 1"}),
        ('  C = "x y"  \n', {"C ": ' "x y"'}),
        ('\t C="x y" \t\n', {"C": "x y"}),
        ("C= 1 ", {"C": " 1"}),
        ('D="web "quoted""', {"D": 'web "quoted"'}),
        ('D="a" trailing "b" junk  ', {"D": 'a" trailing "b'}),
        ('D="a" # comment', {"D": "a"}),
        # an opening quote without a closing one: the line is skipped
        ('A="abc', {}),
        ('D="unclosed  \nE="1"', {"E": "1"}),
        ('D="', {}),
        ('D=""', {"D": ""}),
        ('D=" "', {"D": " "}),
        ("D=", {"D": ""}),
        ("D=   \t", {"D": ""}),
        ('D=plain "x"', {"D": 'plain "x"'}),
        ("D=a # not a comment", {"D": "a # not a comment"}),
        ("A=1=2", {"A": "1=2"}),
        ("=z", {"": "z"}),
        ("export A=v\nA-B=w", {"export A": "v", "A-B": "w"}),
        ('E="a\\\\b"', {"E": "a\\b"}),
        ('E="a\\"b"', {"E": 'a"b'}),
        ('E="end\\"', {"E": "end"}),
        ("E=a\\", {"E": "a"}),
        ('E=\\"x"', {"E": "x"}),
        ("\\#A=1", {}),
        ('A="x\\\nB="y"', {"B": "y"}),
        ('A="1"\r\nB="2"\r\n', {"A": "1", "B": "2"}),
        # only "\n" ends a line; "\r", "\v", "\f" are blanks, other Unicode breaks are text
        ('A="1"\x0bB="2"', {"A": '1"\x0bB="2'}),
        ('A="1"\x85B="2"', {"A": '1"\x85B="2'}),
        ('\xa0A="x"', {"\xa0A": "x"}),
        ("no equals sign\n\n  \n#", {}),
        ("", {}),
    ],
)
def test_parse_conf_follows_vzctl(text: str, expected: dict[str, str]) -> None:
    assert parse_conf(text) == expected
    entries, _ = parse_text(text)
    first: dict[str, str] = {}
    for entry in entries:
        first.setdefault(entry.key, entry.value)
    assert first == expected


def test_skipped_lines_are_reported_with_vzctls_reasons_and_lines() -> None:
    entries, problems = parse_text('# c\nA="1"\n\nno equals\n  B="open\nC=3\n')
    assert [(e.line, e.key, e.value) for e in entries] == [(2, "A", "1"), (6, "C", "3")]
    assert problems == [(4, NO_EQUALS), (5, UNMATCHED_QUOTES)]


def test_wanted_keys_only() -> None:
    entries, problems = parse_text('A="1"\nB="2"\nA="3"\nbad\n', frozenset({"A"}))
    assert [(e.line, e.value) for e in entries] == [(1, "1"), (3, "3")]
    assert problems == [(4, NO_EQUALS)]


@pytest.mark.parametrize("path", sorted(RECORDED.glob("*.conf")), ids=lambda p: p.name)
def test_recorded_configs_parse(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    conf = parse_conf(text)
    entries, problems = parse_text(text)
    assert problems == []
    assert conf and all(key.isidentifier() for key in conf)
    assert conf == {e.key: e.value for e in reversed(entries)}


PIECES = st.sampled_from(["A", "B", "=", '"', "\\", "#", " ", "\t", "\r", "x", "\n", "\n"])


@settings(max_examples=500, deadline=None)
@given(st.lists(PIECES, max_size=40).map("".join))
def test_every_line_is_an_entry_a_problem_or_skipped(text: str) -> None:
    """Each line that is neither blank nor a comment (after un-escaping) is read exactly once."""
    entries, problems = parse_text(text)
    lines = {e.line for e in entries} | {line for line, _ in problems}
    assert len(lines) == len(entries) + len(problems)
    unescaped = text.replace("\\\\", "\0").replace("\\", "").replace("\0", "\\")
    read = [
        n
        for n, line in enumerate(unescaped.split("\n"), 1)
        if line.strip(" \t\r\f\v") and not line.strip(" \t\r\f\v").startswith("#")
    ]
    assert sorted(lines) == read


@pytest.mark.parametrize(
    "text",
    [
        'VE_PRIVATE="/vz/private/$VEID"\n',
        '# VE_PRIVATE="/old"\nOLD_VE_PRIVATE="/x"\n  VE_PRIVATE = "/vz/p/$VEID"\nVE_PRIVATE="/b"',
        'NAME="VE_PRIVATE"\nVE_PRIVATE=/unquoted\n',
        'VE_PRIVATE="open\nVE_PRIVATE="/second"',
        'VE_\\PRIVATE="/escaped"',
        'X="\\\nVE_PRIVATE="/after an escaped newline"',
        'ONBOOT="yes"\n',
    ],
)
def test_one_value_is_read_as_the_whole_file_is(text: str) -> None:
    assert first_value(text, "VE_PRIVATE") == parse_conf(text).get("VE_PRIVATE")


@settings(max_examples=500, deadline=None)
@given(st.lists(PIECES, max_size=40).map("".join), st.sampled_from(["A", "AB", "B A"]))
def test_one_value_of_any_text(text: str, key: str) -> None:
    assert first_value(text, key) == parse_conf(text).get(key)
