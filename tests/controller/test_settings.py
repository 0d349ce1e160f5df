"""Every `vzgitops run` option reaches `Settings`, through the one `settings_from_args`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from reconciler.cli.args import build_parser
from reconciler.controller.daemon import CONVERTED, NOT_OPTIONS, settings_from_args
from reconciler.controller.httpd import Listen
from reconciler.controller.settings import Settings

# Each `vzgitops run` option with a value that is not its default.
EVERY_OPTION = {
    "repo": ["--repo", "/srv/repo"],
    "ref": ["--ref", "release"],
    "path": ["--path", "nodes/a"],
    "state_dir": ["--state-dir", "/srv/state"],
    "vz_conf_dir": ["--vz-conf-dir", "/srv/conf"],
    "node": ["--node", "node-a"],
    "prune": ["--prune"],
    "allow_mass_destroy": ["--allow-mass-destroy"],
    "ignore_windows": ["--ignore-windows"],
    "dump_before_destroy": ["--no-dump-before-destroy"],
    "dump_dir": ["--dump-dir", "/srv/dump"],
    "dump_keep": ["--dump-keep", "1h"],
    "interval": ["--interval", "2m"],
    "fetch_timeout": ["--fetch-timeout", "30s"],
    "watch": ["--watch"],
    "webhook_listen": ["--webhook-listen", ":8080"],
    "webhook_secret_file": ["--webhook-secret-file", "/srv/secret"],
    "metrics_listen": ["--metrics-listen", "0.0.0.0:9100"],
    "drift": ["--drift", "report"],
    "drift_interval": ["--drift-interval", "1h"],
    "allow_rewrite": ["--allow-rewrite"],
    "verify_signatures": ["--verify-signatures"],
    "allowed_signers": ["--allowed-signers", "/srv/signers"],
    "gpg_home": ["--gpg-home", "/srv/gnupg"],
    "log_format": ["--log-format", "json"],
    "notify_url": ["--notify-url", "http://127.0.0.1:9/hook"],
    "ssh_config": ["--ssh-config", "/srv/ssh_config"],
    "parallel": ["--parallel", "3"],
}

EXPECTED = Settings(
    repo="/srv/repo",
    ref="release",
    path="nodes/a",
    state_dir=Path("/srv/state"),
    conf_dir=Path("/srv/conf"),
    nodes=("node-a",),
    prune=True,
    allow_mass_destroy=True,
    ignore_windows=True,
    dump_before_destroy=False,
    dump_dir="/srv/dump",
    dump_keep=3600.0,
    interval=120.0,
    fetch_timeout=30.0,
    watch=True,
    webhook_listen=Listen("127.0.0.1", 8080),
    webhook_secret_file=Path("/srv/secret"),
    metrics_listen=Listen("0.0.0.0", 9100),
    drift="report",
    drift_interval=3600.0,
    allow_rewrite=True,
    verify_signatures=True,
    allowed_signers=Path("/srv/signers"),
    gpg_home=Path("/srv/gnupg"),
    log_format="json",
    notify_url="http://127.0.0.1:9/hook",
    ssh_config=Path("/srv/ssh_config"),
    parallel=3,
)


def _parse(argv: list[str]) -> dict[str, object]:
    return dict(vars(build_parser().parse_args(["run", *argv])))


def test_the_table_names_every_run_option() -> None:
    dests = set(_parse([])) - {"command", "no_color"}  # no_color: every command's, not run's
    assert dests == set(EVERY_OPTION), "a `vzgitops run` option was added or removed: name it here"


def test_every_run_option_reaches_settings() -> None:
    argv = [word for words in EVERY_OPTION.values() for word in words]
    assert settings_from_args(build_parser().parse_args(["run", *argv])) == EXPECTED


def test_each_option_alone_changes_its_field() -> None:
    base = _parse([])
    for dest, words in EVERY_OPTION.items():
        given = _parse(words)
        assert given[dest] != base[dest], dest
        assert {k for k in given if given[k] != base[k]} == {dest}, dest
    fields = {f.name for f in dataclasses.fields(Settings)} - NOT_OPTIONS
    read = {CONVERTED.get(name, (name, None))[0] for name in fields}
    assert read == set(EVERY_OPTION), "every option is read into one field, every field from one"


def test_fields_no_option_sets_keep_their_defaults() -> None:
    settings = settings_from_args(build_parser().parse_args(["run"]))
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    assert {name: getattr(settings, name) for name in NOT_OPTIONS} == {
        name: defaults[name] for name in NOT_OPTIONS
    }
