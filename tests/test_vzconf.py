"""The whole-text config parser agrees with the line-by-line reference on any text."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.vzconf import parse_conf, parse_conf_lines

RECORDED = Path(__file__).parent / "data" / "openvz-recorded"
BLANKS = [" ", "\t", "\x1f", "\xa0", "\u3000", "\u2009"]
BREAKS = ["\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def both(text: str) -> dict[str, str]:
    """parse_conf's answer, after checking it equals the reference's, key order included."""
    fast, reference = parse_conf(text), parse_conf_lines(text)
    assert fast == reference
    assert list(fast) == list(reference)
    return fast


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('A="1"', {"A": "1"}),
        ('A="1"\nB="2"\nA="3"\n', {"A": "1", "B": "2"}),
        ('B="0"\nA="1"\nB="2"\nA="3"\nC="4"', {"B": "0", "A": "1", "C": "4"}),
        ('# A="1"\n  # B="2"\nC="3"', {"C": "3"}),
        ('  C = "x y"  \n', {"C": "x y"}),
        ('D="web "quoted""', {"D": 'web "quoted"'}),
        ('D="a" trailing "b" junk  ', {"D": 'a" trailing "b'}),
        ('D="unclosed  \n', {"D": "unclosed"}),
        ('D="  lead', {"D": "  lead"}),
        ('D=" "', {"D": " "}),
        ('D="', {"D": ""}),
        ('D=""', {"D": ""}),
        ("D=", {"D": ""}),
        ("D=   \t", {"D": ""}),
        ('D=plain "x"', {"D": 'plain "x"'}),
        ('E="a\\\\b"', {"E": "a\\b"}),
        ('E="a\\"b"', {"E": 'a"b'}),
        ('E="end\\"', {"E": "end\\"}),
        ("E=a\\", {"E": "a\\"}),
        ("1A=x\nA B=y\n=z\nA-B=w\nexport A=v", {}),
        ("_a9=1", {"_a9": "1"}),
        ('A="1"\r\nB="2"\r\n', {"A": "1", "B": "2"}),
        (
            'A="1"\rB="2"\x0bC="3"\x85D="4"\u2028E="5"',
            {k: str(i) for i, k in enumerate("ABCDE", 1)},
        ),
        ('\xa0A\u3000=\u2009"x"\xa0', {"A": "x"}),
        ('A=\xa0x\xa0"', {"A": 'x\xa0"'}),
        ("", {}),
    ],
)
def test_parse_conf_follows_vzctl(text: str, expected: dict[str, str]) -> None:
    assert both(text) == expected


@pytest.mark.parametrize("path", sorted(RECORDED.glob("*.conf")), ids=lambda p: p.name)
def test_recorded_configs_parse_alike(path: Path) -> None:
    assert both(path.read_text(encoding="utf-8"))


PIECES = st.sampled_from(
    ["A", "B", "_k1", "x", "1", "=", '"', "\\", "#", " ", "-", ":", "\n", "\n", *BLANKS, *BREAKS]
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(PIECES, max_size=40).map("".join))
def test_any_text_of_tricky_pieces(text: str) -> None:
    both(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text(text: str) -> None:
    both(text)


KEYS = st.sampled_from(["A", "B", "HOSTNAME", "_x", "9Z"])
BLANK = st.lists(st.sampled_from(BLANKS), max_size=2).map("".join)
VALUE = st.lists(st.sampled_from(['"', "\\", "a", " ", "#", "=", "\xa0", "é"]), max_size=8)


@st.composite
def config_line(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["assign", "assign", "comment", "blank"]))
    if kind == "comment":
        return draw(BLANK) + "#" + "".join(draw(VALUE))
    if kind == "blank":
        return draw(BLANK)
    parts = [draw(BLANK), draw(KEYS), draw(BLANK), "=", draw(BLANK), *draw(VALUE), draw(BLANK)]
    return "".join(parts)


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(config_line(), max_size=8),
    st.one_of(st.just("\n"), st.sampled_from(BREAKS)),
    st.booleans(),
)
def test_any_config_of_assignments(lines: list[str], brk: str, trailing: bool) -> None:
    both(brk.join(lines) + (brk if trailing else ""))
