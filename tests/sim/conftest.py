"""The simulator's own tests: its tools are measured by coverage here (see tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.conftest import COVER_SIM_ENV


@pytest.fixture(autouse=True)
def _cover_the_simulated_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(COVER_SIM_ENV, "1")
