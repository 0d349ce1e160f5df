"""Reports: one versioned model (`model`) and its pure renderers (`text`, `markdown`, JSON).

The CLI and the controller import from here: `build_report`, `build_plan_report`,
`build_drift_report`, `render`, and `report_schema` for `vzgitops schema`. JSON is the model's
dump, so the three formats cannot disagree.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import CoreSchema, core_schema

from reconciler.report.markdown import COMMENT_LIMIT, MARKER, render_markdown
from reconciler.report.model import (
    REPORT_VERSION,
    CommitInfo,
    NodeSection,
    Report,
    build_drift_report,
    build_plan_report,
    build_report,
)
from reconciler.report.text import render_outcome, render_text

Format = Literal["text", "json", "markdown"]
SCHEMA_FILE = "report.schema.json"

__all__ = [
    "COMMENT_LIMIT",
    "MARKER",
    "REPORT_VERSION",
    "SCHEMA_FILE",
    "CommitInfo",
    "Format",
    "NodeSection",
    "Report",
    "build_drift_report",
    "build_plan_report",
    "build_report",
    "render",
    "render_json",
    "render_markdown",
    "render_outcome",
    "render_text",
    "report_schema",
]


def render_json(report: Report) -> str:
    return report.model_dump_json(indent=2) + "\n"


def render(report: Report, fmt: Format) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "markdown":
        return render_markdown(report)
    return render_text(report)


class _NoTitles(GenerateJsonSchema):
    """Like the document schemas: descriptions, not titles derived from Python names."""

    def field_title_should_be_set(
        self, schema: core_schema.CoreSchemaFieldType | CoreSchema
    ) -> bool:
        return False


def report_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of `--format json` output and of controller notifications."""
    generated = Report.model_json_schema(mode="serialization", schema_generator=_NoTitles)
    body: dict[str, Any] = json.loads(json.dumps(generated))
    body.pop("title", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://vzgitops.invalid/schemas/v1/" + SCHEMA_FILE,
        "title": f"vzgitops report (version {REPORT_VERSION})",
        **body,
    }
