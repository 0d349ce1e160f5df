"""The reader over either parser: libyaml's where PyYAML has it, PyYAML's own where it has not.

One builder reads the events of both, so the reader's own tests (test_yamlsafe.py) run again in a
Python where PyYAML cannot load libyaml, as on a host without it. What the two parsers are known
to read differently is listed in yamlsafe's docstring; what must not differ is held here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from reconciler.spec import yamlsafe

ROOT = Path(__file__).resolve().parents[2]

_WITHOUT_LIBYAML = """
import sys
sys.modules["yaml._yaml"] = None  # PyYAML as installed without libyaml
import yaml
from reconciler.spec import yamlsafe
assert not yaml.__with_libyaml__ and yamlsafe.PARSER is yaml.SafeLoader
import pytest
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[1:]]))
"""


def test_the_parser_is_libyaml_where_pyyaml_has_it() -> None:
    expected = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
    assert yamlsafe.PARSER is expected


def test_the_readers_tests_pass_without_libyaml() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_LIBYAML, "tests/spec/test_yamlsafe.py"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
