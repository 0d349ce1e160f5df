"""The one YAML reader of desired-state files (pure; called by `spec.load`, and by `adopt_drift`
to find where a value is written before it edits the text).

PyYAML's parser yields events; this module builds plain values from them itself instead of
calling `yaml.load`, so no constructor, tag or alias ever runs. Plain scalars are typed by a
small fixed table (`yamlvalues.plain`: decimal integers, true/false, null); everything else stays
a string, so `no`, `on`, `0101`, `0x1F` or `1e3` never turn into booleans or numbers behind the
user's back. Anchors, aliases, tags, merge keys, duplicate and non-string keys are refused with
their line and column, and so is nesting past `MAX_DEPTH`, a file past `yamltext.MAX_BYTES` or
`MAX_DOCUMENTS`, and a number past `MAX_INT_DIGITS`.

The parser is libyaml's where PyYAML was built with it (its wheels are), else PyYAML's own: the
same events into the same builder, only the parser class differs. The two disagree on a few
texts only, which then read differently on a host without libyaml: libyaml also accepts a tab
after `: `, `?` inside a flow plain scalar, a byte order mark after the start and a comment
glued to a block scalar's header (`|#`); it refuses an escape that is a surrogate where PyYAML
builds one (refused here too); and it words its syntax errors its own way (the line and column
are the same).

A file is read once without keeping positions; where each value and key is (line and column, and
its span of character offsets for an edit) is read again from the file's bytes only when a later
error or an edit asks for it (`_Where`): keeping them for every document of a large repository
until the cross-document checks end took most of the memory of loading it.

Not libyaml's composer, though it is faster on small files: its nodes do not show an anchor that
no alias uses, and it recurses in C without a limit, so it could only read what a second reader
had vetted (the fast path this module once had, and the tests that held the two to one answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol, cast

import yaml
from yaml import AliasEvent, CollectionStartEvent, MappingEndEvent, ScalarEvent, SequenceEndEvent

from reconciler.errors import Problem, SpecError
from reconciler.spec.yamltext import decode
from reconciler.spec.yamlvalues import (
    INT,
    MAX_DEPTH,
    MAX_INT_DIGITS,
    Loc,
    Places,
    Position,
    Span,
    Value,
    dotted,
    plain,
)

MAX_DOCUMENTS = 100

# libyaml's parser when PyYAML has it (about 7x faster than PyYAML's), else PyYAML's own.
PARSER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# A UTF-16 surrogate, from an escape such as "\ud800": PyYAML builds a string that cannot be
# encoded (libyaml refuses it); it is refused here.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class _Where:
    """Where a document's parts are: read again from its file's bytes when first asked for."""

    path: str
    data: bytes
    index: int  # of the document among the file's documents
    places: Places | None = None

    def load(self) -> Places:
        if self.places is None:
            text, _ = decode(self.path, self.data)
            self.places = _Reader(self.path, text, keep=True).read()[0][self.index].places
        return self.places


@dataclass(frozen=True, eq=False)
class YamlDocument:
    """One non-empty document: its value, where each part of it is, and where it starts."""

    value: Value
    line: int
    where: _Where = field(repr=False)

    @property
    def positions(self) -> dict[Loc, Position]:
        return self.where.load().positions

    @property
    def key_positions(self) -> dict[Loc, Position]:
        return self.where.load().key_positions

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, YamlDocument):
            return NotImplemented
        mine, theirs = (self.value, self.line), (other.value, other.line)
        return mine == theirs and self.where.load() == other.where.load()

    __hash__ = None  # type: ignore[assignment]  # as the dataclass with dict fields was

    def without_value(self) -> YamlDocument:
        """The same document's positions, for what outlives its value (validated, it is a model)."""
        return YamlDocument(None, self.line, self.where)

    def position(self, loc: Loc, *, key: bool = False) -> Position:
        """Line and column of `loc` (its key when `key`), else of its nearest placed parent."""
        places = self.where.load()
        for end in range(len(loc), -1, -1):
            part = loc[:end]
            if key and part in places.key_positions:
                return places.key_positions[part]
            if part in places.positions:
                return places.positions[part]
        return (self.line, 1)

    def span(self, loc: Loc, *, key: bool = False) -> Span | None:
        """Where the text of the value at `loc` (its key when `key`) starts and ends."""
        places = self.where.load()
        return (places.key_spans if key else places.spans).get(loc)


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
    read, problems = _Reader(path, text, keep=False).read()
    documents = [
        YamlDocument(doc.value, doc.line, _Where(path, data, index))
        for index, doc in enumerate(read)
    ]
    return YamlFile(documents, problems)


def _pos(event: yaml.Event) -> Position:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)


class _Mark(Protocol):
    @property
    def index(self) -> int: ...


def _offset(mark: _Mark | None) -> int:
    return mark.index if mark is not None else 0


class _Events(Protocol):
    """The part of PyYAML's loader used here: its parser's event stream (typed)."""

    def get_event(self) -> yaml.Event: ...
    def dispose(self) -> None: ...


class _Fatal(Exception):
    """Stops reading a file: a syntax error or too many documents."""


@dataclass(frozen=True)
class _Read:
    """One document as the reader built it (its places are empty unless it kept them)."""

    value: Value
    line: int
    places: Places


class _Reader:
    """Builds values from the parser's events; one instance per file.

    With `keep`, it also records where each value and key is (`Places`); without, only what a
    problem needs, which is read from the event at hand.
    """

    def __init__(self, path: str, text: str, *, keep: bool) -> None:
        self.path = path
        self.parser = cast(_Events, PARSER(text))
        self.get = self.parser.get_event
        self.keep = keep
        self.problems: list[Problem] = []
        self.failed = False
        self.places = Places()

    def read(self) -> tuple[list[_Read], list[Problem]]:
        """The documents without a problem, and every problem of the file."""
        documents: list[_Read] = []
        try:
            self._next(yaml.StreamStartEvent)
            for count in range(1, MAX_DOCUMENTS + 2):
                event = self.get()
                if isinstance(event, yaml.StreamEndEvent):
                    break
                document = self._document(event, count)
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
        return documents, self.problems

    def _next(self, kind: type[yaml.Event]) -> yaml.Event:
        event = self.get()
        assert isinstance(event, kind), event  # the parser only emits well-formed streams
        return event

    def _problem(self, where: Position, loc: Loc, message: str) -> None:
        self.problems.append(Problem(self.path, where[0], where[1], dotted(loc), message))
        self.failed = True

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
        self.failed = True

    def _document(self, start: yaml.Event, count: int) -> _Read | None:
        assert isinstance(start, yaml.DocumentStartEvent), start
        if count > MAX_DOCUMENTS:
            self._problem(_pos(start), (), f"more than {MAX_DOCUMENTS} documents in one file")
            raise _Fatal
        self.failed, self.places = False, Places()
        value = self._node(self.get(), (), 0)
        self._next(yaml.DocumentEndEvent)
        if self.failed or value is None:
            return None
        return _Read(value, _pos(start)[0], self.places)

    def _node(self, event: yaml.Event, loc: Loc, depth: int) -> Value:
        """The value that starts with `event` (already read)."""
        value: Value = None
        close = event
        if isinstance(event, ScalarEvent):
            value = self._scalar(event, loc)
        elif isinstance(event, CollectionStartEvent):
            value, close = self._collection(event, loc, depth)
        else:
            assert isinstance(event, AliasEvent), event  # the parser only emits nodes here
            alias = event.anchor
            self._problem(_pos(event), loc, f"alias *{alias} is not allowed; write the value out")
        if self.keep:
            self._place(loc, event, close, value)
        return value

    def _place(self, loc: Loc, start: yaml.Event, close: yaml.Event, value: Value) -> None:
        """Keep where the value at `loc` is. A block collection's end event is at the next token,
        possibly lines later: its text ends where its last item's does."""
        end = _offset(close.end_mark)
        if value and isinstance(start, yaml.CollectionStartEvent) and not start.flow_style:
            assert isinstance(value, list | dict)
            last = len(value) - 1 if isinstance(value, list) else next(reversed(value))
            end = self.places.spans.get((*loc, last), (0, end))[1]
        self.places.positions[loc] = _pos(start)
        self.places.spans[loc] = (_offset(start.start_mark), end)

    def _check_node(self, event: yaml.NodeEvent, loc: Loc) -> None:
        if event.anchor is not None:
            message = f"anchor &{event.anchor} is not allowed; repeat the value instead"
            self._problem(_pos(event), loc, message)
        tag = getattr(event, "tag", None)
        if tag is not None:
            self._problem(_pos(event), loc, f"tag {tag} is not allowed; write a plain value")

    def _scalar(self, event: ScalarEvent, loc: Loc) -> Value:
        if event.anchor is not None or event.tag is not None:
            self._check_node(event, loc)
        text: str = event.value
        if event.style:  # quoted or block; plain is None (PyYAML) or "" (libyaml)
            if event.style == '"' and _SURROGATE.search(text):  # only an escape makes one
                self._bad_escape(_pos(event), loc)
            return text
        if len(text) > MAX_INT_DIGITS and INT.fullmatch(text):
            digits = len(text.lstrip("+-"))
            if digits > MAX_INT_DIGITS:
                self._problem(_pos(event), loc, f"a number with {len(text)} digits is too large")
                return text
        return plain(text)

    def _collection(
        self, event: yaml.CollectionStartEvent, loc: Loc, depth: int
    ) -> tuple[Value, yaml.Event]:
        """A sequence or mapping, and the event that ends it."""
        self._check_node(event, loc)
        if depth >= MAX_DEPTH:
            self._problem(_pos(event), loc, f"nesting deeper than {MAX_DEPTH} levels")
            return None, self._skip()
        if isinstance(event, yaml.SequenceStartEvent):
            return self._sequence(loc, depth)
        return self._mapping(loc, depth)

    def _skip(self) -> yaml.Event:
        """Consume the rest of a collection whose start event was just read; its end event."""
        depth = 1
        while True:
            event = self.get()
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
                if not depth:
                    return event

    def _sequence(self, loc: Loc, depth: int) -> tuple[list[Value], yaml.Event]:
        """The items, and the event that ends them."""
        items: list[Value] = []
        event = self.get()
        while not isinstance(event, SequenceEndEvent):
            items.append(self._node(event, (*loc, len(items)), depth + 1))
            event = self.get()
        return items, event

    def _mapping(self, loc: Loc, depth: int) -> tuple[dict[str, Value], yaml.Event]:
        """The items, and the event that ends them."""
        items: dict[str, Value] = {}
        keys: dict[str, ScalarEvent] = {}  # where each key is, for a duplicate's message
        event = self.get()
        while not isinstance(event, MappingEndEvent):
            key = self._key(event, loc, depth, keys)
            if key is None:
                self._node(self.get(), (*loc, "?"), depth + 1)  # for the problems inside it
            else:
                items[key] = self._node(self.get(), (*loc, key), depth + 1)
            event = self.get()
        return items, event

    def _key(
        self, event: yaml.Event, loc: Loc, depth: int, keys: dict[str, ScalarEvent]
    ) -> str | None:
        """The key that `event` starts as a string, or None (and a problem) when it cannot be."""
        if not isinstance(event, ScalarEvent):
            message = "a key must be a plain string, not a list, mapping or alias"
            self._problem(_pos(event), loc, message)
            self._node(event, (*loc, "?"), depth + 1)  # for the problems inside it
            return None
        key = self._scalar(event, loc)
        if not isinstance(key, str):
            shown = "null" if key is None else str(key).lower()
            message = f"key {shown} is not a string; quote it or use a field name"
            self._problem(_pos(event), loc, message)
        elif key == "<<":
            self._problem(_pos(event), loc, "merge key << is not allowed; write the fields out")
        elif key in keys:
            first = _pos(keys[key])[0]
            message = f"duplicate key {key!r}; it is already set on line {first}"
            self._problem(_pos(event), (*loc, key), message)
        else:
            keys[key] = event
            if self.keep:
                self._place_key((*loc, key), event)
            return key
        return None

    def _place_key(self, loc: Loc, event: ScalarEvent) -> None:
        self.places.key_positions[loc] = _pos(event)
        self.places.key_spans[loc] = (_offset(event.start_mark), _offset(event.end_mark))
