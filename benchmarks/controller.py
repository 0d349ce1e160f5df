"""Benchmarks of `vzgitops run` (issue 5): trigger-to-applied latency, coalescing, cycle cost.

    .venv/bin/python -m benchmarks.controller [--rounds N]

Each scenario starts the real `vzgitops run` against a bare repository and a simulated node
(or, for the cycle cost, a node whose vzlist lists nothing), pushes commits, and reads the
controller's own JSON log: latency is the time from `git push` returning to the
`revision.applied` event, so it includes noticing the commit, fetching it, validating it,
observing the node, one `vzctl set`, and observing again to verify.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from tests.controller.harness import Controllers, Remote, Running, children, wait_for
from tests.controller.test_run_lifecycle import noop_node, resources
from tests.support import VZGITOPS, container_doc
from vzsim.nodeinit import init_node

SECRET = "bench-secret"  # noqa: S105 (a throwaway webhook secret)


def sim_env(root: Path) -> dict[str, str]:
    node = Path(init_node(str(root / "node"), []))
    path = f"{node / 'bin'}{os.pathsep}{os.environ['PATH']}"
    return {**os.environ, "PATH": path, "VZGITOPS_VZ_CONF_DIR": str(node / "conf")}


def applied_at(run: Running, sha: str) -> float:
    def find() -> float:
        for event in run.events():
            if event["event"] == "revision.applied" and event.get("revision") == sha:
                return datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp()
        return 0.0

    return wait_for(find, 30, f"{sha[:12]} applied", run.tail)


def post_webhook(run: Running, sha: str) -> None:
    body = json.dumps({"after": sha}).encode()
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert (
        run.http("webhook", "POST", "/webhook", body, {"X-Hub-Signature-256": f"sha256={digest}"})[
            0
        ]
        == 202
    )


def show(name: str, seconds: list[float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[max(0, round(0.9 * len(ms)) - 1)]
    print(
        f"{name:<34} n={len(ms):<3} median {statistics.median(ms):7.0f} ms   p90 {p90:7.0f} ms   max {ms[-1]:7.0f} ms"
    )


def coalescing() -> tuple[int, int]:
    """500 signed webhooks while one reconcile waits 5 s in vzctl set -> reconciles started."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "secret").write_text(SECRET)
        remote = Remote(root)
        first = remote.commit({"web.yaml": container_doc("web", 101, cpus=1)})
        env = sim_env(root)
        runs = Controllers(root, env)
        try:
            run = runs.start(["--repo", remote.url, "--interval", "1h", "--drift-interval", "0", "--log-format", "json",
                              "--webhook-listen", "127.0.0.1:0", "--webhook-secret-file", str(root / "secret"),
                              "--metrics-listen", "127.0.0.1:0"])  # fmt: skip
            applied_at(run, first)
            node = Path(env["VZGITOPS_VZ_CONF_DIR"]).parent
            subprocess.run(
                [*VZGITOPS, "sim", "fault", str(node), "--verb", "set", "--latency", "5"],
                check=True,
                env=env,
            )
            sha = remote.commit({"web.yaml": container_doc("web", 101, cpus=2)})
            before = run.reconciles()
            post_webhook(run, sha)
            wait_for(lambda: [c for c in children(run.pid) if " set " in c[1]], 10, "slow set")
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda _: post_webhook(run, sha), range(499)))
            applied_at(run, sha)
            time.sleep(2)
            return 500, run.reconciles() - before
        finally:
            runs.close()


def cycle_cost(cycles: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        remote = Remote(root)
        remote.commit({"node.yaml": "apiVersion: vzgitops/v1\nkind: Node\nmetadata:\n  name: n1\n"})
        runs = Controllers(root, {**os.environ, **noop_node(root / "node")})
        try:
            run = runs.start(["--repo", remote.url, "--interval", "0.01", "--drift-interval", "0.05",
                              "--metrics-listen", "127.0.0.1:0", "--log-format", "json"])  # fmt: skip
            run.wait(lambda s: s.get("cycles", 0) >= 100, "100 cycles", 60)
            fds0, rss0 = resources(run.pid)
            started = time.monotonic()
            run.wait(lambda s: s.get("cycles", 0) >= 100 + cycles, f"{cycles} cycles", 600)
            spent = time.monotonic() - started
            fds1, rss1 = resources(run.pid)
            run.stop()
        finally:
            runs.close()
    print(f"{cycles} no-op cycles (fetch file://, resolve, drift check every 0.05 s): "
          f"{spent / cycles * 1000:.1f} ms/cycle; fds {fds0} -> {fds1}; RSS {rss0} -> {rss1} KiB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--cycles", type=int, default=1000)
    rounds = parser.parse_args().rounds
    cycles = parser.parse_args().cycles
    show("--watch (bare repo, local path)", latency_watch(rounds))
    show("signed webhook (file:// mirror)", latency_webhook(rounds))
    show("SIGHUP (file:// mirror)", latency_sighup(rounds))
    show("poll --interval 1s (file:// mirror)", latency_poll(rounds))
    sent, reconciles = coalescing()
    print(f"coalescing: {sent} webhooks during a 5 s vzctl set -> {reconciles} reconciles")
    cycle_cost(cycles)


def latency_watch(rounds: int) -> list[float]:
    return _latency(
        lambda remote: ["--repo", str(remote.bare), "--watch", "--interval", "1h"],
        rounds,
        lambda run, sha: None,
    )


def latency_webhook(rounds: int) -> list[float]:
    return _latency(lambda remote: ["--repo", remote.url, "--interval", "1h", "--webhook-listen", "127.0.0.1:0",
                                    "--webhook-secret-file", str(remote.bare.parent / "secret")], rounds, post_webhook)  # fmt: skip


def latency_sighup(rounds: int) -> list[float]:
    import signal

    return _latency(
        lambda remote: ["--repo", remote.url, "--interval", "1h"],
        rounds,
        lambda run, sha: run.signal(signal.SIGHUP),
    )


def latency_poll(rounds: int) -> list[float]:
    return _latency(
        lambda remote: ["--repo", remote.url, "--interval", "1s"], rounds, lambda run, sha: None
    )


def _latency(
    args: Callable[[Remote], list[str]], rounds: int, trigger: Callable[[Running, str], None]
) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "secret").write_text(SECRET)
        remote = Remote(root)
        first = remote.commit({"web.yaml": container_doc("web", 101, cpus=1)})
        runs = Controllers(root, sim_env(root))
        try:
            run = runs.start(["--log-format", "json", "--drift-interval", "0", *args(remote)])
            applied_at(run, first)
            seconds = []
            for n in range(rounds):
                sha = remote.commit({"web.yaml": container_doc("web", 101, cpus=2 + n % 2)})
                pushed = time.time()
                trigger(run, sha)
                seconds.append(applied_at(run, sha) - pushed)
            run.stop()
        finally:
            runs.close()
    return seconds


if __name__ == "__main__":
    main()
