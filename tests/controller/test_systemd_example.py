"""examples/systemd/vzgitops.service stays in step with `vzgitops run`'s command line."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

from reconciler.cli import build_parser
from reconciler.controller.daemon import settings_from_args

UNIT = Path(__file__).resolve().parents[2] / "examples" / "systemd" / "vzgitops.service"


def service() -> dict[str, str]:
    text = UNIT.read_text(encoding="utf-8").replace("\\\n", " ")
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return dict(parser["Service"])


def test_the_unit_runs_a_valid_vzgitops_run_command() -> None:
    argv = shlex.split(service()["ExecStart"])
    assert Path(argv[0]).name == "vzgitops" and argv[1] == "run"
    settings = settings_from_args(build_parser().parse_args(argv[1:]))
    assert settings.webhook_listen is not None and settings.webhook_listen.host == "127.0.0.1"
    assert settings.metrics_listen is not None and settings.metrics_listen.host == "127.0.0.1"
    assert settings.drift_interval == 300.0


def test_the_unit_stops_gracefully_and_reloads_with_sighup() -> None:
    unit = service()
    assert unit["KillMode"] == "mixed", "SIGTERM must reach vzgitops only, not its vzctl child"
    assert unit["KillSignal"] == "SIGTERM"
    assert unit["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert "64" in unit["RestartPreventExitStatus"]
