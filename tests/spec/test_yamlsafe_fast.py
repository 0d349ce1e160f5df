"""With libyaml, every file reads exactly as with the pure-Python parser: values, positions, problems.

The fast parser is tried first only where it is known to agree (see yamlsafe._FAST_PARSER), and
before it libyaml's composer where it cannot be wrong (tests/spec/test_yamlsafe_composed.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.spec import yamlsafe
from reconciler.spec.yamlsafe import YamlFile, read_yaml

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    path
    for folder in ("examples", "tests/spec/corpus", "tests/golden")
    for pattern in ("*.yaml", "*.yml")
    for path in (ROOT / folder).rglob(pattern)
)

pytestmark = pytest.mark.skipif(
    getattr(yaml, "CSafeLoader", None) is None, reason="PyYAML without libyaml"
)


def _pure(path: str, data: bytes) -> YamlFile:
    fast = yamlsafe._FAST_PARSER
    yamlsafe._FAST_PARSER = None
    try:
        return read_yaml(path, data)
    finally:
        yamlsafe._FAST_PARSER = fast


def _seen(result: YamlFile) -> tuple[list[yamlsafe.YamlDocument], list[dict[str, str | int]]]:
    return result.documents, [problem.as_dict() for problem in result.problems]


def _same(data: bytes, path: str = "f.yaml") -> None:
    assert _seen(read_yaml(path, data)) == _seen(_pure(path, data))


def test_the_fast_parser_is_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    assert yamlsafe._FAST_PARSER is not None
    seen: list[type] = []
    original = yamlsafe._Reader.__init__

    def spy(self: yamlsafe._Reader, path: str, text: str, parser: type[yaml.SafeLoader]) -> None:
        seen.append(parser)
        original(self, path, text, parser)

    monkeypatch.setattr(yamlsafe._Reader, "__init__", spy)
    fast, pure = yamlsafe._FAST_PARSER, yaml.SafeLoader
    expected = {b"a: 1\n": [], b"a: [1\n": [fast, pure], b"a:\n": [fast, pure],
                b"a: &x 1\n": [fast, pure], b"a: 1\n---\nb: 2\n": [fast],
                b"a: 1\t\n": [pure], b"a: why?\n": [pure]}  # fmt: skip
    for text, parsers in expected.items():
        seen.clear()
        read_yaml("f.yaml", text)
        assert seen == parsers, text


def test_every_yaml_file_of_the_project_reads_the_same() -> None:
    assert len(FILES) > 50
    for path in FILES:
        _same(path.read_bytes(), str(path.relative_to(ROOT)))


TEXT = """\
# comment ü
apiVersion: vzgitops/v1   # trailing
kind: "Container"
metadata: {name: 'wéb', labels: {a: "x: y", b: ''}}
spec:
  ctid: 0101
  ip: [10.0.0.1/24, "::1"]
  description: >
    folded ✓
    text
  nameserver:
  - 10.0.0.53
  -   "10.0.0.54"
  searchdomain: [a, b,
     c]
  onboot: no
  empty:
  tilde: ~
  big: 123456789012345678901234567890123
---
- just: a list
...
--- |
  literal
"""


def test_a_document_with_every_kind_of_scalar_reads_the_same() -> None:
    _same(TEXT.encode())


PIECES = ["a", "b", ": ", ":", " ", "  ", "\n", "- ", "[", "]", "{", "}", ", ", "'q'", '"d"',
          "# c", "é", "✓", "\u2028", "1", "0x1F", "yes", "~", "---\n", "...\n", "|\n  ", ">\n  ",
          "\t", "&x ", "*x", "!t ", "? ", "<<: "]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40))
def test_yaml_shaped_text_reads_the_same(parts: list[str]) -> None:
    _same("".join(parts).encode())


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_reads_the_same(text: str) -> None:
    _same(text.encode("utf-8", errors="surrogatepass"))


EDITS = [" ", "\n", "- ", "[", "]", "{", "}", ",", ": ", "'", '"', "#", "é", "\r\n", "\x85",
         "|", ">", "&a ", "*a", "!x ", "---\n", "%", "\\", "~", "0", "yes", "\n  ", "\t", "?"]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(FILES),
    st.lists(st.tuples(st.floats(0, 1), st.sampled_from(EDITS), st.integers(0, 3)), max_size=4),
)
def test_edited_project_files_read_the_same(
    path: Path, edits: list[tuple[float, str, int]]
) -> None:
    data = path.read_bytes()
    for where, insert, cut in edits:
        at = int(where * len(data))
        data = data[:at] + insert.encode() + data[at + cut :]
    _same(data)
