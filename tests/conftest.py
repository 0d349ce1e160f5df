"""Shared pytest configuration and fixtures."""

from __future__ import annotations

import pytest

# ---- golden files (tests/golden/): refreshed only by `pytest --update-golden` -----------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the golden files under tests/golden/ instead of comparing against them",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


# ---- end of golden files ----------------------------------------------------------------------
