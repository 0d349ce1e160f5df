"""libyaml's composed path gives exactly what the event reader gives: values, types, lines, positions.

`yamlcomposed.composed` reads a file from libyaml's nodes and gives up (None) where it is not sure;
the pure-Python event reader is the reference. Generated YAML is hostile on purpose: scalars that
YAML 1.1 would type, anchors, tags, merge keys, duplicate and non-string keys, multi-documents,
deep nesting, comments, and block and flow styles of every collection.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.spec import yamlcomposed
from reconciler.spec.yamlsafe import YamlFile, read_yaml
from reconciler.spec.yamlvalues import MAX_DEPTH
from tests.spec.test_yamlsafe_fast import _pure

pytestmark = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml")

FLEET = """\
# yaml-language-server: $schema=../schemas/container.schema.json
apiVersion: vzgitops/v1
kind: Container
metadata:
  name: ct1849
spec:
  ctid: 1849
  ip: [10.1.4.100]
  nameserver:
    - 10.0.0.53
  onboot: true
  ram: 512M
  description: "Benchmark container 1849"
"""

SCALARS = ["0101", "0", "-0", "+1", "+0", "-5", "101", "1_000", "1e3", "0x1F", "0o17", "1.5",
           ".inf", "-.Inf", ".NaN", "12:30", "1:20:30", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
           "yes", "no", "Yes", "NO", "on", "off", "y", "n", "true", "True", "TRUE", "tRuE", "false",
           "FALSE", "~", "null", "Null", "NULL", "nUlL", "", "'q'", '"d"', "'it''s'", '"a\\tb"',
           "''", '""', "'~'", '"null"', "'0101'", "x y", "a#b", "a #c", "R and D", "é", "✓",
           "12345678901234567890123456789012", "-123456789012345678901234567890", "<<", "-x",
           "&a x", "*a", "!t x", "!!str 1", "!!int 3", "! x", "&a [1]", "[]", "{}", "[a, b,]",
           "{a: 1}", "|\n  lit\n", ">\n  folded\n  text\n", "x\n  continued", "%x", "@x", "`x",
           "? x", "a: b", "- x", "x # trailing", "http://e.x/a", "10.0.0.1/24", "::1"]  # fmt: skip
KEYS = ["a", "b", "name", "spec", "ctid", "true", "True", "null", "~", "1", "-1", "0101", "<<",
        "'<<'", "'q'", '"a"', "'true'", "x y", "no", "on", "''", "[a]", "{a: 1}", "&k a", "*k",
        "!t a", "? a", "a", "b"]  # fmt: skip
INDENTS = [1, 2, 4]


def _block(value: object, indent: int, step: int) -> list[str]:
    """`value` as block lines at `indent`; scalars and flow text are written as they are."""
    pad = " " * indent
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            key = key.split("#")[0]
            if isinstance(item, str):
                lines.append(f"{pad}{key}: {item}".rstrip())
            else:
                lines += [f"{pad}{key}:", *_block(item, indent + step, step)]
        return lines
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, str):
                lines.append(f"{pad}- {item}".rstrip())
            else:
                lines += [f"{pad}-", *_block(item, indent + step, step)]
        return lines
    return [f"{pad}{value}"]


def _flow(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k.split('#')[0]}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    return str(value).replace("\n", " ")


def _trees(leaves: st.SearchStrategy[str]) -> st.SearchStrategy[object]:
    # A key is made unique by a "#n" suffix, which the writers cut off again: duplicates stay.
    keys = st.tuples(st.sampled_from(KEYS), st.integers(0, 3)).map(lambda k: f"{k[0]}#{k[1]}")
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(keys, children, max_size=5),
            st.builds(_flow, st.lists(children, max_size=3)),
            st.builds(_flow, st.dictionaries(keys, children, max_size=3)),
        ),
        max_leaves=12,
    )


def _document(tree: object, step: int, comment: bool) -> str:
    lines = _block(tree, 0, step)
    if comment:
        lines = ["# a comment", *lines[:1], "  # an indented comment", *lines[1:]]
    return "\n".join(lines) + "\n"


DOCUMENTS = st.builds(
    _document,
    st.one_of(_trees(st.sampled_from(SCALARS)), st.sampled_from(SCALARS)),
    st.sampled_from(INDENTS),
    st.booleans(),
)
FILES = st.builds(
    lambda docs, explicit: ("---\n" if explicit else "").join(docs),
    st.lists(DOCUMENTS, min_size=1, max_size=3),
    st.booleans(),
)


def _seen(result: YamlFile) -> object:
    """Everything a reader gives, with types: `1` and `True` are equal in Python, not here."""
    documents = [
        (repr(doc.value), doc.line, doc.positions, doc.key_positions) for doc in result.documents
    ]
    return documents, [problem.as_dict() for problem in result.problems]


def _same(text: str) -> None:
    data = text.encode("utf-8", errors="surrogatepass")
    expected = _pure("f.yaml", data)
    assert _seen(read_yaml("f.yaml", data)) == _seen(expected)
    composed = yamlcomposed.composed(data.decode("utf-8", errors="replace"))
    if composed is not None:
        assert not expected.problems
        assert [(repr(v), line) for v, line in composed] == [
            (repr(d.value), d.line) for d in expected.documents
        ]


def test_a_container_file_is_composed() -> None:
    composed = yamlcomposed.composed(FLEET)
    assert composed is not None
    ((value, line),) = composed
    assert line == 2
    assert isinstance(value, dict)
    assert value["spec"] == {
        "ctid": 1849,
        "ip": ["10.1.4.100"],
        "nameserver": ["10.0.0.53"],
        "onboot": True,
        "ram": "512M",
        "description": "Benchmark container 1849",
    }
    _same(FLEET)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\n",
        "a: *x\n",
        "a: !!int 1\n",
        "a: ! 1\n",
        "<<: {a: 1}\n",
        "'<<': 1\n",
        "a: 1\na: 2\n",
        "true: 1\n",
        "1: 1\n",
        "[a]: 1\n",
        "a:\n",
        "a: ''\nb:\n",
        "--- a: 1\n",
        "a: 1\n---\nb: 2\n",
        "%YAML 1.1\n---\na: 1\n",
        "a: 1\r---\r\nb: 1\n",
        "a: 123456789012345678901234567890123\n",
        "a: why?\n",
        "a: 1\t\n",
        "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n",
        "- " * 1001 + "x\n",
        "a: [1\n",
    ],
)
def test_what_the_composed_path_is_not_sure_about_goes_to_the_event_reader(text: str) -> None:
    assert yamlcomposed.composed(text) is None
    _same(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# only a comment\n",
        "~\n",
        "just text\n",
        "a: 1\n...\n",
        "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n",
        "- - - x\n",
        "a: 'q'\n'b': \"d\"\nc: |\n  lit\n",
        "  a: 1\n  b: {c: [x, 'y'], d: ~}\n",
        "a: 1\r\nb: [x,\r\n  y]\r\n",
        "a: x\u2028b: y\n",
        "a: x\x85b: y\n",
    ],
)
def test_what_the_composed_path_reads_is_what_the_event_reader_reads(text: str) -> None:
    assert yamlcomposed.composed(text) is not None
    _same(text)


@settings(max_examples=1000, deadline=None)
@given(FILES)
def test_generated_yaml_reads_the_same_composed_or_not(text: str) -> None:
    _same(text)


ROOT = Path(__file__).resolve().parents[2]
PROJECT = sorted(
    path
    for folder in ("examples", "tests/spec/corpus", "tests/golden")
    for pattern in ("*.yaml", "*.yml")
    for path in (ROOT / folder).rglob(pattern)
)


def test_every_yaml_file_of_the_project_reads_the_same_and_most_are_composed() -> None:
    composed = 0
    for path in PROJECT:
        text = path.read_bytes().decode("utf-8", errors="replace")
        _same(text)
        composed += yamlcomposed.composed(text) is not None
    assert composed > len(PROJECT) // 3
