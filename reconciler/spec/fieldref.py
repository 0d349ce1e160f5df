"""docs/FIELDS.md, the field reference, rendered from the document kinds' JSON Schemas (pure).

Every field of Node, Defaults and Container and of every object nested in them (metadata, spec,
capacity, netif, ...) gets a row: its path, type, default, allowed values and description, all
read from the pydantic models through `spec.schema`, so the reference says exactly what the
loader accepts. `vzgitops schema --fields docs/FIELDS.md` writes it; a test keeps it current.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from reconciler.spec.schema import document_schemas, schema_file

HEADER = """\
# Field reference

Generated from the models by `make schemas` (`vzgitops schema --out schemas --fields
docs/FIELDS.md`); do not edit by hand. The JSON Schemas in `schemas/` say the same in machine
form. A field without a default is required; `null` as default means unset: vzgitops leaves
the node's value alone. `a[].b` is field `b` of each item of list `a`.
"""

Row = tuple[str, str, str, str, str]


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str):
        resolved: dict[str, Any] = defs[ref.rsplit("/", 1)[1]]
        return resolved
    return node


def _variants(node: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives of a field, unset (`null`) left out."""
    options = node.get("anyOf", [node])
    return [_resolve(o, defs) for o in options if o.get("type") != "null"]


def _type(node: dict[str, Any], defs: dict[str, Any]) -> str:
    if node.get("properties") is not None:
        return "object"
    kind = node.get("type", "any")
    if kind == "array":
        return f"list of {_type(_resolve(node.get('items', {}), defs), defs)}"
    if kind == "object":
        values = node.get("additionalProperties") or next(
            iter(node.get("patternProperties", {}).values()), None
        )
        return "map" if not isinstance(values, dict) else f"map of {_types(values, defs)}"
    return str(kind)


def _types(node: dict[str, Any], defs: dict[str, Any]) -> str:
    return " or ".join(dict.fromkeys(_type(v, defs) for v in _variants(node, defs)))


def _allowed_one(node: dict[str, Any]) -> str:
    parts = []
    if "const" in node:
        parts.append(f"`{json.dumps(node['const'])}`")
    if "enum" in node:
        parts.append(", ".join(f"`{json.dumps(v)}`" for v in node["enum"]))
    if "minimum" in node or "maximum" in node:
        parts.append(f"{node.get('minimum', '')}..{node.get('maximum', '')}")
    if "maxLength" in node:
        parts.append(f"at most {node['maxLength']} characters")
    if "pattern" in node:
        parts.append(f"pattern `{node['pattern']}`")
    keys = node.get("propertyNames", {}).get("enum")
    if keys:
        parts.append("keys " + ", ".join(f"`{k}`" for k in keys))
    return "; ".join(parts)


def _allowed(node: dict[str, Any], defs: dict[str, Any]) -> str:
    return "; or ".join(a for a in (_allowed_one(v) for v in _variants(node, defs)) if a)


def _default(node: dict[str, Any], required: bool) -> str:
    if required:
        return "required"
    return f"`{json.dumps(node['default'])}`" if "default" in node else ""


def _rows(schema: dict[str, Any], defs: dict[str, Any], prefix: str) -> Iterator[Row]:
    required = set(schema.get("required", ()))
    for name, field in sorted(schema.get("properties", {}).items()):
        path = f"{prefix}{name}"
        yield (
            path,
            _types(field, defs),
            _default(field, name in required),
            _allowed(field, defs),
            str(field.get("description", "")),
        )
        for variant in _variants(field, defs):
            nested = _resolve(variant.get("items", {}), defs) if "items" in variant else variant
            suffix = "[]." if "items" in variant else "."
            if nested.get("properties"):
                yield from _rows(nested, defs, f"{path}{suffix}")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _section(kind: str, schema: dict[str, Any]) -> str:
    head = (
        f"## {kind}\n\n{schema.get('description', '')}\n\nSchema: `schemas/{schema_file(kind)}`.\n"
    )
    table = ["| field | type | default | allowed values | description |", "|---|---|---|---|---|"]
    for row in _rows(schema, schema.get("$defs", {}), ""):
        table.append("| " + " | ".join(_cell(c) if c else "" for c in row) + " |")
    return head + "\n" + "\n".join(table) + "\n"


def render_fields() -> str:
    """The whole of docs/FIELDS.md."""
    schemas = document_schemas()
    kinds = ("Node", "Defaults", "Container")
    return HEADER + "".join("\n" + _section(k, schemas[schema_file(k)]) for k in kinds)
