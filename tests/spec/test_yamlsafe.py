"""The safe YAML reader: its typing table, positions, refusals, and that it never crashes.

tests/spec/test_yamlsafe_parsers.py runs this file again without libyaml: every test here must
hold over either parser.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import SpecError
from reconciler.spec.yamlsafe import MAX_DOCUMENTS, load_yaml, read_yaml
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


def test_spans_are_character_offsets_of_values_and_keys() -> None:
    text = "é: x\nspec:\n  ip:\n    - a   # c\n    - bb\n\n  f: {n: 1}  # d\n  s: 'q'\n"
    (doc,) = load_yaml("f.yaml", text.encode())
    shown = {loc: text[slice(*doc.span(loc) or (0, 0))] for loc in doc.positions}
    assert shown[("é",)] == "x"
    assert shown[("spec", "ip")] == "- a   # c\n    - bb"  # a block one ends with its last item
    assert shown[("spec", "f")] == "{n: 1}"
    assert shown[("spec", "s")] == "'q'"
    assert text[slice(*doc.span(("spec", "ip"), key=True) or (0, 0))] == "ip"
    assert doc.span(("spec", "missing")) is None


def test_a_byte_order_mark_is_not_counted_in_spans() -> None:
    (doc,) = load_yaml("f.yaml", b"\xef\xbb\xbfa: xy\n")
    assert doc.span(("a",)) == (3, 5)


REFUSED = [
    ("a: &x 1\n", 1, 4, "a", "anchor &x is not allowed"),
    ("a: 1\nb: *x\n", 2, 4, "b", "alias *x is not allowed"),
    ("a: !!int 1\n", 1, 4, "a", "tag tag:yaml.org,2002:int is not allowed"),
    ("a: ! 1\n", 1, 4, "a", "tag ! is not allowed"),
    ("a: !t [1]\n", 1, 4, "a", "tag !t is not allowed"),
    ("<<: {a: 1}\n", 1, 1, "", "merge key << is not allowed"),
    ("a: 1\nb: 2\na: 3\n", 3, 1, "a", "duplicate key 'a'; it is already set on line 1"),
    ("true: 1\n", 1, 1, "", "key true is not a string"),
    ("1: 1\n", 1, 1, "", "key 1 is not a string"),
    ("~: 1\n", 1, 1, "", "key null is not a string"),
    ("[a]: 1\n", 1, 1, "", "a key must be a plain string"),
    ("a:\n  b: " + "9" * 31 + "\n", 2, 6, "a.b", "a number with 31 digits is too large"),
    ("a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n", 1, 3 + MAX_DEPTH, "a" + "[0]" * (MAX_DEPTH - 1), "nesting deeper than"),
    ("a: 1\n" + "---\n" * MAX_DOCUMENTS + "---\n", MAX_DOCUMENTS + 1, 1, "", f"more than {MAX_DOCUMENTS} documents"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "col", "field", "message"), REFUSED)
def test_what_is_refused_is_refused_where_it_is_written(
    text: str, line: int, col: int, field: str, message: str
) -> None:
    result = read_yaml("f.yaml", text.encode())
    assert result.documents == [] or message.startswith("more than")
    (problem,) = result.problems
    assert problem.message.startswith(message), problem
    assert (problem.line, problem.col, problem.field) == (line, col, field)


def test_every_problem_of_a_document_is_reported() -> None:
    result = read_yaml("f.yaml", b"a: &x 1\nb: *x\n<<: {}\n")
    assert [(p.line, p.message.split()[0]) for p in result.problems] == [
        (1, "anchor"),
        (2, "alias"),
        (3, "merge"),
    ]


@pytest.mark.parametrize(
    "quoted", ["'true': 1\n", "'~': 1\n", "'1': x\n", "a: '" + "9" * 40 + "'\n"]
)
def test_a_quoted_key_or_number_is_a_string(quoted: str) -> None:
    (doc,) = load_yaml("f.yaml", quoted.encode())
    assert isinstance(doc.value, dict)
    ((key, value),) = doc.value.items()
    assert isinstance(key, str)
    assert value == 1 or isinstance(value, str)


@pytest.mark.parametrize(
    "text", ['a: "\\ud800"\n', 'a: ["x\\udfffy"]\n', '"\\ud83d": 1\n', 'a: "\\U00110000"\n']
)
def test_an_escape_that_is_not_a_character_is_a_problem_not_a_crash(text: str) -> None:
    result = read_yaml("f.yaml", text.encode())
    assert result.documents == []
    (problem,) = result.problems
    assert "escape" in problem.message
    assert problem.line == 1


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
