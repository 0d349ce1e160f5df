"""One reader, one answer: whether libyaml is installed never changes what a file reads as.

Each tricky input is read three ways: with libyaml's fast paths (composed and event), with them
switched off in this process, and in a fresh interpreter where PyYAML cannot load libyaml at
all (as on a host without it). Values, lines, positions and problems must be identical.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.spec import yamlsafe
from reconciler.spec.yamlsafe import YamlFile, read_yaml

ROOT = Path(__file__).resolve().parents[2]

TRICKY = [
    # a comment right after a block scalar's header: libyaml reads it, PyYAML refuses it
    "a: |#\n  x\n",
    "a: >-# note\n  folded\n",
    "a: |2#\n   x\n",
    "- >+#\n  x\n",
    "|#\n",
    "a: | #\n  x\n",  # with the space both accept it
    # escapes that are not characters: libyaml refuses them, PyYAML builds them or crashes
    'a: "\\ud800"\n',
    'a: ["x\\udfffy"]\n',
    '"\\ud83d": 1\n',
    'a: "\\U00110000"\n',
    'a: "\\U0010FFFF \\u00e9 \\x41 \\/ \\N \\_ \\e"\n',
    # what libyaml is known to read differently: tabs, ?, a late byte order mark, empty values
    "a:\tb\n",
    "a: [x?y]\n",
    "? a\n: b\n",
    "a: 1\n\ufeff",
    "a:\nb:\n  c:\n",
    "a: [1, 2,]\n",
    "{a: b, c}\n",
    # line breaks, documents, directives
    "a: b\r\nc: d\r\n",
    "a: b\x85c: d\n",
    "a: b\u2028c: d\n",
    "%YAML 1.1\n---\na: 1\n",
    "a: 1\n...\n---\nb: 2\n",
    "--- |\n  x\n--- y\n",
    "a: 'x\n\n  y'\n",
    'a: "x\\\n  y"\n',
    "a: &x 1\nb: *x\n",
    "a: !t 1\n",
    "k" * 1030 + ": 1\n",
    "a: " + "9" * 40 + "\n",
    "[" * 40 + "]" * 40 + "\n",
]


def _seen(result: YamlFile) -> dict[str, Any]:
    """A JSON-able record of everything a read gives: values, lines, positions, problems."""
    return {
        "documents": [
            {
                "value": d.value,
                "line": d.line,
                "positions": sorted([list(k), list(v)] for k, v in d.positions.items()),
                "keys": sorted([list(k), list(v)] for k, v in d.key_positions.items()),
            }
            for d in result.documents
        ],
        "problems": [p.as_dict() for p in result.problems],
    }


def _pure(data: bytes) -> dict[str, Any]:
    fast = yamlsafe._FAST_PARSER
    yamlsafe._FAST_PARSER = None
    try:
        return _seen(read_yaml("f.yaml", data))
    finally:
        yamlsafe._FAST_PARSER = fast


_WITHOUT_LIBYAML = """
import json, sys
sys.modules["yaml._yaml"] = None  # PyYAML as installed without libyaml
import yaml
assert not yaml.__with_libyaml__ and not hasattr(yaml, "CSafeLoader")
from reconciler.spec.yamlsafe import read_yaml
from tests.spec.test_yamlsafe_one_answer import _seen
texts = json.load(sys.stdin)
print(json.dumps([_seen(read_yaml("f.yaml", t.encode("utf-8"))) for t in texts]))
"""


def _json(record: dict[str, Any]) -> Any:
    return json.loads(json.dumps(record, ensure_ascii=True))


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml")
@pytest.mark.parametrize("text", TRICKY)
def test_libyaml_on_and_off_give_the_same_answer(text: str) -> None:
    data = text.encode("utf-8")
    assert yamlsafe._FAST_PARSER is not None
    assert _seen(read_yaml("f.yaml", data)) == _pure(data)


def test_a_python_without_libyaml_gives_the_same_answers() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_LIBYAML],
        input=json.dumps(TRICKY),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    here = [_json(_seen(read_yaml("f.yaml", t.encode("utf-8")))) for t in TRICKY]
    assert json.loads(done.stdout) == here


@pytest.mark.parametrize("text", [t for t in TRICKY if "|#" in t or "-#" in t or "2#" in t])
def test_a_comment_glued_to_a_block_scalar_header_is_refused(text: str) -> None:
    problems = read_yaml("f.yaml", text.encode()).problems
    assert [p.message for p in problems] == [
        "YAML syntax error: expected chomping or indentation indicators, but found '#'"
        " (while scanning a block scalar)"
    ]


@pytest.mark.parametrize(
    "text", ['a: "\\ud800"\n', 'a: ["x\\udfffy"]\n', '"\\ud83d": 1\n', 'a: "\\U00110000"\n']
)
def test_an_escape_that_is_not_a_character_is_a_problem_not_a_crash(text: str) -> None:
    result = read_yaml("f.yaml", text.encode())
    assert result.documents == []
    assert len(result.problems) == 1
    assert "escape is not a Unicode character" in result.problems[0].message
    assert result.problems[0].line == 1
