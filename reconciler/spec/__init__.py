"""Desired state: documents, validated values, and loading a revision's files (pure)."""
