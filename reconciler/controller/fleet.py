"""`vzgitops run` for a fleet: one `Controller` per node, driven by one loop (shell).

    triggers -> fetch once -> the nodes of the tip -> every node that is due: its cycle, at
    most --parallel at once -> each node's ssh connection closed -> schedule the next

The nodes are the ones `plan` and `apply` would work on (`reconciler.fleet`): the ones named
with --node, else every node of the revision reachable from here (access: ssh, and this
machine's). Each is the per-node agent's `Controller`, with its own state directory (this
machine's node: the state directory; a node over ssh: STATE/nodes/NAME), node lock, backoff,
live revision, `status.json`, metrics (their `node` label) and scheduled backups. So one
node's failure (unreachable, refused host key, a failed vzctl call) is that node's: it backs
off on its own schedule while the others go on.

The repository is fetched once per round by the loop; a node's cycle reads the outcome
(`SharedSource`: the members' `fetch` replays it, every git call is serialised). The nodes are
worked out again from each tip that validates: a node added to git is picked up at its first
cycle, a node removed from git is let go (its containers are left as they are). Until a tip
validates, this machine's node alone (the state directory) reports what is wrong, as the
agent does. Each node's ssh master connection lives for one cycle: one connection per node
per cycle.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePath

from reconciler.controller.enforce import StoppableRunner
from reconciler.controller.events import Level, Logger
from reconciler.controller.loop import Controller
from reconciler.controller.metrics import CountingRunner, FleetMetrics, Metrics
from reconciler.controller.settings import Seams, Settings
from reconciler.controller.status_file import status_path
from reconciler.controller.triggers import Reason
from reconciler.errors import UsageError, VzGitopsError
from reconciler.fleet import NODE_ENV, NODES_DIR, Member, fleet_of
from reconciler.node.access import NodeAccess
from reconciler.node.identity import Identity
from reconciler.node.process import DEFAULT_TIMEOUT, Completed, Runner
from reconciler.revcache import DesiredCache, desired_at
from reconciler.source import Commit, Limits, Revision, Source
from reconciler.state import StateDir


class SharedSource:
    """The fleet's one repository. `refresh` fetches it (once per round, by the loop); a
    node's `fetch` raises what that fetch raised, or does nothing; every other call is the
    repository's, one at a time (GitPython's objects are not shared between threads)."""

    def __init__(self, inner: Source) -> None:
        self.inner = inner
        self._lock = threading.RLock()
        self._failed: VzGitopsError | None = None

    def refresh(self) -> None:
        with self._lock:
            try:
                self.inner.fetch()
                self._failed = None
            except VzGitopsError as error:
                self._failed = error

    @property
    def limits(self) -> Limits:
        return self.inner.limits

    def fetch(self) -> None:
        if self._failed is not None:
            raise self._failed.with_traceback(None)

    def resolve(self, ref: str | None) -> str:
        with self._lock:
            return self.inner.resolve(ref)

    def locate(self, ref: str | None, subpath: str = "") -> Commit:
        with self._lock:
            return self.inner.locate(ref, subpath)

    def read_at(self, commit: Commit) -> Revision:
        with self._lock:
            return self.inner.read_at(commit)

    def read(self, ref: str | None, subpath: str = "") -> Revision:
        with self._lock:
            return self.inner.read(ref, subpath)

    def is_ancestor(self, old_sha: str, new_sha: str) -> bool:
        with self._lock:
            return self.inner.is_ancestor(old_sha, new_sha)

    def commits_between(self, old_sha: str | None, new_sha: str) -> list[str]:
        with self._lock:
            return self.inner.commits_between(old_sha, new_sha)

    def verify_signatures(
        self,
        old_sha: str | None,
        new_sha: str,
        *,
        allowed_signers: Path | None,
        gpg_home: Path | None,
    ) -> list[str]:
        with self._lock:
            return self.inner.verify_signatures(
                old_sha, new_sha, allowed_signers=allowed_signers, gpg_home=gpg_home
            )


@dataclass(frozen=True)
class CountedAccess:
    """A node's access whose commands are counted in its metrics and refused once the
    controller is stopping (`runner` and `lister`, built around the access's own `run` and
    `listing`)."""

    inner: NodeAccess
    runner: Runner
    lister: Runner

    @property
    def where(self) -> str:
        return self.inner.where

    @property
    def conf_dir(self) -> PurePath:
        return self.inner.conf_dir

    def run(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        return self.runner(argv, timeout=timeout)

    def listing(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        return self.lister(argv, timeout=timeout)

    def config_texts(self) -> Iterator[tuple[int, str]]:
        return self.inner.config_texts()

    def identity(self, ctid: int) -> Identity | None:
        return self.inner.identity(ctid)

    def close(self) -> None:
        self.inner.close()


@dataclass
class Agent:
    """One node of the central run: its controller and the access its cycles go through."""

    node: str | None  # None: this machine's node before a revision named it
    controller: Controller
    access: NodeAccess
    state: StateDir


class FleetController:
    """The loop over the nodes' controllers; `hub` holds what they share (source, queue,
    log, health, the state directory), `local_access` builds this machine's access."""

    def __init__(
        self, settings: Settings, hub: Seams, local_access: Callable[[], NodeAccess]
    ) -> None:
        if not isinstance(hub.source, SharedSource):
            raise TypeError("the fleet's source is a SharedSource")
        self.settings = settings
        self.hub = hub
        self.source: SharedSource = hub.source
        self.local_access = local_access
        self.cache = DesiredCache(hub.state.root)
        self.agents: dict[str, Agent] = {}  # by node name ("" for this machine before a tip)
        self.rounds = 0
        self.metrics = FleetMetrics(
            hub.metrics, lambda: [a.controller.s.metrics for a in self._all()]
        )
        self._lock = threading.Lock()

    def _all(self) -> list[Agent]:
        with self._lock:
            return list(self.agents.values())

    @property
    def cycles(self) -> int:
        return self.rounds

    # ---- the loop ----------------------------------------------------------------------------

    def loop(self) -> None:
        self.hub.queue.fire("startup")
        while not self.hub.stopping.is_set():
            wait = self._wait()
            self.hub.health.idle(wait)
            self.write_status()
            reasons = self.hub.queue.take(wait)
            if self.hub.stopping.is_set():
                break
            self.hub.health.busy()
            self.run_round(reasons)
        for agent in self._all():
            agent.controller.run_state = "stopped"
        self.write_status()

    def _wait(self) -> float:
        now = self.hub.monotonic()
        agents = self._all()
        if not agents:
            return self.settings.interval
        waits = [max(0.0, a.controller.schedule.next_due()[1] - now) for a in agents]
        return min([*waits, *(a.controller.backup_wait() for a in agents)])

    def run_round(self, reasons: frozenset[Reason]) -> None:
        """Fetch once if any node is due, then each due node's cycle, and every node's due
        backups, in parallel."""
        now = self.hub.monotonic()
        due = {id(a): reasons | a.controller.schedule.due(now) for a in self._all()}
        if any(due.values()) or not due:
            self.source.refresh()
            for agent in self._update_members():
                due[id(agent)] = reasons | {"startup"}
        self.rounds += 1
        work = [(agent, due.get(id(agent), frozenset())) for agent in self._all()]
        if len(work) == 1:
            self._one(*work[0])
            return
        workers = max(1, min(self.settings.parallel, len(work)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda item: self._one(*item), work))

    def _all_named(self) -> list[tuple[str, Agent]]:
        with self._lock:
            return list(self.agents.items())

    def _one(self, agent: Agent, reasons: frozenset[Reason]) -> None:
        """One node's turn: its cycle when due, its due backups; its connection closed."""
        try:
            if reasons:
                agent.controller.run_cycle(reasons)
            if not self.hub.stopping.is_set():
                agent.controller.run_backups()
        except Exception as error:  # a bug in one node's turn must not end the others
            self.hub.log("error", "reconcile.failed", node=agent.node or "",
                         error=f"internal error: {type(error).__name__}: {error}",
                         traceback=traceback.format_exc())  # fmt: skip
        finally:
            agent.access.close()

    # ---- the members -------------------------------------------------------------------------

    def _update_members(self) -> list[Agent]:
        """The nodes of the tip, when it validates (else the ones there are, or this machine's
        node alone): new ones get a controller, dropped ones are let go. The new agents."""
        members = self._members_at_tip()
        if members is None:
            if self.agents:
                return []
            members = [Member("", self.hub.state, self.local_access())]
        before = self._all_named()
        agents: dict[str, Agent] = {}
        for member in members:
            old = self._same(before, member)
            if old is not None:
                member.access.close()  # the one its controller has serves
                agents[member.node] = old
            else:
                agents[member.node] = self._agent(member.node or None, member.state, member.access)
        for name, agent in before:
            if agents.get(name) is not agent:
                self._let_go(agent)
        with self._lock:
            self.agents = agents
        self._forget_statuses()
        known = {id(agent) for _, agent in before}
        return [agent for agent in agents.values() if id(agent) not in known]

    def _same(self, before: list[tuple[str, Agent]], member: Member) -> Agent | None:
        """The agent that already works on this member: the same node, or this machine's
        (the state directory's controller, which follows the node the revision names)."""
        for name, agent in before:
            if name == member.node:
                return agent
            if agent.state.root == member.state.root == self.hub.state.root and member.node:
                agent.controller.follow(member.node)
                agent.node = member.node
                return agent
        return None

    def _members_at_tip(self) -> list[Member] | None:
        try:
            sha = self.source.resolve(self.settings.ref)
            commit = self.source.locate(sha, self.settings.path)
            desired = desired_at(self.source, commit, self.cache)
        except VzGitopsError:  # the node's cycle reports it (fetch, ref, validation)
            return None
        try:
            fleet = fleet_of(
                desired,
                self.hub.state,
                self.local_access,
                chosen=self.settings.nodes,
                ssh_config=self.settings.ssh_config,
                env_node=os.environ.get(NODE_ENV),
            )
        except UsageError as error:
            self.hub.log("error", "fleet.unusable", revision=sha, error=str(error))
            return None
        for note in fleet.skipped:
            self.hub.log("info", "fleet.skipped", note=note)
        return list(fleet.members)

    def _agent(self, node: str | None, state: StateDir, access: NodeAccess) -> Agent:
        remote = state.root != self.hub.state.root
        metrics = Metrics()
        runner = StoppableRunner(CountingRunner(access.run, metrics), self.hub.stopping)
        lister = StoppableRunner(CountingRunner(access.listing, metrics), self.hub.stopping)
        counted = CountedAccess(access, runner, lister)
        seams = dataclasses.replace(
            self.hub,
            access=counted,
            state=state,
            metrics=metrics,
            log=_tagged(self.hub.log, node) if remote and node else self.hub.log,
            listen=self.hub.listen,
        )
        state.ensure()
        settings = dataclasses.replace(
            self.settings, nodes=(node,) if node else self.settings.nodes
        )
        controller = Controller(settings, seams)
        controller.run_state = "running"
        if remote and node:
            self.hub.log("info", "fleet.node", node=node, access=access.where)
        return Agent(node, controller, counted, state)

    def _let_go(self, agent: Agent) -> None:
        agent.access.close()
        if agent.node:
            self.hub.log("info", "fleet.node.dropped", node=agent.node,
                         reason="not a node of the revision any more; its containers are left as they are")  # fmt: skip

    def _forget_statuses(self) -> None:
        """Status documents of nodes this run does not work on are removed, so that `vzgitops
        status` shows the nodes as they are."""
        roots = {a.state.root for a in self.agents.values()}
        candidates = [self.hub.state.root, *(self.hub.state.root / NODES_DIR).glob("*")]
        for root in candidates:
            if root not in roots:
                with contextlib.suppress(OSError):
                    status_path(root).unlink()

    # ---- status ------------------------------------------------------------------------------

    def write_status(self) -> None:
        for agent in self._all():
            agent.controller.write_status()


def _tagged(log: Logger, node: str) -> Logger:
    def tagged(level: Level, event: str, /, **fields: object) -> None:
        log(level, event, node=node, **fields)

    return tagged
