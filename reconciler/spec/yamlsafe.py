"""A safe, position-keeping YAML reader for desired-state files (pure; called by `spec.load`).

PyYAML's parser yields events; this module builds plain values from them itself instead of
calling `yaml.load`, so no constructor, tag or alias ever runs. Plain scalars are typed by a
small fixed table (decimal integers, true/false, null); everything else stays a string, so
`no`, `on`, `0101`, `0x1F` or `1e3` never turn into booleans or numbers behind the user's back.
Anchors, aliases, tags, merge keys, duplicate and non-string keys are refused with their line
and column. Where libyaml is there, a file that cannot hold any of those is composed by it
instead and its values built from the nodes (`yamlcomposed`); the event reader stays the reference.
Every value's position can be found, so that later errors can point at it: kept for a file with a
problem, read again from the file's bytes for one without (see `_Where`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol, cast

import yaml

from reconciler.errors import Problem, SpecError
from reconciler.spec.yamlcomposed import composed
from reconciler.spec.yamltext import MAX_BYTES as MAX_BYTES
from reconciler.spec.yamltext import decode
from reconciler.spec.yamlvalues import (
    INT,
    LIBYAML_ONLY,
    MAX_DEPTH,
    MAX_INT_DIGITS,
    Loc,
    Position,
    Unsure,
    Value,
    dotted,
    plain,
)

MAX_DOCUMENTS = 100

# libyaml's parser, when PyYAML was built with it: the same events, about 7x faster. The pure-Python
# parser stays the reference: a file with any problem is read again with it (libyaml words its
# errors differently), and so is a file with what libyaml is known to read differently: tabs (it
# accepts some PyYAML refuses), `?` (PyYAML ends a plain scalar there inside [] and {}), a byte
# order mark after the start, an empty value (it places some of them elsewhere), or what only
# libyaml accepts (`yamlvalues.LIBYAML_ONLY`).
# tests/spec/test_yamlsafe_fast.py holds both parsers to the same output.
_FAST_PARSER: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)
_FAST_PARSER_DIFFERS = re.compile("[\t?\ufeff]")
# A UTF-16 surrogate, from an escape such as "\ud800": PyYAML builds a string that cannot be
# encoded, libyaml refuses it; so is it refused here.
_SURROGATE = re.compile("[\ud800-\udfff]")
# Faster still, `yamlcomposed` builds the values of a file libyaml composed into nodes, where that
# cannot differ from this reader (tests/spec/test_yamlsafe_composed.py holds it to this one).


@dataclass
class _Where:
    """Where a document's parts are: kept, or read again from its file when first asked for.

    Keeping every value's position of every document until the cross-document checks finish took
    most of the memory of loading a large repository (~100 MiB at 10,000 containers); a file
    that reads without a problem drops them and reads itself again only to place a later problem.
    """

    parser: type[yaml.SafeLoader]  # the one that read the file, and reads it again
    positions: dict[Loc, Position] | None
    key_positions: dict[Loc, Position] | None
    source: tuple[str, bytes, int] | None = None  # path, the file's bytes, index of the document

    def load(self) -> tuple[dict[Loc, Position], dict[Loc, Position]]:
        if self.positions is None or self.key_positions is None:
            assert self.source is not None
            path, data, index = self.source
            text, _ = decode(path, data)
            where = _Reader(path, text, self.parser).read().documents[index].where
            self.positions, self.key_positions = where.load()
        return self.positions, self.key_positions


@dataclass(frozen=True, eq=False)
class YamlDocument:
    """One non-empty document: its value, where each part of it is, and where it starts."""

    value: Value
    line: int
    where: _Where = field(repr=False)

    @property
    def positions(self) -> dict[Loc, Position]:
        return self.where.load()[0]

    @property
    def key_positions(self) -> dict[Loc, Position]:
        return self.where.load()[1]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, YamlDocument):
            return NotImplemented
        return (self.value, self.line, self.where.load()) == (
            other.value,
            other.line,
            other.where.load(),
        )

    __hash__ = None  # type: ignore[assignment]  # as the dataclass with dict fields was

    def without_value(self) -> YamlDocument:
        """The same document's positions, for what outlives its value (validated, it is a model)."""
        return YamlDocument(None, self.line, self.where)

    def position(self, loc: Loc, *, key: bool = False) -> Position:
        """Line and column of `loc` (its key when `key`), else of its nearest placed parent."""
        positions, key_positions = self.where.load()
        for end in range(len(loc), -1, -1):
            part = loc[:end]
            if key and part in key_positions:
                return key_positions[part]
            if part in positions:
                return positions[part]
        return (self.line, 1)


@dataclass(frozen=True)
class YamlFile:
    """A file's readable documents and its problems; a document with a problem is left out."""

    documents: list[YamlDocument]
    problems: list[Problem]


def load_yaml(path: str, data: bytes) -> list[YamlDocument]:
    """The documents of one file, or `SpecError` with every problem the reader found."""
    result = read_yaml(path, data)
    if result.problems:
        raise SpecError(result.problems)
    return result.documents


def read_yaml(path: str, data: bytes) -> YamlFile:
    """Read one file's bytes; never raises for bad input, it returns the problems instead."""
    text, problem = decode(path, data)
    if problem is not None:
        return YamlFile([], [problem])
    documents = composed(text) if _FAST_PARSER is not None else None
    if documents is not None:
        assert _FAST_PARSER is not None  # the composed path needs libyaml
        return _positions_dropped(path, data, _FAST_PARSER, documents)
    result = _read(path, text)
    if result.problems:
        return result
    # One reader read every document of the file; with none, the parser does not matter.
    parser = result.documents[0].where.parser if result.documents else yaml.SafeLoader
    return _positions_dropped(path, data, parser, [(d.value, d.line) for d in result.documents])


def _positions_dropped(
    path: str, data: bytes, parser: type[yaml.SafeLoader], documents: list[tuple[Value, int]]
) -> YamlFile:
    """Documents that read their positions again from `data` with `parser` when asked for."""
    return YamlFile(
        [
            YamlDocument(value, line, _Where(parser, None, None, (path, data, index)))
            for index, (value, line) in enumerate(documents)
        ],
        [],
    )


def _read(path: str, text: str) -> YamlFile:
    """`read_yaml` with every position kept, from the event reader."""
    if (
        _FAST_PARSER is not None
        and not _FAST_PARSER_DIFFERS.search(text)
        and not LIBYAML_ONLY.search(text)
    ):
        try:
            result = _Reader(path, text, _FAST_PARSER).read()
        except Unsure:
            result = None
        if result is not None and not result.problems:
            return result
    return _Reader(path, text, yaml.SafeLoader).read()


def _pos(event: yaml.Event) -> Position:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)


class _Events(Protocol):
    """The part of PyYAML's loader used here: its parser's event stream (typed)."""

    def check_event(self, *choices: type[yaml.Event]) -> bool: ...
    def peek_event(self) -> yaml.Event: ...
    def get_event(self) -> yaml.Event: ...
    def dispose(self) -> None: ...


class _Fatal(Exception):
    """Stops reading a file: a syntax error or too many documents."""


@dataclass
class _Doc:
    positions: dict[Loc, Position] = field(default_factory=dict)
    key_positions: dict[Loc, Position] = field(default_factory=dict)
    failed: bool = False


class _Reader:
    """Builds values from PyYAML's events; one instance per file."""

    def __init__(self, path: str, text: str, parser: type[yaml.SafeLoader]) -> None:
        self.path = path
        self.parser = cast(_Events, parser(text))
        self.parser_type = parser
        self.fast = parser is not yaml.SafeLoader
        self.problems: list[Problem] = []
        self.doc = _Doc()

    def read(self) -> YamlFile:
        documents: list[YamlDocument] = []
        try:
            self._next(yaml.StreamStartEvent)
            for count in range(1, MAX_DOCUMENTS + 2):
                if self.parser.check_event(yaml.StreamEndEvent):
                    break
                document = self._document(count)
                if document is not None:
                    documents.append(document)
        except _Fatal:
            pass
        except yaml.MarkedYAMLError as exc:
            self._syntax(exc)
        except ValueError:  # PyYAML's chr() of an escape past U+10FFFF; libyaml refuses it
            self._bad_escape(self._mark())
        except yaml.YAMLError as exc:  # pragma: no cover - the reader's checks run first
            self.problems.append(Problem(self.path, 0, 0, "", f"YAML error: {exc}"))
        finally:
            self.parser.dispose()
        return YamlFile(documents, self.problems)

    def _next(self, kind: type[yaml.Event]) -> yaml.Event:
        event = self.parser.get_event()
        assert isinstance(event, kind), event  # the parser only emits well-formed streams
        return event

    def _problem(self, where: Position, loc: Loc, message: str) -> None:
        self.problems.append(Problem(self.path, where[0], where[1], dotted(loc), message))
        self.doc.failed = True

    def _syntax(self, exc: yaml.MarkedYAMLError) -> None:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        context = f" ({exc.context})" if exc.context else ""
        self.problems.append(
            Problem(self.path, line, col, "", f"YAML syntax error: {exc.problem}{context}")
        )

    def _mark(self) -> Position:
        mark = getattr(self.parser, "get_mark", lambda: None)()
        return (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)

    def _bad_escape(self, where: Position, loc: Loc = ()) -> None:
        self.problems.append(
            Problem(self.path, where[0], where[1], dotted(loc),
                    "YAML syntax error: a \\u or \\U escape is not a Unicode character (a surrogate or past U+10FFFF)")
        )  # fmt: skip
        self.doc.failed = True

    def _document(self, count: int) -> YamlDocument | None:
        start = self._next(yaml.DocumentStartEvent)
        if count > MAX_DOCUMENTS:
            self._problem(_pos(start), (), f"more than {MAX_DOCUMENTS} documents in one file")
            raise _Fatal
        self.doc = _Doc()
        value = self._node((), 0)
        self._next(yaml.DocumentEndEvent)
        if self.doc.failed or value is None:
            return None
        where = _Where(self.parser_type, self.doc.positions, self.doc.key_positions)
        return YamlDocument(value, _pos(start)[0], where)

    def _node(self, loc: Loc, depth: int) -> Value:
        event = self.parser.get_event()
        where = _pos(event)
        self.doc.positions[loc] = where
        if isinstance(event, yaml.AliasEvent):
            self._problem(where, loc, f"alias *{event.anchor} is not allowed; write the value out")
            return None
        assert isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent), event
        self._check_node(event, where, loc)
        if isinstance(event, yaml.ScalarEvent):
            return self._scalar(event, where, loc)
        if depth >= MAX_DEPTH:
            self._problem(where, loc, f"nesting deeper than {MAX_DEPTH} levels")
            self._skip()
            return None
        if isinstance(event, yaml.SequenceStartEvent):
            return self._sequence(loc, depth)
        return self._mapping(loc, depth)

    def _check_node(self, event: yaml.NodeEvent, where: Position, loc: Loc) -> None:
        if event.anchor is not None:
            self._problem(
                where, loc, f"anchor &{event.anchor} is not allowed; repeat the value instead"
            )
        tag = getattr(event, "tag", None)
        if tag is not None:
            self._problem(where, loc, f"tag {tag} is not allowed; write a plain value")

    def _scalar(self, event: yaml.ScalarEvent, where: Position, loc: Loc) -> Value:
        text: str = event.value
        if event.style == '"' and _SURROGATE.search(text):  # only an escape makes one
            self._bad_escape(where, loc)
            return text
        if event.style:  # quoted or block; plain is None (PyYAML) or "" (libyaml)
            return text
        if self.fast and not text:
            raise Unsure
        if INT.fullmatch(text) and len(text.lstrip("+-")) > MAX_INT_DIGITS:
            self._problem(where, loc, f"a number with {len(text)} digits is too large")
            return text
        return plain(text)

    def _skip(self) -> None:
        """Consume the rest of a collection whose start event was just read."""
        depth = 1
        while depth:
            event = self.parser.get_event()
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1

    def _sequence(self, loc: Loc, depth: int) -> list[Value]:
        items: list[Value] = []
        while not self.parser.check_event(yaml.SequenceEndEvent):
            items.append(self._node((*loc, len(items)), depth + 1))
        self._next(yaml.SequenceEndEvent)
        return items

    def _mapping(self, loc: Loc, depth: int) -> dict[str, Value]:
        items: dict[str, Value] = {}
        while not self.parser.check_event(yaml.MappingEndEvent):
            key = self._key(loc, depth, items)
            if key is None:
                self._discard((*loc, "?"), depth + 1)
                continue
            items[key] = self._node((*loc, key), depth + 1)
        self._next(yaml.MappingEndEvent)
        return items

    def _discard(self, loc: Loc, depth: int) -> None:
        """Read a value that is not kept, still reporting the problems inside it."""
        positions, key_positions = dict(self.doc.positions), dict(self.doc.key_positions)
        self._node(loc, depth)
        self.doc.positions, self.doc.key_positions = positions, key_positions

    def _key(self, loc: Loc, depth: int, seen: dict[str, Value]) -> str | None:
        """The next key as a string, or None (and a problem) when it cannot be one."""
        event = self.parser.peek_event()
        where = _pos(event)
        if not isinstance(event, yaml.ScalarEvent):
            self._problem(where, loc, "a key must be a plain string, not a list, mapping or alias")
            self._discard((*loc, "?"), depth + 1)
            return None
        self.parser.get_event()
        self._check_node(event, where, loc)
        key = self._scalar(event, where, loc)
        if not isinstance(key, str):
            shown = "null" if key is None else str(key).lower()
            self._problem(where, loc, f"key {shown} is not a string; quote it or use a field name")
            return None
        return self._named_key(key, where, loc, seen)

    def _named_key(self, key: str, where: Position, loc: Loc, seen: dict[str, Value]) -> str | None:
        if key == "<<":
            self._problem(where, loc, "merge key << is not allowed; write the fields out")
            return None
        if key in seen:
            first = self.doc.key_positions[(*loc, key)][0]
            self._problem(
                where, (*loc, key), f"duplicate key {key!r}; it is already set on line {first}"
            )
            return None
        self.doc.key_positions[(*loc, key)] = where
        return key
