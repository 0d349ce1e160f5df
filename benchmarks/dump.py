"""`make bench` (after benchmarks.run): the simulated vzdump of a 200 MiB private area against
`tar czf` of the same directory, side by side in one run (alternating, median of --runs).

    .venv/bin/python -m benchmarks.dump [--mib 200] [--runs 5] [--workdir DIR]

The private area holds a mix like a small guest: half incompressible bytes (binaries, packed
files), half text, in 1 MiB files. Both write gzip level 6 (`tar czf`'s default). The target
is vzdump <= 1.2x tar czf; the line says whether it is met. Exits 1 if either command fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.measure import timed

TARGET = 1.2
MIB = 1 << 20


def _fill(private: Path, mib: int) -> None:
    data = private / "srv" / "data"
    data.mkdir(parents=True, exist_ok=True)
    line = b'2026-12-02 21:00:00 web nginx: GET /index.html 200 4096 "-" "curl/8.0"\n'
    text = (line * (MIB // len(line) + 1))[:MIB]
    for i in range(mib):
        content = os.urandom(MIB) if i % 2 == 0 else text
        (data / f"file{i:04d}.bin").write_bytes(content)


def _node(work: Path, mib: int) -> Path:
    from vzsim.nodeinit import init_node

    root = Path(init_node(str(work / "node"), []))
    create = [str(root / "bin" / "vzctl"), "create", "101", "--ostemplate", "centos-6-x86"]
    subprocess.run(create, check=True, capture_output=True)
    _fill(root / "private" / "101", mib)
    return root


def measure(root: Path, out: Path, runs: int) -> tuple[list[float], list[float]]:
    vzdump = [str(root / "bin" / "vzdump"), "101", "--mode", "stop", "--compress", "gzip",
              "--maxfiles", "0", "--dumpdir", str(out)]  # fmt: skip
    tar = ["tar", "czf", str(out / "plain.tar.gz"), "-C", str(root / "private" / "101"), "."]
    dumps, tars = [], []
    for _ in range(runs):
        dumps.append(timed(vzdump))
        tars.append(timed(tar))
        shutil.rmtree(out)
        out.mkdir()
    return dumps, tars


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.dump", description=__doc__)
    p.add_argument("--mib", type=int, default=200, help="size of the private area (200)")
    p.add_argument("--runs", type=int, default=5, help="runs of each command (5)")
    p.add_argument("--workdir", type=Path, default=None, help="where the node lives (a tmpdir)")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="vzgitops-dump-", dir=args.workdir))
    try:
        root = _node(work, args.mib)
        out = work / "out"
        out.mkdir()
        dumps, tars = measure(root, out, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    dump, tar = statistics.median(dumps), statistics.median(tars)
    ratio = dump / tar
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(f"dump of a {args.mib} MiB private area, median of {args.runs} runs:")
    print(f"  vzdump (simulated) {dump:7.2f} s")
    print(f"  tar czf            {tar:7.2f} s")
    print(f"  ratio              {ratio:7.2f}x  (target <= {TARGET}x: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
