"""The repository's two distributions: vzgitops (the production wheel) and vzgitops-sim (sim/).

The wheels are built from a copy of the sources (no build artefacts left in the checkout) with
the venv's setuptools, without build isolation: the vzgitops wheel holds no simulator, the
simulator's holds its data files and nothing of vzgitops; installed from those wheels (not
editable), `vzgitops sim init` writes a node whose `python -IS` entry points run; and without the
simulator `vzgitops sim` says how to install it.
"""

from __future__ import annotations

import importlib.abc
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from reconciler.cli import run

ROOT = Path(__file__).parents[1]
PIP = (sys.executable, "-m", "pip", "--quiet", "--no-input")
OFFLINE = ("--no-deps", "--no-index")
IGNORE = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")


def _unmeasured() -> dict[str, str]:
    """The environment without coverage (`make test`): it measures the checkout's code, not
    the copies these processes build, install and run."""
    return {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}


def _wheel(source: Path, out: Path) -> Path:
    done = subprocess.run(
        [*PIP, "wheel", *OFFLINE, "--no-build-isolation", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        env=_unmeasured(),
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (p for p in out.glob("*.whl") if p.name.startswith(source.name.replace("-", "_")))
    return wheel


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("dist")
    src = tmp / "vzgitops"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("reconciler", "sim"):  # sim/ is there, as in the checkout, and left out
        shutil.copytree(ROOT / name, src / name, ignore=IGNORE)
    shutil.move(src / "sim", tmp / "vzgitops-sim")
    out = tmp / "wheels"
    return {"vzgitops": _wheel(src, out), "vzgitops-sim": _wheel(tmp / "vzgitops-sim", out)}


def _names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


@pytest.mark.slow
def test_the_production_wheel_holds_no_simulator(wheels: dict[str, Path]) -> None:
    names = _names(wheels["vzgitops"])
    assert "reconciler/cli/__init__.py" in names
    assert "reconciler/node/vzconf.py" in names
    top = {name.split("/")[0] for name in names}
    assert top == {"reconciler", "vzgitops-0.1.0.dist-info"}
    assert [n for n in names if "sim" in n.split("/")[1:-1] or "vzsim" in n] == []
    assert [n for n in names if n.endswith((".conf-sample", "usage.txt"))] == []


@pytest.mark.slow
def test_the_simulator_wheel_holds_the_simulator_and_its_data(wheels: dict[str, Path]) -> None:
    names = _names(wheels["vzgitops-sim"])
    top = {name.split("/")[0] for name in names}
    assert top == {"vzsim", "vzgitops_sim-0.1.0.dist-info"}
    for name in ("vzctl.py", "vzlist.py", "py.typed", "data/0.conf", "data/vzctl-usage.txt"):
        assert f"vzsim/{name}" in names
    metadata = next(n for n in names if n.endswith("/METADATA"))
    with zipfile.ZipFile(wheels["vzgitops-sim"]) as archive:
        assert "Requires-Dist: vzgitops" in archive.read(metadata).decode()


@pytest.mark.slow
def test_vzgitops_sim_works_installed_from_the_wheels(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    target = tmp_path / "site"
    done = subprocess.run(
        [*PIP, "install", *OFFLINE, "--target", str(target), *map(str, wheels.values())],
        capture_output=True,
        text=True,
        env=_unmeasured(),
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    node = tmp_path / "node"
    init = (
        f"import sys; sys.path.insert(0, {str(target)!r}); from reconciler.cli import main; "
        f"sys.exit(main(['sim', 'init', {str(node)!r}]))"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", init],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_unmeasured(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    entry = (node / "bin" / "vzctl").read_text(encoding="utf-8")
    assert f"sys.path[:0] = [{str(target)!r}]" in entry
    env = {**_unmeasured(), "VZGITOPS_VZ_CONF_DIR": str(node / "conf")}
    for argv in (["vzctl", "--version"], ["vzlist", "-a", "-H", "-o", "ctid"]):
        done = subprocess.run(
            [str(node / "bin" / argv[0]), *argv[1:]],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_vzgitops_sim_works_in_the_dev_venv(tmp_path: Path) -> None:
    vzgitops = Path(sys.executable).with_name("vzgitops")
    done = subprocess.run(
        [str(vzgitops), "sim", "init", str(tmp_path / "node")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Simulated OpenVZ 4.x node ready" in done.stdout
    done = subprocess.run(
        [str(tmp_path / "node" / "bin" / "vzctl"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


class _NotInstalled(importlib.abc.MetaPathFinder):
    """Finds no vzsim, as an environment without the vzgitops-sim distribution."""

    def find_spec(self, fullname: str, path: object, target: object = None) -> None:
        if fullname.partition(".")[0] == "vzsim":
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)


def test_vzgitops_sim_without_the_simulator_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name in [n for n in sys.modules if n == "vzsim" or n.startswith("vzsim.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_NotInstalled(), *sys.meta_path])
    assert run(["sim", "init", str(tmp_path / "node")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "the simulator is not installed: pip install ./sim" in captured.err
    assert not (tmp_path / "node").exists()
