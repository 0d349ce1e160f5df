"""The one error tree: every class in errors.py is classified, and `disposition` names it."""

from __future__ import annotations

import inspect

import pytest

from reconciler import errors
from reconciler.errors import (
    NameRefused,
    NeedsHuman,
    Permanent,
    RetryLater,
    SourceUnavailable,
    UsageError,
    VzGitopsError,
    disposition,
)

CLASSES = [
    c for _, c in inspect.getmembers(errors, inspect.isclass)
    if issubclass(c, VzGitopsError) and c.__module__ == errors.__name__
]  # fmt: skip


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_error_is_classified(cls: type[VzGitopsError]) -> None:
    if cls is not VzGitopsError:
        assert issubclass(cls, NeedsHuman | RetryLater | Permanent)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (UsageError("ref 'x' not found in repo."), "needs-human"),
        (SourceUnavailable("git fetch failed"), "retry-later"),
        (NameRefused("bad name"), "permanent"),
        (KeyError("a bug"), "retry-later"),
    ],
)
def test_disposition(error: Exception, kind: str) -> None:
    assert disposition(error) == kind
