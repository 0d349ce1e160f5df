"""The state and config directories are decided in one place for every command and `run`."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli.steps import conf_dir, node_access, state_dir
from reconciler.controller.daemon import settings_from_args
from reconciler.node.observe import CONF_DIR_ENV
from reconciler.state import STATE_DIR_ENV


@pytest.mark.parametrize(
    ("given", "env", "expected"),
    [
        ("/given", "/env", "/given"),
        (None, "/env", "/env"),
        (None, "", "/var/lib/vzgitops"),
        (None, None, "/var/lib/vzgitops"),
        ("", "/env", "/env"),
    ],
)
def test_state_dir(
    monkeypatch: pytest.MonkeyPatch, given: str | None, env: str | None, expected: str
) -> None:
    if env is None:
        monkeypatch.delenv(STATE_DIR_ENV, raising=False)
    else:
        monkeypatch.setenv(STATE_DIR_ENV, env)
    assert state_dir(given) == Path(expected)


@pytest.mark.parametrize(
    ("given", "env", "expected"),
    [
        ("/given", "/env", "/given"),
        (None, "/env", "/env"),
        (None, "", "/etc/vz/conf"),
        (None, None, "/etc/vz/conf"),
    ],
)
def test_conf_dir(
    monkeypatch: pytest.MonkeyPatch, given: str | None, env: str | None, expected: str
) -> None:
    if env is None:
        monkeypatch.delenv(CONF_DIR_ENV, raising=False)
    else:
        monkeypatch.setenv(CONF_DIR_ENV, env)
    assert conf_dir(given) == Path(expected)


def test_commands_and_the_controller_resolve_them_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STATE_DIR_ENV, "/env/state")
    monkeypatch.setenv(CONF_DIR_ENV, "/env/conf")
    from reconciler.cli.args import build_parser

    args = build_parser().parse_args(["run", "--repo", "/r"])
    settings = settings_from_args(args)
    assert settings.state_dir == state_dir(args.state_dir) == Path("/env/state")
    assert settings.conf_dir == node_access(args).conf_dir == Path("/env/conf")
