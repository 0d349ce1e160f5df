"""Names that reach git, checked before they do (pure): refs, shas, paths, URLs, subjects.

Everything a user, a repository or a webhook supplies passes one of these validators before
`gitcmd` puts it on a command line, and then only after `--` or `--end-of-options`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from reconciler.errors import UsageError

SHA_RE = re.compile(r"[0-9a-f]{40}")
SUBJECT_MAX = 200
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_REF_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/@+-]{0,254}")
_SCP_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*@[A-Za-z0-9][A-Za-z0-9.-]*:[^:]")
_URL_SCHEMES = frozenset({"https", "ssh", "file"})
_ANCESTRY = re.compile(r"(?P<name>.+?)(?P<steps>(?:[~^][0-9]{0,4}){0,16})")


def validate_ref(ref: str) -> str:
    """Return `ref` if it is a plain branch, tag or sha name (git check-ref-format, stricter)."""
    parts = ref.split("/")
    bad = (
        not _REF_RE.fullmatch(ref)
        or ".." in ref
        or "@{" in ref
        or ref.endswith((".", "/"))
        or any(not p or p.startswith(".") or p.endswith(".lock") for p in parts)
    )
    if bad:
        raise UsageError(f"ref {ref!r} is not a valid branch, tag or commit name.")
    return ref


def validate_revision(spec: str) -> str:
    """Return `spec` if it is a ref `validate_ref` accepts, optionally followed by ancestry
    steps (`HEAD~1`, `main^`, `v2.0~3^2`): what `--ref`, `--base` and `--head` may name."""
    match = _ANCESTRY.fullmatch(spec)
    if match is None:
        raise UsageError(f"ref {spec!r} is not a valid branch, tag or commit name.")
    try:
        validate_ref(match.group("name"))
    except UsageError:
        raise UsageError(f"ref {spec!r} is not a valid branch, tag or commit name.") from None
    return spec


def split_revision(spec: str) -> tuple[str, str]:
    """A revision `validate_revision` accepted -> its ref name and its ancestry steps."""
    match = _ANCESTRY.fullmatch(spec)
    if match is None:
        raise UsageError(f"ref {spec!r} is not a valid branch, tag or commit name.")
    return match.group("name"), match.group("steps")


def ref_candidates(spec: str) -> list[str]:
    """What `spec` may name, in the order vzgitops takes them: a full sha, a full ref name or
    HEAD as written; else the branch, then the tag, then what git finds (a remote-tracking
    branch, a short sha). git itself would take a tag over a branch of the same name."""
    name, steps = split_revision(validate_revision(spec))
    if SHA_RE.fullmatch(name) or name == "HEAD" or name.startswith("refs/"):
        return [spec]
    return [f"refs/heads/{name}{steps}", f"refs/tags/{name}{steps}", spec]


def validate_sha(sha: str) -> str:
    """Return `sha` if it is a full 40-hex commit id."""
    if not SHA_RE.fullmatch(sha):
        raise UsageError(f"{sha!r} is not a full 40-character commit sha.")
    return sha


def validate_subpath(subpath: str) -> str:
    """Return `subpath` normalised ('' for the root); it must stay inside the repository."""
    pure = PurePosixPath(subpath)
    bad = (
        pure.is_absolute()
        or ".." in pure.parts
        or subpath.startswith("-")
        or "\\" in subpath
        or CONTROL_RE.search(subpath) is not None
    )
    if bad:
        raise UsageError(f"path {subpath!r} must be relative, inside the repository, without '..'.")
    return "" if str(pure) == "." else str(pure)


def is_url(repo: str) -> bool:
    """Whether `repo` names a remote (scheme://... or scp-like user@host:path), not a path."""
    return "://" in repo or _SCP_RE.match(repo) is not None


def validate_url(url: str) -> str:
    """Return `url` if git may fetch it: https, ssh, file or user@host:path, nothing option-like."""
    if not url or url.startswith("-") or any(c.isspace() for c in url) or CONTROL_RE.search(url):
        raise UsageError(f"repository URL {redact(url)!r} is not a valid URL.")
    scheme, sep, _ = url.partition("://")
    if not sep:
        if _SCP_RE.match(url):
            return url
        raise UsageError(f"repository URL {redact(url)!r} is not a valid URL.")
    if scheme.lower() not in _URL_SCHEMES:
        raise UsageError(f"repository URL {redact(url)!r} must use https, ssh or file.")
    try:
        parts = urlsplit(url)
        hosts = [parts.netloc, parts.hostname or ""]
    except ValueError:
        hosts = ["-"]
    if any(host.startswith("-") for host in hosts):
        raise UsageError(f"repository URL {redact(url)!r} has an invalid host.")
    return url


def redact(url: str) -> str:
    """`url` without a password or token in it, for messages."""
    if "://" not in url or "@" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()


def subject_of(message: str | bytes) -> str:
    """First line of a commit message, control characters removed, at most 200 characters."""
    if isinstance(message, bytes):
        message = message.decode("utf-8", errors="replace")
    first = message.strip().split("\n", 1)[0] if message.strip() else ""
    return CONTROL_RE.sub("", first).strip()[:SUBJECT_MAX]


def did_you_mean(ref: str, names: Iterable[str]) -> str:
    """ " Did you mean 'main'?" for the branch and tag names close to a mistyped `ref`, or ""."""
    close = difflib.get_close_matches(ref, sorted(set(names)), n=3, cutoff=0.6)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(name) for name in close) + "?"
