"""Driving `vzgitops run` as a real process: start it, read its status and metrics, stop it.

Every wait has a deadline and fails with the controller's last log lines, so a hung test
explains itself; `Controllers.close` kills whatever a failed test left running.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families

from tests.support import GIT_ENV, VZGITOPS, GitRepo

T = TypeVar("T")


def wait_for(
    check: Callable[[], T], timeout: float, what: str, log: Callable[[], str] = lambda: ""
) -> T:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{log()}")
        time.sleep(0.05)


class Remote:
    """A bare repository (the 'server') and a work tree that pushes to it."""

    def __init__(self, root: Path) -> None:
        self.bare = root / "remote.git"
        subprocess.run(
            ["git", "init", "-q", "--bare", "-b", "main", str(self.bare)],
            check=True,
            capture_output=True,
        )
        self.work = GitRepo(root / "work")
        self.work.git("remote", "add", "origin", str(self.bare))

    @property
    def url(self) -> str:
        return self.bare.as_uri()

    def commit(self, files: Mapping[str, str], message: str = "change", push: bool = True) -> str:
        for path, text in files.items():
            self.work.write(path, text)
        sha = self.work.commit(message)
        if push:
            self.push()
        return sha

    def push(self, force: bool = False) -> None:
        self.work.git("push", "-q", *(["--force"] if force else []), "origin", "main")


class Running:
    """One `vzgitops run` process."""

    def __init__(self, proc: subprocess.Popen[bytes], state: Path, log_path: Path) -> None:
        self.proc = proc
        self.state = state
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "--- controller log (last lines) ---\n" + "\n".join(self.log().splitlines()[-lines:])

    def events(self) -> list[dict[str, Any]]:
        """The JSON log lines (with --log-format json)."""
        return [json.loads(line) for line in self.log().splitlines() if line.startswith("{")]

    def status(self) -> dict[str, Any]:
        try:
            data = json.loads((self.state / "status.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def wait(self, check: Callable[[dict[str, Any]], Any], what: str, timeout: float = 20) -> Any:
        """Wait until `check(status)` is truthy (the process must stay alive meanwhile)."""

        def probe() -> Any:
            if self.proc.poll() is not None:
                raise AssertionError(f"vzgitops run exited {self.proc.returncode}\n{self.tail()}")
            return check(self.status())

        return wait_for(probe, timeout, what, self.tail)

    def wait_idle_after(self, cycles: int, timeout: float = 20) -> dict[str, Any]:
        return dict(self.wait(lambda s: s if s.get("cycles", 0) > cycles else None,
                              f"more than {cycles} cycles", timeout))  # fmt: skip

    def http(self, server: str, method: str, path: str, body: bytes = b"",
             headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:  # fmt: skip
        where = self.wait(lambda s: s.get("listen", {}).get(server), f"{server} listening")
        host, _, port = str(where).rpartition(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            answer = conn.getresponse()
            return answer.status, answer.read()
        finally:
            conn.close()

    def metrics(self, node: str | None = None) -> dict[str, float]:
        """`name{labels}` (labels sorted by name, the `node` label left out) -> value, parsed
        from GET /metrics; every sample must carry `node` (the given one, when given)."""
        code, body = self.http("metrics", "GET", "/metrics")
        assert code == 200
        values = {}
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                labels = dict(sample.labels)
                seen = labels.pop("node", None)
                assert seen is not None and seen == (node or seen), (sample, node)
                shown = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
                values[sample.name + (f"{{{shown}}}" if shown else "")] = sample.value
        return values

    def reconciles(self) -> int:
        return int(
            sum(v for k, v in self.metrics().items() if k.startswith("vzgitops_reconciles_total"))
        )

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait for the exit code."""
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"vzgitops run ignored SIGTERM for {timeout} s\n{self.tail()}"
            ) from None


class Controllers:
    """Starts `vzgitops run` processes for one test and kills any left at its end."""

    def __init__(self, tmp: Path, env: Mapping[str, str]) -> None:
        self.tmp = tmp
        self.env = {**env, **GIT_ENV}
        self.started: list[Running] = []

    def start(self, args: Sequence[str], state: Path | None = None, name: str = "run") -> Running:
        state = state or self.tmp / "state"
        log_path = self.tmp / f"{name}-{len(self.started)}.log"
        with open(log_path, "wb") as stderr:
            proc = subprocess.Popen(
                [*VZGITOPS, "run", "--state-dir", str(state), *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        running = Running(proc, state, log_path)
        self.started.append(running)
        return running

    def close(self) -> None:
        for running in self.started:
            if running.proc.poll() is None:
                running.proc.kill()
                running.proc.wait(10)


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the direct children of `pid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        if ppid == pid:
            found.append((int(entry.name), cmdline))
    return found


def conf_value(conf_dir: Path, ctid: int, key: str) -> str | None:
    """KEY="value" from CTID.conf, or None."""
    try:
        text = (conf_dir / f"{ctid}.conf").read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    value = None
    for line in text.splitlines():
        name, sep, rest = line.partition("=")
        if sep and name.strip() == key:
            value = rest.strip().strip('"')
    return value
