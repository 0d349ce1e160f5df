"""The webhook and metrics endpoints over real HTTP on 127.0.0.1 (in-process servers)."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import select
import socket
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.controller.events import EventLog
from reconciler.controller.httpd import Listen, parse_listen
from reconciler.controller.metrics import CountingRunner, Health, Metrics, MetricsServer
from reconciler.controller.webhook import MAX_BODY, WebhookServer, authenticate, read_secret
from reconciler.errors import UsageError, VzGitopsError
from reconciler.node.process import Completed

SECRET = b"s3cret-token"
BODY = json.dumps({"ref": "refs/heads/main", "after": "0" * 40}).encode()


def sign(body: bytes, secret: bytes = SECRET) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


class Hook:
    def __init__(self, server: WebhookServer, events: list[str], logged: list[str]) -> None:
        self.server, self.events, self.logged = server, events, logged
        self.port = server.bound.port

    def post(
        self, body: bytes, headers: dict[str, str], path: str = "/webhook", method: str = "POST"
    ) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers)
            return conn.getresponse().status
        finally:
            conn.close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    events: list[str] = []
    logged: list[str] = []

    class Sink:
        def write(self, text: str) -> None:
            logged.append(text)

        def flush(self) -> None:
            pass

    log = EventLog("json", Sink())  # type: ignore[arg-type]
    server = WebhookServer(Listen("127.0.0.1", 0), SECRET, events.append, log)
    server.start()
    try:
        yield Hook(server, events, logged)
    finally:
        server.close()


@pytest.mark.parametrize(
    ("headers", "provider"),
    [
        ({"x-hub-signature-256": "sha256=" + sign(BODY)}, "github"),
        ({"x-hub-signature-256": "sha256=" + sign(BODY).upper()}, "github"),
        ({"x-gitea-signature": sign(BODY)}, "gitea"),
        ({"x-forgejo-signature": sign(BODY)}, "forgejo"),
        ({"x-gitlab-token": SECRET.decode()}, "gitlab"),
        ({"x-hub-signature-256": sign(BODY)}, None),
        ({"x-hub-signature-256": "sha1=" + sign(BODY)}, None),
        ({"x-hub-signature-256": "sha256=" + sign(BODY, b"other")}, None),
        ({"x-gitea-signature": "sha256=" + sign(BODY)}, None),
        ({"x-gitlab-token": "wrong"}, None),
        ({"x-gitlab-token": ""}, None),
        ({}, None),
    ],
)
def test_authenticate(headers: dict[str, str], provider: str | None) -> None:
    assert authenticate(headers, BODY, SECRET) == provider


def test_a_signature_over_another_body_is_refused() -> None:
    assert (
        authenticate({"x-hub-signature-256": "sha256=" + sign(BODY)}, BODY + b" ", SECRET) is None
    )


def test_read_secret(tmp_path: Path) -> None:
    (tmp_path / "secret").write_bytes(SECRET + b"\n")
    assert read_secret(tmp_path / "secret") == SECRET
    (tmp_path / "empty").write_bytes(b"\n")
    with pytest.raises(UsageError, match="empty"):
        read_secret(tmp_path / "empty")
    with pytest.raises(UsageError, match="missing"):
        read_secret(tmp_path / "missing")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Hub-Signature-256": "sha256=" + sign(BODY), "X-GitHub-Event": "push"},
        {"X-Gitea-Signature": sign(BODY), "X-Gitea-Event": "push"},
        {"X-Forgejo-Signature": sign(BODY)},
        {"X-Gitlab-Token": SECRET.decode(), "X-Gitlab-Event": "Push Hook"},
    ],
)
def test_signed_webhooks_are_accepted(hook: Hook, headers: dict[str, str]) -> None:
    assert hook.post(BODY, headers) == 202
    assert len(hook.events) == 1


def test_bad_or_missing_signatures_are_401_and_trigger_nothing(hook: Hook) -> None:
    assert hook.post(BODY, {}) == 401
    assert hook.post(BODY, {"X-Hub-Signature-256": "sha256=" + sign(BODY, b"nope")}) == 401
    assert hook.post(BODY, {"X-Gitlab-Token": "nope"}) == 401
    assert hook.events == []


def test_secrets_and_signatures_are_never_logged(hook: Hook) -> None:
    hook.post(BODY, {"X-Hub-Signature-256": "sha256=" + sign(BODY)})
    hook.post(BODY, {"X-Gitlab-Token": SECRET.decode()})
    hook.post(BODY, {"X-Gitlab-Token": "guess"})
    logged = "".join(hook.logged)
    assert logged.count("webhook.request") == 3
    for secret in (SECRET.decode(), sign(BODY), "guess"):
        assert secret not in logged


def test_garbage_is_400(hook: Hook) -> None:
    garbage = b"{not json"
    assert hook.post(garbage, {"X-Hub-Signature-256": "sha256=" + sign(garbage)}) == 400
    binary = b"\xff\xfe"
    assert hook.post(binary, {"X-Gitlab-Token": SECRET.decode()}) == 400
    assert hook.events == []


def raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_no_content_length_is_400(hook: Hook) -> None:
    answer = raw(
        hook.port, b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-Gitlab-Token: s3cret-token\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.0 400 ")


@pytest.mark.parametrize("length", [b"-5", b"12abc", b"1, 2"])
def test_bad_content_length_is_400(hook: Hook, length: bytes) -> None:
    answer = raw(hook.port, b"POST /webhook HTTP/1.1\r\nContent-Length: " + length + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.0 400 ")


def test_a_short_body_is_400(hook: Hook) -> None:
    answer = raw(hook.port, b"POST /webhook HTTP/1.1\r\nContent-Length: 100\r\n\r\n{}")
    assert answer.startswith(b"HTTP/1.0 400 ")


def test_a_body_over_1_mib_is_413_without_reading_it(hook: Hook) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", hook.port, timeout=10)
    conn.putrequest("POST", "/webhook")
    conn.putheader("Content-Length", str(5 << 20))
    conn.putheader("X-Hub-Signature-256", "sha256=" + "0" * 64)
    conn.endheaders()  # the 5 MiB body is never sent: the answer must come without it
    assert conn.getresponse().status == 413
    conn.close()
    assert hook.events == []


def test_exactly_1_mib_is_read(hook: Hook) -> None:
    body = b'"' + b"x" * (MAX_BODY - 2) + b'"'
    assert hook.post(body, {"X-Gitlab-Token": SECRET.decode()}) == 202


def test_other_paths_and_methods(hook: Hook) -> None:
    assert hook.post(BODY, {}, path="/") == 404
    assert hook.post(BODY, {}, path="/webhook/x") == 404
    assert hook.post(b"", {}, method="GET") == 405
    assert hook.post(b"", {}, method="PUT") == 405
    assert hook.post(b"", {}, method="GET", path="/metrics") == 404
    assert hook.events == []


def test_the_server_survives_a_client_that_hangs_up(hook: Hook) -> None:
    with socket.create_connection(("127.0.0.1", hook.port), timeout=10) as sock:
        sock.sendall(b"POST /webhook HTTP/1.1\r\nContent-Length: 50\r\n\r\n{")
    assert b"400" in raw(hook.port, b"\x00\x01garbage\r\n\r\n")
    assert raw(hook.port, b"\x00\x01 /webhook HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.0 501 ")
    assert hook.post(BODY, {"X-Gitlab-Token": SECRET.decode()}) == 202


# ---- metrics ---------------------------------------------------------------------------------


def test_metrics_render_in_the_text_format() -> None:
    metrics = Metrics()
    metrics.reconciled("success", 0.2)
    metrics.reconciled("failure", 42.0)
    metrics.vzctl_call("set", "0")
    metrics.webhook_answer(202)
    metrics.observed(drifted=2, unmanaged=1)
    metrics.applied_at(1700000000.5)
    metrics.held_changes(["destroy"])
    metrics.suspension(node=False, containers=3)
    metrics.backups({(101, "web"): 3600.5}, errors=1)
    metrics.set_node("hn1")
    text = metrics.render()
    families = {f.name: f for f in text_string_to_metric_families(text)}  # a valid exposition
    assert {s.labels.get("node") for f in families.values() for s in f.samples} == {"hn1"}
    assert set(families) == {
        "vzgitops_reconciles", "vzgitops_reconcile_duration_seconds", "vzgitops_vzctl_calls",
        "vzgitops_webhook_requests", "vzgitops_drifted_containers",
        "vzgitops_unmanaged_containers", "vzgitops_last_applied_timestamp_seconds",
        "vzgitops_up", "vzgitops_held_changes", "vzgitops_suspended",
        "vzgitops_backup_age_seconds", "vzgitops_backup_errors",
    }  # fmt: skip
    samples = {
        (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "node"))): s.value
        for f in families.values()
        for s in f.samples
    }
    assert samples[("vzgitops_reconciles_total", (("result", "success"),))] == 1
    age = ("vzgitops_backup_age_seconds", (("ctid", "101"), ("name", "web")))
    assert samples[age] == 3600.5 and samples[("vzgitops_backup_errors", ())] == 1
    assert samples[("vzgitops_reconciles_total", (("result", "held"),))] == 0
    bucket = "vzgitops_reconcile_duration_seconds_bucket"
    assert samples[(bucket, (("le", "0.25"),))] == 1
    assert samples[(bucket, (("le", "60"),))] == 2
    assert samples[(bucket, (("le", "+Inf"),))] == 2
    assert samples[("vzgitops_reconcile_duration_seconds_count", ())] == 2
    assert samples[("vzgitops_reconcile_duration_seconds_sum", ())] == 42.2
    assert samples[("vzgitops_vzctl_calls_total", (("code", "0"), ("verb", "set")))] == 1
    assert samples[("vzgitops_webhook_requests_total", (("code", "202"),))] == 1
    assert samples[("vzgitops_drifted_containers", ())] == 2
    assert samples[("vzgitops_unmanaged_containers", ())] == 1
    assert samples[("vzgitops_last_applied_timestamp_seconds", ())] == 1700000000.5
    assert samples[("vzgitops_up", ())] == 1
    assert samples[("vzgitops_held_changes", (("kind", "destroy"),))] == 1
    assert samples[("vzgitops_held_changes", (("kind", "unowned"),))] == 0
    assert samples[("vzgitops_suspended", (("scope", "containers"),))] == 3
    assert samples[("vzgitops_suspended", (("scope", "node"),))] == 0
    assert not [name for name, _ in samples if name.endswith("_created")]
    assert not [name for name, _ in samples if not name.startswith("vzgitops_")]


def test_two_metrics_do_not_share_a_registry() -> None:
    first, second = Metrics(), Metrics()
    first.reconciled("success", 0.1)
    assert 'vzgitops_reconciles_total{node="default",result="success"} 0.0' in second.render()


def test_counting_runner_counts_vzctl_calls_only() -> None:
    metrics = Metrics()

    def runner(argv: Sequence[str], *, timeout: float = 1.0) -> Completed:
        return Completed(tuple(argv), 3 if "start" in argv else 0, "", "", 0.0)

    counting = CountingRunner(runner, metrics)
    counting(("vzctl", "set", "101", "--cpus", "2"))
    counting(("vzctl", "start", "101"))
    counting(("vzlist", "-a"))
    assert metrics.vzctl_calls == {("set", "0"): 1, ("start", "3"): 1}


def test_health_goes_bad_when_the_loop_is_stuck() -> None:
    now = [0.0]
    health = Health(clock=lambda: now[0], stuck_after=100.0, late_after=10.0)
    assert health.healthy()[0]
    health.busy()
    now[0] = 99.0
    assert health.healthy()[0]
    now[0] = 101.0
    assert health.healthy() == (False, "one reconcile has been running for 101 s")
    health.idle(5.0)
    now[0] = 115.0
    assert health.healthy()[0]
    now[0] = 117.0
    assert not health.healthy()[0]


def test_metrics_and_healthz_over_http() -> None:
    now = [0.0]
    health = Health(clock=lambda: now[0], stuck_after=100.0)
    metrics = Metrics()
    server = MetricsServer(Listen("127.0.0.1", 0), metrics, health, EventLog("text"))
    server.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.bound.port, timeout=10)
        conn.request("GET", "/metrics")
        answer = conn.getresponse()
        assert answer.status == 200
        assert answer.getheader("Content-Type", "").startswith("text/plain; version=0.0.4")
        assert b'vzgitops_up{node="default"} 1' in answer.read()
        conn.close()
        for path, code in (("/healthz", 200), ("/nope", 404)):
            conn = http.client.HTTPConnection("127.0.0.1", server.bound.port, timeout=10)
            conn.request("GET", path)
            assert conn.getresponse().status == code
            conn.close()
        health.busy()
        now[0] = 1000.0
        conn = http.client.HTTPConnection("127.0.0.1", server.bound.port, timeout=10)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 503
        conn.close()
    finally:
        server.close()


def test_a_client_that_trickles_its_headers_is_cut_off(hook: Hook) -> None:
    hook.server.deadline = 0.5
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", hook.port), timeout=10) as sock:
        sock.sendall(b"POST /webhook HTTP/1.1\r\n")
        with pytest.raises(OSError):  # the cut shows on a send, or as EOF on a read
            for _ in range(100):
                time.sleep(0.1)
                sock.sendall(b"X-A: b\r\n")
                if not select.select([sock], [], [], 0)[0]:
                    continue
                if sock.recv(1024) == b"":
                    raise ConnectionAbortedError("closed by the server")
    assert time.monotonic() - started < 5
    assert hook.post(BODY, {"X-Gitlab-Token": SECRET.decode()}) == 202


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
def test_metrics_listen_on_ipv6() -> None:
    server = MetricsServer(parse_listen("[::1]:0"), Metrics(), Health(), EventLog("text"))
    server.start()
    try:
        assert server.bound.render().startswith("[::1]:")
        conn = http.client.HTTPConnection("::1", server.bound.port, timeout=10)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        server.close()


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(VzGitopsError, match=f"cannot listen on 127.0.0.1:{port} for metrics"):
            MetricsServer(Listen("127.0.0.1", port), Metrics(), Health(), EventLog("text"))
