"""`POST /webhook`: a push notification from a git forge that triggers a fetch (shell).

Started by the controller when `--webhook-listen` is given. A request only ever *triggers* a
fetch of the configured repository and ref; nothing from the payload or the headers reaches git
(the payload is at most a hint, and it is not even parsed beyond checking that it is JSON).

Authentication, checked on the raw body before anything else is looked at:
- GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`;
- Gitea / Forgejo: `X-Gitea-Signature` / `X-Forgejo-Signature`: the same hex HMAC, no prefix;
- GitLab: `X-Gitlab-Token` equal to the secret.
All comparisons are constant-time (`hmac.compare_digest`).

Answers: 202 accepted, 401 missing or bad signature, 413 `Content-Length` over 1 MiB (answered
before the body; up to 64 MiB of it is then read and dropped, so a client that sends it all
still gets the 413 rather than a connection reset), 400 garbage (no or bad `Content-Length`, short body, not JSON), 404 other paths,
405 other methods. The secret and the signature headers are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from email.message import Message
from pathlib import Path
from typing import Literal, cast

from reconciler.controller.events import Level, Logger
from reconciler.controller.httpd import BoundedHTTPServer, Listen, QuietHandler
from reconciler.errors import UsageError

PATH = "/webhook"
MAX_BODY = 1 << 20
Provider = Literal["github", "gitlab", "gitea", "forgejo"]
_HEX = re.compile(r"[0-9a-fA-F]{64}")
_EVENT_HEADERS = ("x-github-event", "x-gitlab-event", "x-gitea-event", "x-forgejo-event")
_SAFE_EVENT = re.compile(r"[^A-Za-z0-9 _.-]")


def read_secret(path: Path) -> bytes:
    """The shared secret from a file (trailing newline removed); never empty."""
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise UsageError(f"--webhook-secret-file {path}: {exc.strerror or exc}") from exc
    if not secret:
        raise UsageError(f"--webhook-secret-file {path} is empty")
    return secret


def _hmac_hex(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, body, hashlib.sha256).hexdigest().encode()


def _hex_matches(given: str, secret: bytes, body: bytes) -> bool:
    if not _HEX.fullmatch(given):
        return False
    return hmac.compare_digest(given.lower().encode(), _hmac_hex(secret, body))


def authenticate(headers: Mapping[str, str], body: bytes, secret: bytes) -> Provider | None:
    """Which forge signed this request with `secret`, or None; header names lower-case (pure)."""
    github = headers.get("x-hub-signature-256")
    if github is not None:
        prefix, _, digest = github.strip().partition("=")
        return "github" if prefix == "sha256" and _hex_matches(digest, secret, body) else None
    for header, provider in (("x-gitea-signature", "gitea"), ("x-forgejo-signature", "forgejo")):
        value = headers.get(header)
        if value is not None:
            return cast(Provider, provider) if _hex_matches(value.strip(), secret, body) else None
    token = headers.get("x-gitlab-token")
    if token is not None:
        return "gitlab" if hmac.compare_digest(token.encode(errors="replace"), secret) else None
    return None


def content_length(headers: Message) -> int | None:
    """The declared body size, or None when missing or not a plain non-negative integer."""
    values = headers.get_all("Content-Length") or []
    if len(values) != 1 or not values[0].strip().isdigit():
        return None
    return int(values[0].strip())


def is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are both ValueErrors
        return False
    return True


def event_name(headers: Mapping[str, str]) -> str:
    """The forge's event type (push, ping, ...), sanitised, for the log only (lower-case names)."""
    for header in _EVENT_HEADERS:
        value = headers.get(header)
        if value:
            return _SAFE_EVENT.sub("", value)[:40] or "unknown"
    return "unknown"


class WebhookServer(BoundedHTTPServer):
    """The webhook endpoint; `on_event(provider)` is called for every authentic request."""

    def __init__(
        self,
        listen: Listen,
        secret: bytes,
        on_event: Callable[[str], None],
        log: Logger,
        on_answer: Callable[[int], None] = lambda code: None,
    ) -> None:
        self.secret = secret
        self.on_event = on_event
        self.on_answer = on_answer
        super().__init__(listen, _WebhookHandler, log, "webhook")


class _WebhookHandler(QuietHandler):
    def _server(self) -> WebhookServer:
        return cast(WebhookServer, self.server)

    def _answer(self, code: int, text: str, **fields: object) -> None:
        server = self._server()
        level: Level = "info" if code == 202 else "warning"
        server.log(level, "webhook.request", code=code, reason=text, **fields)
        server.on_answer(code)
        self.respond(code, (text + "\n").encode(), allow="POST" if code == 405 else "")

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != PATH:
            self._answer(404, "not found")
            return
        length = content_length(self.headers)
        if length is None:
            self._answer(400, "a Content-Length header is required")
            return
        if length > MAX_BODY:
            self._answer(413, f"the body is larger than {MAX_BODY} bytes")
            self.discard_body(length)
            return
        body = self.rfile.read(length)
        if len(body) != length:
            self._answer(400, "the body is shorter than its Content-Length")
            return
        self._check(body)

    def _check(self, body: bytes) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        provider = authenticate(headers, body, self._server().secret)
        if provider is None:
            self._answer(401, "missing or invalid signature")
            return
        if not is_json(body):
            self._answer(400, "the body is not JSON")
            return
        self._server().on_event(provider)
        self._answer(202, "accepted", provider=provider, hook=event_name(headers))

    def _not_allowed(self) -> None:
        if self.path.split("?", 1)[0] != PATH:
            self._answer(404, "not found")
            return
        self._answer(405, "only POST is allowed", method=self.command)

    do_GET = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed
