"""`vzgitops run` against a bare repository and a simulated node: what makes it reconcile.

A commit pushed to the repository is applied after a --watch event, a signed webhook, a poll
or SIGHUP; unsigned or oversized webhooks change nothing; 500 webhooks that arrive during one
slow reconcile coalesce into a single follow-up.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.controller.harness import Controllers, Remote, Running, children, conf_value, wait_for
from tests.support import VZGITOPS, container_doc

SECRET = "webhook-secret-7d1f"
QUIET = ["--interval", "1h", "--drift-interval", "0", "--log-format", "json"]


def applied(sha: str) -> Any:
    """A status check that returns the status once `sha` is applied and converged."""
    return lambda s: (s.get("applied") or {}).get("sha") == sha and s.get("converged") and s


def web(cpus: int) -> dict[str, str]:
    return {"web.yaml": container_doc("web", 101, cpus=cpus)}


def signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "push"}


def push_body(sha: str) -> bytes:
    return json.dumps({"ref": "refs/heads/main", "after": sha}).encode()


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "webhook-secret"
    path.write_text(SECRET + "\n", encoding="utf-8")
    return path


def start_with_webhook(controllers: Controllers, remote: Remote, secret_file: Path) -> Running:
    return controllers.start(
        ["--repo", remote.url, *QUIET, "--webhook-listen", "127.0.0.1:0",
         "--webhook-secret-file", str(secret_file), "--metrics-listen", "127.0.0.1:0"]
    )  # fmt: skip


def test_watch_applies_a_pushed_commit(
    controllers: Controllers, remote: Remote, conf_dir: Path
) -> None:
    first = remote.commit(web(1), "web: 1 cpu")
    run = controllers.start(["--repo", str(remote.bare), "--watch", *QUIET])
    run.wait(applied(first), "the first commit applied")
    assert conf_value(conf_dir, 101, "CPUS") == "1"
    second = remote.commit(web(2), "web: 2 cpus")
    run.wait(applied(second), "the pushed commit applied after the watch event", timeout=10)
    assert conf_value(conf_dir, 101, "CPUS") == "2"
    assert run.status()["applied"]["subject"] == "web: 2 cpus"
    assert run.stop() == 0
    assert any(e["event"] == "reconcile.done" and "watch" in e["triggers"] for e in run.events())


def test_signed_webhook_applies_a_pushed_commit(
    controllers: Controllers, remote: Remote, conf_dir: Path, secret_file: Path
) -> None:
    first = remote.commit(web(1))
    run = start_with_webhook(controllers, remote, secret_file)
    run.wait(applied(first), "the first commit applied")
    second = remote.commit(web(2))
    body = push_body(second)
    assert run.http("webhook", "POST", "/webhook", body, signed(body))[0] == 202
    run.wait(applied(second), "the pushed commit applied after the webhook", timeout=10)
    assert conf_value(conf_dir, 101, "CPUS") == "2"
    metrics = run.metrics(node="default")  # every sample labelled with the controller's node
    assert metrics['vzgitops_webhook_requests_total{code="202"}'] == 1
    assert metrics['vzgitops_vzctl_calls_total{code="0",verb="set"}'] >= 1
    assert metrics["vzgitops_up"] == 1
    assert metrics["vzgitops_last_applied_timestamp_seconds"] > 0
    assert run.http("metrics", "GET", "/healthz")[0] == 200
    assert run.stop() == 0
    log = run.log()
    assert SECRET not in log and signed(body)["X-Hub-Signature-256"] not in log
    for line in log.splitlines():
        event = json.loads(line)
        assert {"ts", "level", "event"} <= set(event), line


def test_bad_signatures_and_big_bodies_change_nothing(
    controllers: Controllers, remote: Remote, conf_dir: Path, secret_file: Path
) -> None:
    first = remote.commit(web(1))
    run = start_with_webhook(controllers, remote, secret_file)
    cycles = run.wait(applied(first), "the first commit applied")["cycles"]
    second = remote.commit(web(2), push=False)
    body = push_body(second)
    forged = {"X-Hub-Signature-256": "sha256=" + "0" * 64}
    assert run.http("webhook", "POST", "/webhook", body, forged)[0] == 401
    assert run.http("webhook", "POST", "/webhook", body, {})[0] == 401
    assert run.http("webhook", "POST", "/webhook", body, {"X-Gitlab-Token": "guess"})[0] == 401
    assert post_without_body(run, 5 << 20) == 413
    assert run.http("webhook", "GET", "/webhook")[0] == 405
    # An accepted request queues its trigger before it is answered, so a wrongly accepted one
    # above is queued before this SIGHUP: it would run a cycle of its own before the SIGHUP's
    # or be taken together with it, and show in that cycle's triggers.
    run.signal(signal.SIGHUP)
    status = run.wait(lambda s: s.get("cycles", 0) > cycles and s, "the SIGHUP reconcile")
    assert status["cycles"] == cycles + 1
    assert triggers_after_startup(run) == ["sighup"]
    assert status["applied"]["sha"] == first
    assert conf_value(conf_dir, 101, "CPUS") == "1"
    # the same push, signed, is applied: the requests above were refused, not lost
    remote.push()
    assert run.http("webhook", "POST", "/webhook", body, signed(body))[0] == 202
    run.wait(applied(second), "the signed webhook's commit applied", timeout=10)
    assert triggers_after_startup(run) == ["sighup", "webhook"]
    assert run.stop() == 0


def triggers_after_startup(run: Running) -> list[str]:
    """The triggers of each cycle after the first (with --interval 1h and no drift timer, every
    cycle is logged as `reconcile.done` before the status counts it)."""
    done = [e["triggers"] for e in run.events() if e["event"] == "reconcile.done"]
    assert done[0] == "startup", done
    return done[1:]


def post_without_body(run: Running, length: int) -> int:
    """Declare a body of `length` bytes and send none of it: a 413 must come anyway."""
    where = run.status()["listen"]["webhook"]
    host, _, port = where.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest("POST", "/webhook")
        conn.putheader("Content-Length", str(length))
        conn.putheader("X-Hub-Signature-256", "sha256=" + "0" * 64)
        conn.endheaders()
        return conn.getresponse().status
    finally:
        conn.close()


def test_polling_alone_applies_a_pushed_commit(
    controllers: Controllers, remote: Remote, conf_dir: Path
) -> None:
    first = remote.commit(web(1))
    run = controllers.start(["--repo", remote.url, "--interval", "0.3", "--drift-interval", "0"])
    run.wait(applied(first), "the first commit applied")
    second = remote.commit(web(2))
    run.wait(applied(second), "the pushed commit applied by a poll", timeout=10)
    assert conf_value(conf_dir, 101, "CPUS") == "2"
    assert run.stop() == 0


def test_sighup_reconciles_now(controllers: Controllers, remote: Remote, conf_dir: Path) -> None:
    first = remote.commit(web(1))
    run = controllers.start(["--repo", remote.url, *QUIET])
    run.wait(applied(first), "the first commit applied")
    second = remote.commit(web(2))
    run.signal(signal.SIGHUP)
    run.wait(applied(second), "the pushed commit applied after SIGHUP", timeout=10)
    assert run.stop() == 0


@pytest.mark.slow
def test_500_webhooks_during_a_slow_reconcile_cause_one_follow_up(
    controllers: Controllers, remote: Remote, node_env: dict[str, str], secret_file: Path
) -> None:
    first = remote.commit(web(1))
    run = start_with_webhook(controllers, remote, secret_file)
    run.wait(applied(first), "the first commit applied")
    node = Path(node_env["VZGITOPS_VZ_CONF_DIR"]).parent
    fault = [*VZGITOPS, "sim", "fault", str(node), "--verb", "set", "--latency", "6"]
    subprocess.run(fault, check=True, env=node_env, capture_output=True)
    second = remote.commit(web(2))
    body = push_body(second)
    before = run.reconciles()
    cycles = run.status()["cycles"]
    assert run.http("webhook", "POST", "/webhook", body, signed(body))[0] == 202

    def slow_set() -> list[tuple[int, str]]:
        return [c for c in children(run.pid) if "vzctl" in c[1] and " set " in c[1]]

    in_flight = wait_for(slow_set, 10, "the slow vzctl set to start", run.tail)
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda _: run.http("webhook", "POST", "/webhook", body, signed(body))[0], range(499)))  # fmt: skip
    assert codes == [202] * 499
    assert slow_set() == in_flight, "the webhooks must arrive while the first reconcile runs"
    run.wait(applied(second), "the pushed commit applied", timeout=20)
    run.wait(lambda s: s.get("cycles", 0) >= cycles + 2, "the follow-up reconcile", timeout=20)
    # Every webhook was queued before its 202, so before this SIGHUP: a trigger the coalescing
    # left over would run a cycle before the SIGHUP's or be taken with it.
    run.signal(signal.SIGHUP)
    status = run.wait(lambda s: s.get("cycles", 0) > cycles + 2 and s, "the SIGHUP reconcile")
    assert status["cycles"] == cycles + 3
    assert triggers_after_startup(run) == ["webhook", "webhook", "sighup"]
    assert run.reconciles() - before == 3
    assert run.metrics()['vzgitops_webhook_requests_total{code="202"}'] == 500
    assert run.stop() == 0
