"""`vzgitops run` on a converged fleet: commit-to-applied latency and idle CPU (issue 7).

Latency is measured twice per change: to the `vzctl set` line in the node's operation log (the
change showing on the node; the line is written when that vzctl call ends) and to the
controller's `revision.applied` event (after it observed the node again to verify). With
`--watch` the clock starts when `git commit` returns in the watched work tree; with a signed
webhook (the controller following a file:// bare repository), when the POST is sent after
`git push` returned. Idle CPU is read from /proc for the controller process and, separately,
for the children it waited for (git, vzlist).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.fleet import (
    Fleet,
    ctids,
    docs_per_file,
    file_of,
    git,
    repository_files,
    write_files,
)
from benchmarks.measure import Oplog

STOP_GRACE = 15.0
SECRET = "bench-webhook-secret"  # noqa: S105 - a throwaway secret for a local benchmark
T = TypeVar("T")


@dataclass(frozen=True)
class Latency:
    """Medians (and worst) of one trigger's latencies, in seconds."""

    trigger: str
    rounds: int
    to_set: float
    to_set_max: float
    to_applied: float


@dataclass(frozen=True)
class Idle:
    seconds: float
    own_cpu: float
    children_cpu: float


def wait_for(check: Callable[[], T | None], timeout: float, what: str, log: Path) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}\n{tail}")
        time.sleep(0.01)


class Controller:
    """One `vzgitops run` process over a fleet's node and state directory."""

    def __init__(self, fleet: Fleet, args: Sequence[str], log: Path) -> None:
        self.fleet, self.log = fleet, log
        argv = [sys.executable, "-m", "reconciler.cli", "run", "--state-dir", str(fleet.state)]
        with open(log, "w", encoding="utf-8") as out:
            self.proc = subprocess.Popen(
                [*argv, "--log-format", "json", *args], env=fleet.env, stdout=out, stderr=out
            )

    def status(self) -> dict[str, Any]:
        try:
            data = json.loads((self.fleet.state / "status.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) and data.get("pid") == self.proc.pid else {}

    def events(self) -> list[dict[str, Any]]:
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def applied_at(self, sha: str) -> float | None:
        for event in self.events():
            if event.get("event") == "revision.applied" and event.get("revision") == sha:
                return datetime.fromisoformat(str(event["ts"])).timestamp()
        return None

    def wait_idle(self, cycles: int = 1) -> None:
        def idle() -> bool | None:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vzgitops run exited {self.proc.returncode}")
            done = self.status().get("cycles", 0) >= cycles
            return True if done and self.status().get("state") == "running" else None

        wait_for(idle, 600, f"{cycles} finished cycle(s)", self.log)

    def stop(self, issues: list[str]) -> None:
        """SIGTERM and wait; a controller still running after STOP_GRACE is killed and noted."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            issues.append(
                f"{self.log.stem}: `vzgitops run` was still running {STOP_GRACE:g} s after SIGTERM and was killed"
            )


def set_logged(oplog: Oplog, ctid: int) -> float | None:
    """When the first `vzctl set` of `ctid` since the mark ended."""
    for entry in oplog.entries():
        ts = entry.get("ts")
        if entry.get("verb") == "set" and entry.get("ctid") == ctid and isinstance(ts, float):
            return ts
    return None


Trigger = Callable[[str], tuple[str, float]]


def _one_change(fleet: Fleet, run: Controller, n: int, trigger: Trigger) -> tuple[float, float]:
    """Change cpus of one container; (seconds to its vzctl set, seconds to revision.applied)."""
    ctid = ctids(fleet.size)[n % fleet.size]
    oplog = Oplog(fleet.node)
    oplog.mark()
    sha, started = trigger(_change(fleet, ctid))
    logged = wait_for(lambda: set_logged(oplog, ctid), 120, f"vzctl set {ctid}", run.log)
    applied = wait_for(lambda: run.applied_at(sha), 120, f"{sha[:12]} applied", run.log)
    return logged - started, applied - started


def _change(fleet: Fleet, ctid: int) -> str:
    """Edit one container's file and stage it (the commit is the trigger's business)."""
    fleet.cpus[ctid] = 3 - fleet.cpus[ctid]
    path = file_of(ctid, docs_per_file(fleet.size))
    write_files(fleet.repo, {path: repository_files(fleet.cpus)[path]})
    git(fleet.repo, "add", "--", path)
    return f"cpus of {ctid}"


def _commit(fleet: Fleet, message: str) -> tuple[str, float]:
    git(fleet.repo, "commit", "-q", "-m", message)
    committed = time.time()
    return git(fleet.repo, "rev-parse", "HEAD"), committed


def _latencies(name: str, fleet: Fleet, run: Controller, rounds: int, trigger: Trigger) -> Latency:
    run.wait_idle()
    pairs = [_one_change(fleet, run, n, trigger) for n in range(rounds)]
    to_set = [p[0] for p in pairs]
    return Latency(
        trigger=name,
        rounds=rounds,
        to_set=statistics.median(to_set),
        to_set_max=max(to_set),
        to_applied=statistics.median(p[1] for p in pairs),
    )


def watch_latency(fleet: Fleet, rounds: int, work: Path, issues: list[str]) -> Latency:
    run = Controller(fleet, ["--repo", str(fleet.repo), "--watch", "--interval", "1h",
                             "--drift-interval", "0"], work / "watch.log")  # fmt: skip
    try:
        return _latencies("--watch", fleet, run, rounds, lambda msg: _commit(fleet, msg))
    finally:
        run.stop(issues)


def post_webhook(run: Controller) -> float:
    """POST a GitHub-signed push event; returns when it was sent."""
    address = wait_for(
        lambda: run.status().get("listen", {}).get("webhook"), 60, "webhook", run.log
    )
    host, _, port = str(address).rpartition(":")
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "push",
               "Content-Type": "application/json"}  # fmt: skip
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    sent = time.time()
    try:
        conn.request("POST", "/webhook", body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
    finally:
        conn.close()
    if answer.status != 202:
        raise RuntimeError(f"webhook answered {answer.status}")
    return sent


def webhook_args(bare: Path, secret: Path) -> list[str]:
    return ["--repo", bare.as_uri(), "--webhook-listen", "127.0.0.1:0",
            "--webhook-secret-file", str(secret)]  # fmt: skip


def _bare(fleet: Fleet, work: Path) -> tuple[Path, Path]:
    bare = work / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(fleet.repo), str(bare)], check=True)
    secret = work / "webhook-secret"
    secret.write_text(SECRET + "\n", encoding="utf-8")
    return bare, secret


def webhook_latency(fleet: Fleet, rounds: int, work: Path, issues: list[str]) -> Latency:
    bare, secret = _bare(fleet, work)
    run = Controller(fleet, [*webhook_args(bare, secret), "--interval", "1h",
                             "--drift-interval", "0"], work / "webhook.log")  # fmt: skip

    def push_and_post(message: str) -> tuple[str, float]:
        sha, _ = _commit(fleet, message)
        git(fleet.repo, "push", "-q", str(bare), "main")
        return sha, post_webhook(run)

    try:
        return _latencies("signed webhook", fleet, run, rounds, push_and_post)
    finally:
        run.stop(issues)


def _cpu(pid: int) -> tuple[float, float]:
    """(own user+sys, waited-for children's user+sys) of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    own = (int(fields[11]) + int(fields[12])) / tick
    return own, (int(fields[13]) + int(fields[14])) / tick


def idle_cpu(fleet: Fleet, seconds: float, work: Path, issues: list[str]) -> Idle:
    """The controller as a user runs it (--watch and a webhook, default intervals), left alone."""
    bare, secret = work / "remote.git", work / "webhook-secret"
    if not bare.exists():
        bare, secret = _bare(fleet, work)
    run = Controller(fleet, ["--repo", str(fleet.repo), "--watch", "--webhook-listen", "127.0.0.1:0",
                             "--webhook-secret-file", str(secret)], work / "idle.log")  # fmt: skip
    try:
        run.wait_idle()
        own0, children0 = _cpu(run.proc.pid)
        time.sleep(seconds)
        own1, children1 = _cpu(run.proc.pid)
    finally:
        run.stop(issues)
    return Idle(seconds, own1 - own0, children1 - children0)
