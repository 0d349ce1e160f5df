"""The wiring of `vzgitops run`: typed settings, threads, servers and signals (shell).

`run_from_args` turns the parsed command line into `Settings`; `run` builds the seams the
nodes' controllers share (the source kept in the state directory, the event log, the trigger
queue), starts the optional webhook and metrics servers and the git watch, installs signal
handling, and runs `FleetController.loop` (one `Controller` per node, see `fleet`) on the main
thread until SIGTERM or SIGINT, then returns 0.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from reconciler.cli.steps import conf_dir, state_dir
from reconciler.controller.events import EventLog, Logger
from reconciler.controller.fleet import FleetController, SharedSource
from reconciler.controller.httpd import Listen, parse_listen
from reconciler.controller.metrics import FleetMetrics, Health, Metrics, MetricsServer
from reconciler.controller.settings import Seams, Settings
from reconciler.controller.sources import GitWatch, SignalTriggers
from reconciler.controller.triggers import TriggerQueue
from reconciler.controller.webhook import WebhookServer, read_secret
from reconciler.errors import UsageError
from reconciler.node.access import LocalAccess, NodeAccess
from reconciler.node.process import SubprocessRunner
from reconciler.source import find_git_dir, is_url, open_source, redact
from reconciler.state import StateDir, controller_lock

# The `Settings` fields that no `vzgitops run` option sets: tests tune them, the defaults serve.
NOT_OPTIONS = frozenset({"backoff_initial", "backoff_max"})


def _listen(value: str | None) -> Listen | None:
    return parse_listen(value) if value else None


# The fields that are not their option's value as argparse parsed it: the option's dest and the
# conversion. Every other field is the option of the same name, copied as it is.
CONVERTED: dict[str, tuple[str, Callable[[Any], object]]] = {
    "state_dir": ("state_dir", state_dir),
    "conf_dir": ("vz_conf_dir", conf_dir),
    "webhook_listen": ("webhook_listen", _listen),
    "metrics_listen": ("metrics_listen", _listen),
    "nodes": ("node", lambda names: tuple(names or ())),
}


def _same(value: object) -> object:
    return value


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The one place `vzgitops run`'s parsed options become `Settings`, field by field of it."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(Settings):
        if field.name not in NOT_OPTIONS:
            dest, convert = CONVERTED.get(field.name, (field.name, _same))
            values[field.name] = convert(getattr(args, dest))
    settings = Settings(**values)
    settings.check()
    return settings


def run_from_args(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    with controller_lock(StateDir(settings.state_dir)):
        return run(settings)


def watched_path(repo: str) -> Path:
    """The local repository `--watch` watches: a path or a file:// URL."""
    if not is_url(repo):
        return Path(repo)
    if repo.lower().startswith("file://"):
        return Path(unquote(urlsplit(repo).path))
    raise UsageError(f"--watch needs a local repository or a file:// URL, not {redact(repo)}")


def watched_git_dir(repo: str) -> Path:
    """The git directory `--watch` watches (`find_git_dir`: work tree, linked worktree, bare)."""
    path = watched_path(repo)
    try:
        return find_git_dir(path)
    except UsageError as error:
        raise UsageError(f"--watch: {path} is not a local git repository ({error})") from error


def _local_access(settings: Settings) -> Callable[[], NodeAccess]:
    """This machine's access: vzctl and vzlist on PATH, --vz-conf-dir."""
    return lambda: LocalAccess(run=SubprocessRunner(), conf_dir=settings.conf_dir)


def _seams(settings: Settings, log: Logger, stopping: threading.Event) -> Seams:
    """What the nodes' controllers share: one source (fetched once per round), the state
    directory, the log, the webhook's metrics, health, the trigger queue."""
    state = StateDir(settings.state_dir)
    state.ensure()
    source = open_source(settings.repo, state.root / "source", timeout=settings.fetch_timeout)
    return Seams(
        source=SharedSource(source),
        access=_local_access(settings)(),
        state=state,
        log=log,
        metrics=Metrics(),
        health=Health(),
        queue=TriggerQueue(),
        stopping=stopping,
    )


def _servers(
    settings: Settings, seams: Seams, metrics: FleetMetrics, stack: contextlib.ExitStack
) -> None:
    """Start the webhook and metrics endpoints that were asked for; record where they listen."""
    if settings.webhook_listen is not None and settings.webhook_secret_file is not None:
        secret = read_secret(settings.webhook_secret_file)
        hook = WebhookServer(
            settings.webhook_listen,
            secret,
            lambda provider: seams.queue.fire("webhook"),
            seams.log,
            seams.metrics.webhook_answer,
        )
        stack.callback(hook.close)
        hook.start()
        seams.listen["webhook"] = hook.bound.render()
    if settings.metrics_listen is not None:
        server = MetricsServer(settings.metrics_listen, metrics, seams.health, seams.log)
        stack.callback(server.close)
        server.start()
        seams.listen["metrics"] = server.bound.render()
    for name, where in seams.listen.items():
        seams.log("info", "http.listening", server=name, address=where)


def run(settings: Settings) -> int:
    """Run the controller until SIGTERM/SIGINT; 0 after a graceful stop."""
    log = EventLog(settings.log_format)
    stopping = threading.Event()
    seams = _seams(settings, log, stopping)
    watch_dir = watched_git_dir(settings.repo) if settings.watch else None
    controller = FleetController(settings, seams, _local_access(settings))

    def hup() -> None:
        log("info", "controller.sighup")
        seams.queue.fire("sighup")

    def stop(signal_name: str) -> None:
        log("info", "controller.stopping", signal=signal_name)
        stopping.set()
        seams.queue.wake()

    with contextlib.ExitStack() as stack:
        _servers(settings, seams, controller.metrics, stack)
        signals = SignalTriggers(hup, stop)
        signals.start()
        stack.callback(signals.close)
        if watch_dir is not None:
            watch = GitWatch(watch_dir, lambda: seams.queue.fire("watch"), log)
            watch.start()
            stack.callback(watch.close)
        log("info", "controller.started", repo=redact(settings.repo), ref=settings.ref,
            pid=os.getpid(), drift=settings.drift, interval=settings.interval)  # fmt: skip
        controller.loop()
    log("info", "controller.stopped", cycles=controller.cycles)
    return 0
