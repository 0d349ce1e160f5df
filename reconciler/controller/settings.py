"""What `vzgitops run` was told (`Settings`, typed from its command line) and what it talks to
(`Seams`: git, the node, the state directory, the log, metrics, the clock); `daemon` builds
both, tests may build their own."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from reconciler.controller.enforce import DriftMode
from reconciler.controller.events import Logger
from reconciler.controller.httpd import Listen
from reconciler.controller.metrics import Health, Metrics
from reconciler.controller.notify import check_url
from reconciler.controller.triggers import TriggerQueue
from reconciler.errors import UsageError
from reconciler.node.access import NodeAccess
from reconciler.source import Source
from reconciler.state import StateDir


@dataclass(frozen=True)
class Settings:
    """Everything `vzgitops run` was told on its command line, typed."""

    repo: str
    ref: str | None
    path: str
    state_dir: Path
    conf_dir: Path
    nodes: tuple[str, ...] = ()  # --node (or $VZGITOPS_NODE); none: every node reachable
    ssh_config: Path | None = None
    parallel: int = 8
    prune: bool = False
    allow_mass_destroy: bool = False
    ignore_windows: bool = False
    dump_before_destroy: bool = True
    dump_dir: str | None = None
    dump_keep: float = 7 * 86400.0
    interval: float = 60.0
    fetch_timeout: float = 60.0
    watch: bool = False
    webhook_listen: Listen | None = None
    webhook_secret_file: Path | None = None
    metrics_listen: Listen | None = None
    drift: DriftMode = "correct"
    drift_interval: float = 300.0
    allow_rewrite: bool = False
    verify_signatures: bool = False
    allowed_signers: Path | None = None
    gpg_home: Path | None = None
    log_format: Literal["text", "json"] = "text"
    notify_url: str | None = None
    backoff_initial: float = 1.0
    backoff_max: float = 300.0

    @property
    def node(self) -> str | None:
        """The one node named, else None."""
        return self.nodes[0] if len(self.nodes) == 1 else None

    def check(self) -> None:
        """Usage errors that argparse cannot see."""
        if self.parallel < 1:
            raise UsageError("--parallel must be at least 1")
        if self.interval <= 0:
            raise UsageError("--interval must be greater than 0")
        if self.webhook_listen is not None and self.webhook_secret_file is None:
            raise UsageError("--webhook-listen needs --webhook-secret-file")
        if self.verify_signatures and not (self.allowed_signers or self.gpg_home):
            raise UsageError("--verify-signatures needs --allowed-signers FILE or --gpg-home DIR")
        if self.notify_url is not None:
            check_url(self.notify_url)


@dataclass
class Seams:
    """What the controller talks to; `daemon` builds it, tests may build their own."""

    source: Source
    access: NodeAccess
    state: StateDir
    log: Logger
    metrics: Metrics
    health: Health
    queue: TriggerQueue
    stopping: threading.Event
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    random: Callable[[], float] = random.random
    listen: dict[str, str] = field(default_factory=dict)
