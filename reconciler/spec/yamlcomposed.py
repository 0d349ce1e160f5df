"""The fast path of `yamlsafe`: a file composed into nodes by libyaml, values built from them (pure).

libyaml composes the whole file into nodes and only the values are built here
(`composed`, about 2x faster than building them from its events). Nodes do not show all that
this reader refuses, so that path takes only a text it cannot be wrong about: nothing the fast
parser is not trusted with (it reads the positions again when a later problem asks for them),
nothing only libyaml accepts (`LIBYAML_ONLY`), no `&`, `*` or `!` (no anchor, alias or tag can be written without one), no `---` or `%` at a
line's start (a node does not say where its document started; the one implicit document starts
at its root), and few enough `[`, `{`, `-`, `:` (each level of nesting needs one; libyaml's
composer recurses in C, unbounded). Whatever else the event reader would refuse or place
differently (an empty value, a duplicate, merge or non-string key, nesting or numbers too
large) makes it give up too, and the event reader reads the file.
tests/spec/test_yamlsafe_composed.py holds it to the reference's output.
"""

from __future__ import annotations

import re

import yaml

from reconciler.spec.yamlvalues import (
    INT,
    LIBYAML_ONLY,
    MAX_DEPTH,
    MAX_INT_DIGITS,
    TYPED_STARTS,
    Unsure,
    Value,
    plain,
)

_NOT_COMPOSED = "\t?\ufeff&*!"
_DOCUMENT_START = re.compile("(?:^|[\r\x85\u2028\u2029])(?:---|%)", re.MULTILINE)
_MAX_COMPOSED_INDICATORS = 1000


if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _Composer(CParser):
        """libyaml's composer, resolving no tags: the composed path meets only untagged nodes."""

        def resolve(self, kind: type[yaml.Node], value: str | None, implicit: object) -> str:
            return ""

        def descend_resolver(self, parent: yaml.Node | None, index: object) -> None:
            pass

        def ascend_resolver(self) -> None:
            pass


def composed(text: str) -> list[tuple[Value, int]] | None:
    """Each document's value and line, composed by libyaml; None when not sure (see above)."""
    if not yaml.__with_libyaml__ or not _composable(text):
        return None
    composer = _Composer(text)
    try:
        root = composer.get_single_node()
        if root is None:
            return []
        value = _composed_value(root, 0)
    except (yaml.YAMLError, Unsure):
        return None
    finally:
        composer.dispose()
    return [] if value is None else [(value, root.start_mark.line + 1)]


def _composable(text: str) -> bool:
    """Whether the composed path is sure to read `text` as the event reader would (see above)."""
    if any(char in text for char in _NOT_COMPOSED) or LIBYAML_ONLY.search(text):
        return False
    if ("---" in text or "%" in text) and _DOCUMENT_START.search(text):
        return False
    return sum(map(text.count, "[{-:")) <= _MAX_COMPOSED_INDICATORS


def _composed_value(node: yaml.Node, depth: int) -> Value:
    """`_Reader._node` over a composed node, raising `Unsure` where that would find a problem."""
    if isinstance(node, yaml.ScalarNode):
        return _composed_scalar(node)
    if depth >= MAX_DEPTH:
        raise Unsure
    if isinstance(node, yaml.SequenceNode):
        return [_composed_value(item, depth + 1) for item in node.value]
    return _composed_mapping(node.value, depth)


def _composed_mapping(pairs: list[tuple[yaml.Node, yaml.Node]], depth: int) -> dict[str, Value]:
    items: dict[str, Value] = {}
    for key_node, node in pairs:
        key = key_node.value
        if not isinstance(key_node, yaml.ScalarNode) or key in items or key == "<<":
            raise Unsure
        if not key_node.style and key[:1] in TYPED_STARTS and not isinstance(plain(key), str):
            raise Unsure
        if isinstance(node, yaml.ScalarNode):
            items[key] = _composed_scalar(node)
        else:
            items[key] = _composed_value(node, depth + 1)
    return items


def _composed_scalar(node: yaml.ScalarNode) -> Value:
    text: str = node.value
    if node.style:  # quoted or block; plain is ""
        return text
    if not text or (len(text) > MAX_INT_DIGITS and INT.fullmatch(text)):
        raise Unsure
    return plain(text)
