"""The safe YAML reader: its typing table, positions, refusals, and that it never crashes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import SpecError
from reconciler.spec.yamlsafe import load_yaml, read_yaml
from reconciler.spec.yamlvalues import MAX_DEPTH, Value


def _value(text: str) -> Value:
    documents = load_yaml("f.yaml", f"v: {text}\n".encode())
    assert len(documents) == 1
    value = documents[0].value
    assert isinstance(value, dict)
    return value["v"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("101", 101),
        ("0", 0),
        ("-5", -5),
        ("+7", 7),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("null", None),
        ("~", None),
        ("", None),
        ("no", "no"),
        ("yes", "yes"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("0101", "0101"),
        ("0x1F", "0x1F"),
        ("0o17", "0o17"),
        ("1_000", "1_000"),
        ("1e3", "1e3"),
        ("1.5", "1.5"),
        ("12:30", "12:30"),
        (".inf", ".inf"),
        (".NaN", ".NaN"),
        ("2001-12-14", "2001-12-14"),
        ("nUlL", "nUlL"),
        ('"101"', "101"),
        ("'true'", "true"),
        ('"null"', "null"),
        ("'~'", "~"),
        ("|\n  101\n", "101\n"),
    ],
)
def test_plain_scalars_follow_the_fixed_typing_table(text: str, expected: Value) -> None:
    value = _value(text)
    assert value == expected
    assert type(value) is type(expected)


def test_positions_are_one_based_and_cover_keys_and_items() -> None:
    (doc,) = load_yaml("f.yaml", b"# comment\nspec:\n  ip:\n    - 10.0.0.1\n    - 10.0.0.2\n")
    assert doc.line == 2
    assert doc.positions[("spec", "ip", 1)] == (5, 7)
    assert doc.key_positions[("spec", "ip")] == (3, 3)
    assert doc.position(("spec", "ip", 7)) == (4, 5)
    assert doc.position(("spec", "missing"), key=True) == (2, 1)


def test_empty_documents_are_skipped_and_lines_are_kept() -> None:
    docs = load_yaml("f.yaml", b"---\n---\n# nothing\n...\n---\na: 1\n---\n~\n")
    assert [(d.line, d.value) for d in docs] == [(5, {"a": 1})]


def test_a_utf8_bom_is_accepted() -> None:
    assert load_yaml("f.yaml", b"\xef\xbb\xbfa: 1\n")[0].value == {"a": 1}


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = MAX_DEPTH - 1
    text = "a: " + "[" * depth + "1" + "]" * depth + "\n"
    assert read_yaml("f.yaml", text.encode()).problems == []


def test_load_yaml_raises_every_problem_of_the_file() -> None:
    with pytest.raises(SpecError) as caught:
        load_yaml("f.yaml", b"a: &x 1\nb: *x\nc: !!int 3\n")
    assert [p.line for p in caught.value.problems] == [1, 2, 3]


def test_a_document_with_a_problem_is_left_out_but_the_others_are_kept() -> None:
    result = read_yaml("f.yaml", b"a: 1\n---\nb: &x 2\n---\nc: 3\n")
    assert [d.value for d in result.documents] == [{"a": 1}, {"c": 3}]
    assert len(result.problems) == 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_documents_or_problems_never_an_exception(text: str) -> None:
    result = read_yaml("f.yaml", text.encode("utf-8", errors="surrogatepass"))
    for problem in result.problems:
        assert problem.path == "f.yaml"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_give_documents_or_problems_never_an_exception(data: bytes) -> None:
    read_yaml("f.yaml", data)


NOISE = ["a", ":", " ", "\n", "-", "[", "]", "{", "}", "&x", "*x", "!t", "'", '"', "#", "?", "<<"]
NOISE += [",", "1", "---\n", "|", ">", "%YAML 1.1\n", "\t", "\\"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(NOISE),
        max_size=40,
    )
)
def test_yaml_shaped_noise_never_raises(parts: list[str]) -> None:
    read_yaml("f.yaml", "".join(parts).encode())
