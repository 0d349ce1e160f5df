"""`vzgitops schema`: every JSON Schema vzgitops publishes, written into a directory (shell).

The document kinds' schemas come from `spec.schema`, the report's from `report`; neither knows
of the other (the core's layers, docs/ARCHITECTURE.md), so they meet here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.report import SCHEMA_FILE, report_schema
from reconciler.spec.schema import document_schemas, render


def json_schemas() -> dict[str, dict[str, Any]]:
    """The document kinds' schemas and the report's, keyed by file name."""
    return {**document_schemas(), SCHEMA_FILE: report_schema()}


def write_schemas(out_dir: Path) -> list[Path]:
    """Write every schema into `out_dir` (created if needed); the paths written, sorted."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in sorted(json_schemas().items()):
        path = out_dir / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written
