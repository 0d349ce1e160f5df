"""Golden-file comparison: a rendered text against tests/golden/NAME.

Golden files change only under `pytest --update-golden` (see tests/conftest.py); otherwise a
difference fails with the command that refreshes them.
"""

from __future__ import annotations

from pathlib import Path

GOLDEN = Path(__file__).parents[1] / "golden"


def assert_golden(name: str, text: str, update: bool) -> None:
    path = GOLDEN / name
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"tests/golden/{name} is missing; run pytest --update-golden"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"tests/golden/{name} differs; if intended, run pytest --update-golden"
