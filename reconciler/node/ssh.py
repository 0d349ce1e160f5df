"""A node reached over ssh (shell): OpenSSH's own client, one multiplexed connection per node.

Every command is an argument list; on the node it becomes one string for the remote shell
(`ssh host cmd args` re-parses its arguments there), so each argument is quoted with
`shlex.quote` and nothing from a repository ever reaches ssh's own options: host, port and user
are validated by the Node model and passed as separate options after `--`-free checks.

- Host keys are always checked (`StrictHostKeyChecking=yes`): against the key the Node pins
  (written to a known_hosts file of this access) or the known_hosts file it names. A key that
  does not match is `HostKeyRefused` (a person must look), never retried.
- One connection per node: the first command of an access opens it (`ControlMaster=yes` with
  `ControlPersist`: once authenticated, ssh forks the master off and runs the command through
  it); every later command rides it (`ControlMaster=no`), and `close()` ends it. The first
  command's output goes to files, not pipes: a master forked by a command whose output is a
  pipe could keep that pipe open (an ssh with `-v` keeps its stderr), and the command's reader
  would wait for it until ControlPersist ends. Should the master die, a command connects on its
  own.
- ssh's exit 255 is its own failure (cannot connect, dropped): `NodeUnreachable`, naming the
  node, an error of that node only. Any other code is the remote command's. A first command
  that times out before any connection came up is `NodeUnreachable` too.
- Few round trips: a plan is two commands on one connection (`listing`: vzlist, then the
  config directory `${VZGITOPS_VZ_CONF_DIR:-/etc/vz/conf}` with all its `CTID.conf` files in
  one `tar` stream; then the identities of all containers in one `stat`/`lsattr` call), and
  one when the access observed the node before (a controller's next cycle): the private areas
  the configs named then go with the listing, and their identities come back with it. Each
  script is a constant text run as `sh -c SCRIPT sh ARG...`, every value a quoted positional
  argument.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from reconciler.errors import (
    CommandTimeout,
    HostKeyRefused,
    NodeUnreachable,
    ObservationIncomplete,
    ObserveError,
)
from reconciler.node.identity import Identity, private_path
from reconciler.node.process import DEFAULT_TIMEOUT, Completed, find_tool, run_bytes
from reconciler.spec.models import Node
from reconciler.spec.models import SshAccess as SshSpec

# The remote command is one argument of ssh here and of `sh -c` on the node, and Linux takes no
# argument over 128 KiB (MAX_ARG_STRLEN): the private-area paths of one command stay under this.
COMMAND_BUDGET = 96 * 1024
SSH_FAILED = 255  # ssh(1): "exits with 255 if an error occurred"
CONTROL_PERSIST = 60  # seconds the master stays after the last command (close() ends it sooner)
_CONF_NAME = re.compile(r"^(?:\./)?([1-9][0-9]*)\.conf$")
# The node's scripts: constant texts, every value a positional argument (`_script`).
_CONF_DIR_SCRIPT = 'printf "%s" "${VZGITOPS_VZ_CONF_DIR:-/etc/vz/conf}"'
_CONFIGS_SCRIPT = (
    'd="${VZGITOPS_VZ_CONF_DIR:-/etc/vz/conf}"; printf "%s\\0" "$d"; cd -- "$d" || exit 3; '
    "find . -maxdepth 1 -name '*.conf' -type f -print0 | tar --null --ignore-failed-read -T - -cf -"
)
_NO_TEMP = 125  # the listing's `mktemp -d` failed: nothing was run
_IDENTITIES_SCRIPT = 'stat -L -c "%d %i %n" -- "$@"; echo @; lsattr -d -v -- "$@" 2>/dev/null'
# One round trip for an observation: `sh -c SCRIPT sh N VZLIST-ARGV... PATH...`. The first N
# arguments are run (vzlist; `eval` sees only "${1}".."${N}", built from numbers), its output
# kept apart and framed by a line "CODE OUTLEN ERRLEN"; then the identities of the private
# areas PATH... (those the last configs named) framed by "LEN"; then the configs as
# `_CONFIGS_SCRIPT` sends them, to the end.
_LISTING_SCRIPT = (
    f"t=$(mktemp -d) || exit {_NO_TEMP}; "
    "trap 'rm -rf -- \"$t\"' EXIT; trap 'exit 129' HUP INT TERM; "
    'n=$1; shift; c=; i=1; while [ "$i" -le "$n" ]; do c="$c \\"\\${$i}\\""; i=$((i+1)); done; '
    'eval "$c" >"$t/o" 2>"$t/e"; r=$?; shift "$n"; : >"$t/i"; '
    'printf "%s %s %s\\n" "$r" "$(wc -c <"$t/o")" "$(wc -c <"$t/e")"; cat -- "$t/o" "$t/e"; '
    'if [ "$#" -gt 0 ]; then { ' + _IDENTITIES_SCRIPT + '; } >"$t/i" 2>/dev/null; fi; '
    'printf "%s\\n" "$(wc -c <"$t/i")"; cat -- "$t/i"; ' + _CONFIGS_SCRIPT
)
_KEY_REFUSED = ("Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED")


@dataclass(frozen=True)
class SshTarget:
    """Where one node's sshd is, and the host key it must present."""

    node: str
    host: str
    port: int
    user: str
    host_key: str | None
    known_hosts: str | None
    connect_timeout: int

    @classmethod
    def of(cls, node: str, spec: SshSpec) -> SshTarget:
        return cls(
            node, spec.host, spec.port, spec.user, spec.hostKey, spec.knownHosts,
            spec.connectTimeout,
        )  # fmt: skip

    @property
    def where(self) -> str:
        return f"ssh {self.user}@{self.host}:{self.port}"

    def known_hosts_line(self) -> str:
        """The pinned key as a known_hosts line (`[host]:port key` off port 22)."""
        name = self.host if self.port == 22 else f"[{self.host}]:{self.port}"
        return f"{name} {self.host_key}\n"


def remote_command(argv: Sequence[str]) -> str:
    """The one string the remote shell parses back into exactly `argv`."""
    return shlex.join(argv)


def _script(script: str, *args: str) -> str:
    """`sh -c SCRIPT sh ARG...` for the remote shell: the script sees each value as "$1"..."""
    return remote_command(["sh", "-c", script, "sh", *args])


@dataclass
class SshAccess:
    """A node over ssh; `run` is its Runner. Not shared between threads."""

    target: SshTarget
    ssh_config: Path | None = None
    _dir: Path | None = field(default=None, init=False, repr=False)
    _conf_dir: PurePosixPath | None = field(default=None, init=False, repr=False)
    _privates: dict[int, str] = field(default_factory=dict, init=False, repr=False)
    _identities: dict[int, Identity | None] | None = field(default=None, init=False, repr=False)
    _master: bool = field(default=False, init=False, repr=False)
    _listed: tuple[int, bytes, bytes] | None = field(default=None, init=False, repr=False)
    _hinted: tuple[dict[int, str], dict[int, Identity | None]] = field(
        default=({}, {}), init=False, repr=False
    )

    @classmethod
    def of(cls, node: Node, ssh_config: Path | None = None) -> SshAccess:
        """The access a Node with `access: ssh` declares."""
        if node.spec.ssh is None:
            raise ValueError(f"node {node.metadata.name} declares no spec.ssh")
        return cls(SshTarget.of(node.metadata.name, node.spec.ssh), ssh_config=ssh_config)

    @property
    def where(self) -> str:
        return self.target.where

    @property
    def node(self) -> str:
        return self.target.node

    # ---- the connection -----------------------------------------------------------------

    def _workdir(self) -> Path:
        if self._dir is None:
            # short: a unix socket path has ~100 bytes; %C below is a 40-character hash
            self._dir = Path(tempfile.mkdtemp(prefix="vzg-"))
            if self.target.host_key is not None:
                (self._dir / "known_hosts").write_text(
                    self.target.known_hosts_line(), encoding="utf-8"
                )
        return self._dir

    def _known_hosts(self) -> str:
        if self.target.known_hosts is not None:
            return str(Path(self.target.known_hosts).expanduser())
        return str(self._workdir() / "known_hosts")

    def ssh_argv(self, remote: str, *extra: str, master: str = "no") -> list[str]:
        """ssh's argument list for one remote command string (`master`: its ControlMaster)."""
        t = self.target
        argv = [find_tool("ssh")]
        if self.ssh_config is not None:
            argv += ["-F", str(self.ssh_config)]
        argv += [
            "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={self._known_hosts()}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "CheckHostIP=no",
            "-o", "UpdateHostKeys=no",
            "-o", f"ConnectTimeout={t.connect_timeout}",
            "-o", "ServerAliveInterval=5",
            "-o", "ServerAliveCountMax=3",
            "-o", f"ControlMaster={master}",
            "-o", f"ControlPath={self._workdir() / '%C'}",
            "-o", f"ControlPersist={CONTROL_PERSIST}",
            "-o", "LogLevel=ERROR",
            "-p", str(t.port),
            "-l", t.user,
            *extra,
            t.host,
        ]  # fmt: skip
        if remote:
            argv.append(remote)
        return argv

    def _ssh(self, remote: str, timeout: float, shown: Sequence[str]) -> tuple[int, bytes, bytes]:
        first = not self._master
        self._master = True  # the next command rides the master, or connects on its own
        argv = self.ssh_argv(remote, master="yes" if first else "no")
        try:
            code, out, err = run_bytes(argv, timeout, detach=first)
        except CommandTimeout as exc:
            if first and not self._connected():
                raise NodeUnreachable(
                    f"node {self.node} ({self.where}): no ssh connection after {timeout:g}s; "
                    "the next cycle tries again"
                ) from exc
            raise CommandTimeout(
                f"node {self.node} ({self.where}): {' '.join(shown[:3])}: no answer after "
                f"{timeout:g}s"
            ) from exc
        if code == SSH_FAILED:
            self._failed(err.decode("utf-8", "replace"))
        return code, out, err

    def _connected(self) -> bool:
        """Whether this access's master connection is up (`ssh -O check`)."""
        try:
            code, _, _ = run_bytes(self.ssh_argv("", "-O", "check"), 10)
        except CommandTimeout:
            return False
        return code == 0

    def _failed(self, stderr: str) -> None:
        said = "; ".join(line.strip() for line in stderr.splitlines() if line.strip())[:300]
        if any(mark in stderr for mark in _KEY_REFUSED):
            raise HostKeyRefused(
                f"node {self.node} ({self.where}): its ssh host key is not the one pinned in "
                f"git (hostKey/knownHosts); nothing was sent to it. ssh said: {said}"
            )
        raise NodeUnreachable(
            f"node {self.node} ({self.where}) cannot be reached over ssh: "
            f"{said or 'the connection failed'}; the next cycle tries again"
        )

    def close(self) -> None:
        """End the master connection and remove this access's files."""
        if self._dir is None:
            return
        exit_argv = self.ssh_argv("", "-O", "exit")  # while _dir still names the socket
        directory, self._dir = self._dir, None
        if self._master:
            with contextlib.suppress(OSError, CommandTimeout):
                run_bytes(exit_argv, 10)
        self._master = False
        self._listed = None
        shutil.rmtree(directory, ignore_errors=True)

    # ---- NodeAccess ---------------------------------------------------------------------

    def run(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        started = time.monotonic()
        self._identities = None  # a vzctl call may create, destroy or move a private area
        self._listed = None  # and change the configs fetched with a listing
        self._hinted = ({}, {})
        code, out, err = self._ssh(remote_command(argv), timeout, argv)
        return Completed(tuple(argv), code, _text(out), _text(err), time.monotonic() - started)

    def listing(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        """`run(argv)` (vzlist), with the configs fetched in the same round trip, and the
        identities of the private areas the last configs this access read named (a controller's
        earlier cycle): `config_texts()` and `identity()` then hand them out instead of asking
        the node again (an identity only where the configs still name the same path)."""
        started = time.monotonic()
        self._identities = None
        hints = dict(self._privates) if _fits(self._privates) else {}
        args = [str(len(argv)), *argv, *hints.values()]
        code, out, err = self._ssh(_script(_LISTING_SCRIPT, *args), timeout, argv)
        if code == _NO_TEMP and not out:  # no temporary directory on the node (/tmp full,
            return self.run(argv, timeout=timeout)  # read-only): vzlist alone, configs after
        (listed, olen, elen), rest = self._frame(out, 3, 1, argv)
        stdout, stderr = rest[:olen], rest[olen : olen + elen]
        (ilen,), rest = self._frame(rest[olen + elen :], 1, 0, argv)
        found = identities_of(rest[:ilen].decode("utf-8", "replace"), hints) if hints else {}
        self._listed = (code, rest[ilen:], err)
        self._hinted = (hints, found)
        return Completed(
            tuple(argv), listed, _text(stdout), _text(stderr), time.monotonic() - started
        )

    def _frame(
        self, data: bytes, count: int, sizes: int, argv: Sequence[str]
    ) -> tuple[list[int], bytes]:
        """A listing's frame line of `count` numbers, the numbers from index `sizes` on being
        the lengths of what it frames, and what follows the line (at least that long)."""
        head, newline, rest = data.partition(b"\n")
        numbers = head.split()
        if not newline or len(numbers) != count or not all(n.isdigit() for n in numbers):
            raise ObserveError(
                f"node {self.node}: {' '.join(argv[:2])} could not be run with the configs: "
                "its output is not what the listing sends"
            )
        values = [int(n) for n in numbers]
        if len(rest) < sum(values[sizes:]):
            raise ObserveError(f"node {self.node}: {' '.join(argv[:2])}: its output came cut")
        return values, rest

    @property
    def conf_dir(self) -> PurePosixPath:
        """Learnt with the configs (`config_texts`); asked on its own only before them."""
        if self._conf_dir is None:
            code, out, err = self._ssh(_script(_CONF_DIR_SCRIPT), 60, ["conf-dir"])
            return self._learn_conf_dir(code, out if code == 0 else b"", err)
        return self._conf_dir

    def _learn_conf_dir(self, code: int, printed: bytes, err: bytes) -> PurePosixPath:
        text = printed.decode("utf-8", "replace").strip()
        if not text.startswith("/"):
            raise ObserveError(
                f"node {self.node}: cannot tell its container config directory "
                f"(exit {code}): {_text(err).strip()}"
            )
        self._conf_dir = PurePosixPath(text)
        return self._conf_dir

    def config_texts(self) -> Iterator[tuple[int, str]]:
        """One round trip (none right after `listing`): the config directory's path, a NUL,
        then the tar of its configs."""
        if self._listed is not None:
            (code, out, err), self._listed = self._listed, None
        else:
            code, out, err = self._ssh(_script(_CONFIGS_SCRIPT), 120, ["tar", "configs"])
        named, _, stream = out.partition(b"\0")
        conf = self._learn_conf_dir(code, named, err)
        if code == 3:
            raise ObservationIncomplete(
                f"node {self.node}: the container config directory {conf} cannot be entered: "
                f"{_text(err).strip()}; nothing is planned for this node"
            )
        if code not in (0, 1):  # GNU tar: 1 = a file changed or went away while read
            raise ObserveError(
                f"node {self.node}: reading {conf} failed (exit {code}): {_text(err).strip()}"
            )
        texts = dict(_untar(stream, self.node))
        self._privates = {
            ctid: path for ctid, text in texts.items() if (path := private_path(text, ctid))
        }
        hints, found = self._hinted
        self._hinted = ({}, {})
        self._identities = {
            ctid: found.get(ctid)
            for ctid, path in hints.items()
            if self._privates.get(ctid) == path
        }
        return iter(sorted(texts.items()))

    def identity(self, ctid: int) -> Identity | None:
        if self._identities is None or ctid not in self._identities:
            self._identities = {**(self._identities or {}), **self._fetch_identities(ctid)}
        return self._identities.get(ctid)

    def _fetch_identities(self, wanted: int) -> dict[int, Identity | None]:
        """Identities of every container whose private area is known, and of `wanted`, in
        one round trip (`stat` and `lsattr -v` give the numbers `local_identity` reads), or one
        per `COMMAND_BUDGET` of paths on a node of thousands of containers."""
        paths = dict(self._privates)
        if wanted not in paths:
            private = self._private_of(wanted)
            if private is None:
                return {wanted: None}
            paths[wanted] = private
        found: dict[int, Identity | None] = {}
        for batch in _batches(paths):
            _, out, _ = self._ssh(_script(_IDENTITIES_SCRIPT, *batch.values()), 120, ["stat"])
            found.update(identities_of(out.decode("utf-8", "replace"), batch))
        return found

    def _private_of(self, ctid: int) -> str | None:
        path = str(self.conf_dir / f"{ctid}.conf")
        code, out, _ = self._ssh(remote_command(["cat", "--", path]), 60, ["cat", path])
        if code != 0:
            return None
        return private_path(out.decode("utf-8", "replace"), ctid)


def _size(path: str) -> int:
    """What `path` adds to a remote command line: quoted, and a space."""
    return len(shlex.quote(path)) + 1


def _fits(paths: Mapping[int, str]) -> bool:
    """Whether `paths` leave a command line under `COMMAND_BUDGET` once quoted."""
    return sum(_size(path) for path in paths.values()) <= COMMAND_BUDGET


def _batches(paths: Mapping[int, str]) -> Iterator[dict[int, str]]:
    """`paths` in pieces that each fit one command line (`_fits`)."""
    batch: dict[int, str] = {}
    size = 0
    for ctid, path in paths.items():
        quoted = _size(path)
        if batch and size + quoted > COMMAND_BUDGET:
            yield batch
            batch, size = {}, 0
        batch[ctid] = path
        size += quoted
    if batch:
        yield batch


def identities_of(text: str, paths: Mapping[int, str]) -> dict[int, Identity | None]:
    """Pure: `stat -c '%d %i %n'`, a line `@`, then `lsattr -d -v` output -> identities."""
    stat_part, _, lsattr_part = text.partition("\n@\n")
    marks: dict[str, Identity] = {}
    for line in stat_part.splitlines():
        dev, _, rest = line.partition(" ")
        ino, _, name = rest.partition(" ")
        if dev.isdigit() and ino.isdigit():
            marks[name] = {"dev": int(dev), "ino": int(ino)}
    for line in lsattr_part.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0].isdigit() and parts[2] in marks:
            marks[parts[2]]["gen"] = int(parts[0])
    return {ctid: marks.get(path) for ctid, path in paths.items()}


def _untar(data: bytes, node: str) -> Iterator[tuple[int, str]]:
    """(ctid, text) of each `CTID.conf` in a tar stream (0.conf, the host's, left out)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            for member in archive:
                match = _CONF_NAME.match(member.name)
                if not (match and member.isfile()):
                    continue
                extracted = archive.extractfile(member)
                if extracted is not None:
                    yield int(match.group(1)), extracted.read().decode("utf-8", "replace")
    except tarfile.TarError as exc:
        raise ObservationIncomplete(
            f"node {node}: the container configs came back unreadable ({exc}); nothing is "
            "planned for this node"
        ) from exc


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace").replace("\r\n", "\n")
