"""How a node is reached (shell): every vzctl/vzlist call, config read and identity goes
through one `NodeAccess`, so observe, apply and pre-flight run the same code on the node itself
(`LocalAccess`, the agent) and over ssh (`reconciler.node.ssh.SshAccess`).

A Node with `access: ssh` is reached through `SshAccess.of(node)`; every other node is local.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Protocol

from reconciler.node.identity import Identity, identity_at, local_identity, private_path
from reconciler.node.process import DEFAULT_TIMEOUT, Completed, Runner


class NodeAccess(Protocol):
    """One node, as vzgitops reaches it."""

    @property
    def where(self) -> str:
        """How the node is reached, for messages: `local`, `ssh root@10.0.0.2:22`."""
        ...

    @property
    def conf_dir(self) -> PurePath:
        """The node's container config directory (`/etc/vz/conf`), a path on the node."""
        ...

    def run(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        """Run one command on the node (vzctl, vzlist, vzdump, cat, uname...)."""
        ...

    def listing(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        """`run(argv)` for the vzlist call of an observation: an access for which a round trip
        costs fetches the configs with it, for the `config_texts()` that follows."""
        ...

    def config_texts(self) -> Iterator[tuple[int, str]]:
        """(ctid, text) of every `CTID.conf` on the node (vzctl: the container exists iff it
        is there); ObservationIncomplete when the directory cannot be read."""
        ...

    def identity(self, ctid: int) -> Identity | None:
        """The identity of the container's private area (`reconciler.node.identity`)."""
        ...

    def close(self) -> None:
        """Let go of what the access holds open (the ssh master connection)."""
        ...


@dataclass
class LocalAccess:
    """The node vzgitops runs on: vzctl/vzlist on PATH, the config directory on this machine.

    The private-area paths (VE_PRIVATE) seen while the configs are read are kept, so the
    identities asked for right after (ownership, on every plan) do not read each CTID.conf a
    second time; a container not seen then (just created) has its config read."""

    run: Runner
    conf_dir: Path
    _privates: dict[int, str] = field(default_factory=dict, init=False, repr=False)

    @property
    def where(self) -> str:
        return "local"

    def listing(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        return self.run(argv, timeout=timeout)

    def config_texts(self) -> Iterator[tuple[int, str]]:
        from reconciler.node.observe import local_config_texts

        self._privates = {}
        for ctid, text in local_config_texts(self.conf_dir):
            path = private_path(text, ctid)
            if path is not None:
                self._privates[ctid] = path
            yield ctid, text

    def identity(self, ctid: int) -> Identity | None:
        path = self._privates.get(ctid)
        if path is not None:
            return identity_at(path)
        return local_identity(self.conf_dir, ctid)

    def close(self) -> None:
        return None
