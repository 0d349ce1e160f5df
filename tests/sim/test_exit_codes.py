"""The exit-code tables: vzctl's names from REFERENCE 8.1 and vzmigrate's from 10.1, shared by
the executor and the simulator, and light enough for the simulator's per-call processes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from reconciler.apply import classify
from reconciler.vzexit import VzctlExit, VzmigrateExit


@pytest.mark.parametrize(
    ("code", "name"),
    [(3, "SYSTEM_ERROR"), (9, "LOCKED"), (14, "NOVECONFIG"), (20, "INVALID_PARAMETER_SYNTAX"),
     (21, "INVALID_PARAMETER_VALUE"), (31, "VE_NOT_RUNNING"), (32, "VE_RUNNING"),
     (44, "FS_PRVT_AREA_EXIST"), (78, "IP_INUSE"), (91, "OSTEMPLATE_NOT_FOUND"),
     (139, "CONFIG_SAVE_ERROR"), (152, "MOUNT_IMAGE")],
)  # fmt: skip
def test_codes_have_the_names_of_vzerror_h(code: int, name: str) -> None:
    assert VzctlExit(code).name == name


@pytest.mark.parametrize(
    ("code", "name"),
    [(1, "USAGE"), (2, "VPS_IS_STOPPED"), (4, "CANT_CONNECT"), (6, "COPY"), (7, "START_VPS"),
     (8, "STOP_SOURCE"), (9, "EXISTS"), (10, "NOEXIST"), (12, "IP_IN_USE"), (13, "QUOTA"),
     (14, "OVZ_NOT_RUNNING"), (15, "APPLY_CONFIG"), (16, "UNSUP_PLOOP"), (17, "UNSUP_CPT_VER"),
     (18, "UNSUP_CPU"), (19, "CANT_READ_REMOTE_CONFIG"), (20, "LOCKED")],
)  # fmt: skip
def test_vzmigrate_codes_have_the_names_of_its_mig_err(code: int, name: str) -> None:
    assert VzmigrateExit(code).name == name


def test_the_table_classifies_by_name() -> None:
    assert classify("set", VzctlExit.LOCKED) == "transient"
    assert classify("start", VzctlExit.VE_RUNNING) == "ok"
    assert classify("set", VzctlExit.INVALID_PARAMETER_VALUE) == "permanent"


def test_the_simulated_vzctl_uses_it_without_pydantic() -> None:
    probe = (
        "import sys, vzsim.vzctl, vzsim.vzlist, vzsim.vzmigrate; "
        "assert 'reconciler.vzexit' in sys.modules; "
        "assert 'reconciler.node.vzconf' in sys.modules; "
        "heavy = [m for m in ('pydantic', 'yaml', 'git') if m in sys.modules]; "
        "assert not heavy, f'the simulator must start light: {heavy}'"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
