"""JSON Schemas of the document kinds, for editors and other tools (pure).

`vzgitops schema` (`cli/schemas.py`) writes them, with the report's, into `schemas/`, where they
are committed and a test fails when they are stale. The schemas come from the pydantic models, so every field's
description and every value type's pattern (see `spec.types`) is the one the loader uses. A YAML
file opts in with a modeline such as
`# yaml-language-server: $schema=../schemas/container.schema.json`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import CoreSchema, core_schema

from reconciler.spec.models import API_VERSION, MODELS

DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE_URL = "https://vzgitops.invalid/schemas/v1/"
# Pydantic leaves a bound it cannot push through a before-validator under its own name.
_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


class _Generator(GenerateJsonSchema):
    """Pydantic's generator without the per-field titles it derives from Python names."""

    def field_title_should_be_set(
        self, schema: core_schema.CoreSchemaFieldType | CoreSchema
    ) -> bool:
        return False


def schema_file(kind: str) -> str:
    """`Container` -> `container.schema.json`."""
    return f"{kind.lower()}.schema.json"


def document_schemas() -> dict[str, dict[str, Any]]:
    """One JSON Schema (2020-12) per document kind, keyed by file name."""
    return {schema_file(kind): _schema(kind) for kind in MODELS}


def _schema(kind: str) -> dict[str, Any]:
    body = _standard(MODELS[kind].model_json_schema(schema_generator=_Generator))
    body.pop("title", None)
    return {
        "$schema": DIALECT,
        "$id": BASE_URL + schema_file(kind),
        "title": f"vzgitops {kind} ({API_VERSION})",
        **body,
    }


def _standard(node: Any) -> Any:
    """`{"type": "integer", "ge": 1}` -> `{"type": "integer", "minimum": 1}`, everywhere."""
    if isinstance(node, list):
        return [_standard(item) for item in node]
    if not isinstance(node, dict):
        return node
    numeric = node.get("type") == "integer"
    return {(_BOUNDS.get(k, k) if numeric else k): _standard(v) for k, v in node.items()}


def render(schema: dict[str, Any]) -> str:
    """The exact text written for one schema: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
