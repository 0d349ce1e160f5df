"""Tests of the spec layer: safe YAML, documents, revisions, schemas."""
