"""Shared pytest configuration and fixtures."""

from __future__ import annotations

import os
import random
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from vzsim.hardware import Hardware

# ---- golden files (tests/golden/): refreshed only by `pytest --update-golden` -----------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the golden files under tests/golden/ instead of comparing against them",
    )
    parser.addoption(
        "--order",
        choices=("given", "reverse", "random"),
        default="given",
        help="run the collected tests in file order (default), reversed, or shuffled",
    )
    parser.addoption(
        "--order-seed",
        type=int,
        default=None,
        help="seed of --order random (default: a new one, printed in the summary)",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


# ---- end of golden files ----------------------------------------------------------------------


# ---- test order (--order): tests must not depend on the ones that ran before ----------------

ORDER_SEED = pytest.StashKey[int]()


def pytest_configure(config: pytest.Config) -> None:
    seed = config.getoption("--order-seed")
    config.stash[ORDER_SEED] = random.randrange(1 << 32) if seed is None else int(seed)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Name a shuffled order so a failure it caused can be rerun in the same order."""
    if config.getoption("--order") == "random":
        terminalreporter.write_line(f"test order: random, --order-seed {config.stash[ORDER_SEED]}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    order = config.getoption("--order")
    if order == "reverse":
        items.reverse()
    elif order == "random":
        random.Random(config.stash[ORDER_SEED]).shuffle(items)


# ---- end of test order ------------------------------------------------------------------------


# ---- the simulated OpenVZ node (sim/vzsim, the vzgitops-sim distribution) ---------------------


@dataclass(frozen=True)
class SimNode:
    """A simulated node: its state dir, its bin dir, and an env with bin/ on PATH and
    VZGITOPS_VZ_CONF_DIR pointing at its config dir."""

    dir: Path
    bin: Path
    env: dict[str, str]

    def run(self, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the node's `vzctl ...`/`vzlist ...` and capture its output."""
        return subprocess.run(
            [str(self.bin / argv[0]), *argv[1:]],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
            check=False,
        )


def make_sim_node(
    path: Path, templates: tuple[str, ...] = (), machine: Hardware | None = None
) -> SimNode:
    """Create a simulated node in `path` (used by `sim_node` and the replay test)."""
    from vzsim.nodeinit import init_node

    root = Path(init_node(str(path), list(templates), machine=machine))
    _let_coverage_measure(root)
    env = dict(os.environ)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VZGITOPS_VZ_CONF_DIR"] = str(root / "conf")
    return SimNode(root, root / "bin", env)


COVER_SIM_ENV = "VZGITOPS_COVER_SIM"


def _let_coverage_measure(root: Path) -> None:
    """While coverage measures subprocesses (`make test`: pyproject's `patch = ["subprocess"]`
    sets COVERAGE_PROCESS_CONFIG) in the simulator's own tests (tests/sim sets
    VZGITOPS_COVER_SIM), run the node's entry points with `python -I` instead of `-IS`: coverage
    starts in a subprocess from a .pth file, which `-S` (no `site`) skips. Elsewhere the
    simulated tools run unmeasured: tens of thousands of vzctl/vzlist processes each starting
    coverage made `make test` take 21 minutes on CI's 2 cores; the vzgitops processes the
    tests start are measured everywhere."""
    if "COVERAGE_PROCESS_CONFIG" not in os.environ or not os.environ.get(COVER_SIM_ENV):
        return
    tools = (
        "vzctl",
        "vzlist",
        "vzdump",
        "vzrestore",
        "vzmigrate",
        "uname",
        "nproc",
        "free",
        "df",
        "ls",
    )
    for tool in tools:
        entry = root / "bin" / tool
        shebang, rest = entry.read_text(encoding="utf-8").split("\n", 1)
        assert shebang.endswith(" -IS"), f"{entry}: unexpected entry point {shebang!r}"
        entry.write_text(shebang.removesuffix("S") + "\n" + rest, encoding="utf-8")


@pytest.fixture
def sim_node(tmp_path: Path) -> SimNode:
    """A fresh simulated OpenVZ 4.x node in tmp_path/node (vzctl/vzlist as real processes)."""
    return make_sim_node(tmp_path / "node")


@pytest.fixture
def env(sim_node: SimNode, tmp_path: Path) -> dict[str, str]:
    """The environment of a `vzgitops` command against `sim_node`, with its own state dir."""
    return {**sim_node.env, "VZGITOPS_STATE_DIR": str(tmp_path / "state")}


@dataclass(frozen=True)
class SshNode:
    """A simulated node behind its own real sshd on 127.0.0.1 (one port, one node)."""

    node: SimNode
    sshd: Any  # vzsim.sshd.Sshd
    keys: Any  # vzsim.sshd.ClientKeys

    def ssh_argv(self, known_hosts: Path) -> list[str]:
        """The OpenSSH client command that reaches this node, host key pinned."""
        return [
            "ssh", "-F", str(self.keys.config), "-o", f"UserKnownHostsFile={known_hosts}",
            "-o", "StrictHostKeyChecking=yes", "-p", str(self.sshd.port),
            f"{self.sshd.user}@{self.sshd.host}",
        ]  # fmt: skip


@pytest.fixture(scope="session")
def ssh_keys(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The client key pair and ssh_config shared by every sshd of the session."""
    from vzsim import sshd

    why = sshd.available()
    if why is not None:  # never a silent skip: CI installs openssh-server (.ci/run)
        pytest.fail(f"the tests over ssh need a real sshd: {why}")
    return sshd.ClientKeys.create(tmp_path_factory.mktemp("ssh-client"))


def make_ssh_node(path: Path, keys: Any) -> SshNode:
    """A simulated node in `path` served by a new sshd; stop it with `.sshd.stop()`."""
    from vzsim import sshd

    node = make_sim_node(path)
    return SshNode(node, sshd.start(node.dir, keys), keys)


@pytest.fixture
def ssh_node(tmp_path: Path, ssh_keys: Any) -> Iterator[SshNode]:
    """A fresh simulated node in tmp_path/node behind a real sshd on a free loopback port."""
    served = make_ssh_node(tmp_path / "node", ssh_keys)
    try:
        yield served
    finally:
        served.sshd.stop()


@pytest.fixture
def server(tmp_path: Path, ssh_keys: Any) -> Iterator[SshNode]:
    """The server: a second simulated node, behind its own sshd (the laptop is `sim_node`)."""
    served = make_ssh_node(tmp_path / "server", ssh_keys)
    try:
        yield served
    finally:
        served.sshd.stop()


# ---- end of the simulated node ----------------------------------------------------------------
