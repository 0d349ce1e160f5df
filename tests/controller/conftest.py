"""Fixtures for the controller tests: a pushed-to bare repository and `vzgitops run` processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.controller.harness import Controllers, Remote


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path)


@pytest.fixture
def node_env(sim_node: Any) -> dict[str, str]:
    return dict(sim_node.env)


@pytest.fixture
def conf_dir(node_env: dict[str, str]) -> Path:
    return Path(node_env["VZGITOPS_VZ_CONF_DIR"])


@pytest.fixture
def controllers(tmp_path: Path, node_env: dict[str, str]) -> Iterator[Controllers]:
    started = Controllers(tmp_path, node_env)
    try:
        yield started
    finally:
        started.close()
