"""Sending reports to a webhook: `notify(url, report)` POSTs the Report's JSON (shell).

Used by the controller with `--notify-url`, for drift reports and for the heartbeat a clean
drift check produces. Retries live here, in one place: connection errors, timeouts, 429 and 5xx
are retried with exponential backoff (tenacity, injectable sleep so tests never wait); any other
4xx is the receiver refusing the report and is not retried. Only http and https URLs are used;
messages name the URL without credentials, query or fragment.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from reconciler import __version__
from reconciler.errors import NotifyFailed, UsageError
from reconciler.report import Report

ATTEMPTS = 5
TIMEOUT = 10.0
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class _Transient(Exception):
    """One failed attempt worth repeating."""


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--notify-url must be an http or https URL, not {shown(url)!r}")
    return url


def shown(url: str) -> str:
    """The URL without user, password, query or fragment: safe for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _request(url: str, body: bytes) -> urllib.request.Request:
    return urllib.request.Request(  # noqa: S310 (check_url allows http and https only)
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": f"vzgitops/{__version__}",
        },
    )


def _post_once(url: str, body: bytes, timeout: float) -> int:
    try:
        with urllib.request.urlopen(_request(url, body), timeout=timeout) as response:  # noqa: S310 (scheme checked)
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()  # it holds the response and its socket
        if error.code in _RETRY_STATUS:
            raise _Transient(f"HTTP {error.code}") from error
        raise NotifyFailed(
            f"{shown(url)} refused the report: HTTP {error.code} {error.reason}"
        ) from error
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        raise _Transient(str(reason)) from error


def notify(
    url: str,
    report: Report,
    *,
    attempts: int = ATTEMPTS,
    timeout: float = TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST the report's JSON; the HTTP status, or `NotifyFailed` after the last attempt."""
    check_url(url)
    body = report.model_dump_json().encode()
    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=0.5, max=30),
        retry=retry_if_exception_type(_Transient),
        sleep=sleep,
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                return _post_once(url, body, timeout)
    except _Transient as error:
        raise NotifyFailed(
            f"could not deliver the report to {shown(url)} after {attempts} attempts: {error}"
        ) from error
    raise NotifyFailed(f"could not deliver the report to {shown(url)}")  # pragma: no cover
