"""Pydantic validation errors as `Problem`s a person can act on (pure; called by `spec.load`).

Pydantic reports locations in model terms (`('spec', 'ram', 'str')`) and messages in its own
words ("Value error, ...", "Input should be ..."). This module maps each error back onto the
YAML value it came from, so the problem carries the file's line and column and a dotted field
path (`spec.ip[1]`), merges the per-member errors of a union into one sentence, and suggests the
intended name for a misspelt field.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from reconciler.errors import Problem
from reconciler.spec.yamlsafe import YamlDocument
from reconciler.spec.yamlvalues import Loc, Value, dotted

_URL = re.compile(r"\s*\[?(?:For further information visit )?https?://\S+\]?")
_TYPE_NOUNS = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "none_required": "null",
}
_REWORDINGS = (
    ("Input should be", "must be"),
    ("String should have", "must have"),
    ("List should have", "must have"),
    ("Dictionary should have", "must have"),
)


def problems_from(
    path: str, doc: YamlDocument, model: type[BaseModel], error: ValidationError
) -> list[Problem]:
    """One problem per offending value of `doc`, in the order pydantic found them."""
    groups: dict[tuple[Loc, bool], list[ErrorDetails]] = {}
    for detail in error.errors(include_url=False):
        groups.setdefault(_data_loc(doc.value, detail), []).append(detail)
    problems = []
    for (loc, is_key), details in groups.items():
        line, col = doc.position(loc, key=is_key)
        message = _message(details, model, loc)
        problems.append(Problem(path, line, col, dotted(loc), message))
    return problems


def _data_loc(value: Value, detail: ErrorDetails) -> tuple[Loc, bool]:
    """The part of pydantic's location that exists in the data, and whether it is a key.

    The rest names union members or validators (`str`, `function-after[...]`), except for a
    missing field, whose name is kept so that the message says which one.
    """
    loc: list[str | int] = []
    node: Any = value
    for part in detail["loc"]:
        if part == "[key]":
            return tuple(loc), True
        found, node = _child(node, part)
        if not found:
            break
        loc.append(part)
    if detail["type"] == "missing":
        loc.append(detail["loc"][-1])
    # An unknown field is best shown at its key, a missing one at its parent's key.
    return tuple(loc), detail["type"] in ("extra_forbidden", "missing")


def _child(node: Any, part: str | int) -> tuple[bool, Any]:
    if isinstance(node, dict) and part in node:
        return True, node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return True, node[part]
    return False, None


def _message(details: list[ErrorDetails], model: type[BaseModel], loc: Loc) -> str:
    nouns = [_TYPE_NOUNS[d["type"]] for d in details if d["type"] in _TYPE_NOUNS]
    if len(nouns) == len(details):
        got = details[0]["input"]
        text = f"expected {' or '.join(dict.fromkeys(nouns))}, got {_shown(got)}"
        quote = nouns == ["a string"] and isinstance(got, bool | int)
        return text + "; put it in quotes to keep it as text" if quote else text
    others = [d for d in details if d["type"] not in _TYPE_NOUNS]
    return "; ".join(dict.fromkeys(_one(d, model, loc) for d in others))


def _one(detail: ErrorDetails, model: type[BaseModel], loc: Loc) -> str:
    kind = detail["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return _unknown_field(model, loc)
    if kind == "too_long" and isinstance(detail["input"], str):
        limit = (detail.get("ctx") or {}).get("max_length")
        return f"is {len(detail['input'])} characters long; at most {limit} are allowed"
    text = _URL.sub("", detail["msg"]).removeprefix("Value error, ").strip()
    for old, new in _REWORDINGS:
        text = text.replace(old, new)
    if kind != "value_error" and not isinstance(detail["input"], dict | list):
        text += f", got {_shown(detail['input'])}"
    return text


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _unknown_field(model: type[BaseModel], loc: Loc) -> str:
    name = str(loc[-1])
    allowed = _fields_at(model, loc[:-1])
    close = difflib.get_close_matches(name, allowed, n=1)
    if close:
        return f"unknown field {name!r}; did you mean {close[0]!r}?"
    if 0 < len(allowed) <= 8:
        return f"unknown field {name!r}; the fields here are {', '.join(allowed)}"
    return f"unknown field {name!r}; see the JSON schema in schemas/ for the fields here"


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names of the model found at `loc` inside `model` (empty if it is not one)."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            current = _element(current, part)
        elif isinstance(part, str) and part in current.model_fields:
            current = _unwrap(current.model_fields[part].annotation)
        else:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """`X | None` and `Annotated[X, ...]` -> X."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(members[0]) if len(members) == 1 else annotation
    return annotation


def _element(annotation: Any, part: str | int) -> Any:
    """The type of `annotation[part]` for list and dict annotations, else None."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is list and isinstance(part, int):
        return _unwrap(args[0])
    if origin is dict:
        return _unwrap(args[1])
    return None
