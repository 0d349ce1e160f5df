"""The validated desired state of one revision: what the planner consumes (pure).

`load.load_desired` builds it from a revision's files; the planner never sees YAML, only these
frozen values, with each container's Defaults already merged in.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from reconciler.errors import UsageError
from reconciler.spec.backup import BackupPolicy
from reconciler.spec.models import ContainerSpec, Node
from reconciler.spec.windows import MaintenanceWindow

DEFAULT_NODE = "default"


class Origin(BaseModel):
    """Where a document came from, for messages: `containers/web.yaml:3`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    path: str = Field(description="Repository-relative file path.")
    line: int = Field(default=0, description="1-based line of the document start; 0 when unknown.")

    def render(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


class DesiredContainer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(description="metadata.name, also the vzctl --name.")
    node: str = Field(description="Node name (DEFAULT_NODE when the repository declares none).")
    spec: ContainerSpec = Field(description="Spec with Defaults merged in.")
    origin: Origin = Field(description="File and line of the document.")

    @property
    def ctid(self) -> int:
        return self.spec.ctid


class DesiredState(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    nodes: tuple[Node, ...] = Field(default=(), description="Declared nodes.")
    containers: tuple[DesiredContainer, ...] = Field(
        default=(), description="Containers, sorted by ctid."
    )

    def choose_node(self, chosen: str | None) -> str:
        """The one node a command works on: the one chosen (`--node`), the only one declared,
        or `default`; a name not declared, or none chosen among several, is a UsageError."""
        declared = sorted(n.metadata.name for n in self.nodes)
        if chosen:
            if declared and chosen not in declared:
                raise UsageError(
                    f"node {chosen!r} is not declared in the repository "
                    f"(declared: {', '.join(declared)})"
                )
            return chosen
        if len(declared) > 1:
            raise UsageError(
                f"the repository declares several nodes ({', '.join(declared)}); pass --node NAME"
            )
        return declared[0] if declared else DEFAULT_NODE

    def for_node(self, node: str | None) -> tuple[DesiredContainer, ...]:
        """Containers of one node; None or a single-node repository: all of them."""
        if node is None or not self.nodes:
            return self.containers
        return tuple(c for c in self.containers if c.node == node)

    def node_windows(self, node: str | None) -> tuple[MaintenanceWindow, ...]:
        """The maintenance windows the node declares (none: always open)."""
        for declared in self.nodes:
            if declared.metadata.name == node and declared.spec.maintenance:
                return tuple(declared.spec.maintenance)
        return ()

    def backup_policies(self, node: str | None) -> dict[int, BackupPolicy]:
        """ctid -> the backup policy of each container of the node that has one: its own (or
        its Defaults'), else the node's."""
        declared = next((n for n in self.nodes if n.metadata.name == node), None)
        fallback = declared.spec.backup if declared is not None else None
        found = {}
        for d in self.for_node(node):
            policy = d.spec.backup or fallback
            if policy is not None:
                found[d.ctid] = policy
        return found

    def prune_enabled(self, node: str | None) -> bool:
        for declared in self.nodes:
            if (node is None or declared.metadata.name == node) and declared.spec.prune:
                return True
        return False
