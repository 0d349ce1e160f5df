"""`make bench` still runs: the harness at 10 containers, one run, checked for behaviour only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROWS = (
    "no-op plan", "no-op apply", "no-op plan, first run at a tree",
    "no-op apply, first run at a tree", "1% change: plan", "1% change: apply",
    "simulator: vzlist -a -j -o", "simulator: vzctl set", "admin script: set everything",
    "validate (10 files)",
)  # fmt: skip


def _table(markdown: str, first_header: str) -> dict[str, dict[str, str]]:
    """A markdown table of the report, by its first column."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    headers = [cell.strip() for cell in lines[start].strip("|").split("|")]
    table = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        table[cells[0]] = dict(zip(headers, cells, strict=True))
    return table


@pytest.mark.slow
def test_the_benchmark_runs_at_ten_containers(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--sizes", "10", "--runs", "1",
         "--validate-files", "10", "--idle-seconds", "1", "--out", str(out),
         "--workdir", str(tmp_path / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for row in ROWS:
        assert f"\n{row} " in done.stdout
    report = out.read_text(encoding="utf-8")
    rows = _table(report, "scenario")
    assert set(ROWS) <= set(rows)
    assert (rows["no-op apply"]["vzlist"], rows["no-op apply"]["vzctl"]) == ("1", "0")
    assert (rows["no-op plan"]["vzlist"], rows["no-op plan"]["vzctl"]) == ("1", "0")
    cold = rows["no-op apply, first run at a tree"]
    assert (cold["vzlist"], cold["vzctl"]) == ("1", "0")
    assert rows["1% change: apply"]["vzctl"] == "1"
    assert rows["admin script: set everything"]["vzctl"] == "10"
    assert set(_table(report, "trigger")) == {"--watch", "signed webhook"}
    assert "idle over 1 s" in report


@pytest.mark.slow
def test_the_migrate_benchmark_moves_the_container_and_writes_its_row(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\n## How it is measured\n\n- ...\n", encoding="utf-8")
    argv = [sys.executable, "-m", "benchmarks.migrate", "--mib", "4", "--runs", "1",
            "--workdir", str(tmp_path), "--out", str(out)]  # fmt: skip
    for _ in range(2):  # the second run replaces the section
        done = subprocess.run(
            argv, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "rsync -aH over the same ssh" in done.stdout
    report = out.read_text(encoding="utf-8")
    assert report.count("## Moving a container: vzmigrate vs rsync") == 1
    assert report.index("## Moving a container") < report.index("## How it is measured")
    assert "| stopped CT, 4 MiB private area | 1 |" in report
