"""The layers of docs/ARCHITECTURE.md, as pyproject's import-linter contracts state them.

Every top-level module of `reconciler` is named core or shell in the contract, so a new module
cannot slip past it unclassified; and the contract is shown to fail on a real violation, by
running `lint-imports` over a copy of the package with one shell import added to the core.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "reconciler"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _purity() -> dict[str, Any]:
    return next(c for c in _contracts() if c["type"] == "forbidden")


def _top_level_modules() -> set[str]:
    names = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    names |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    return {f"reconciler.{name}" for name in names}


def test_every_module_is_named_core_or_shell() -> None:
    contract = _purity()
    core = set(contract["source_modules"])
    shell = {m for m in contract["forbidden_modules"] if m.startswith("reconciler.")}
    assert not core & shell
    assert _top_level_modules() - core - shell == set(), (
        "add the new module to pyproject's [tool.importlinter] contract, as core or shell"
    )
    assert (core | shell) - _top_level_modules() == set(), "the contract names a module gone"


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "200"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(PACKAGE, tmp_path / "reconciler", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _add_import(module: Path, line: str) -> None:
    text = module.read_text(encoding="utf-8")
    head = "from __future__ import annotations\n"
    module.write_text(text.replace(head, f"{head}\n{line}\n", 1), encoding="utf-8")


def test_the_contracts_hold(copy: Path) -> None:
    done = _lint_imports(copy)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("plan/model.py", "import reconciler.node.process", "reconciler.plan is not allowed to import reconciler.node"),
        ("report/text.py", "from reconciler.apply import Executor", "reconciler.report is not allowed to import reconciler.apply"),
        ("spec/models.py", "import subprocess", "reconciler.spec is not allowed to import subprocess"),
        ("spec/desired.py", "from reconciler.report import Report", "reconciler.spec is not allowed to import reconciler.report"),
        ("node/observe.py", "from vzsim.nodeinit import init_node", "reconciler.node.observe -> vzsim"),
    ],
)  # fmt: skip
def test_a_shell_import_in_the_core_fails_the_lint(
    copy: Path, module: str, line: str, broken: str
) -> None:
    _add_import(copy / "reconciler" / module, line)
    done = _lint_imports(copy)
    assert done.returncode == 1, done.stdout + done.stderr
    assert broken in done.stdout
