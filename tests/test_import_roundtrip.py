"""Property: valid documents round-trip through import -> validate -> plan with no changes.

The pure property starts from canonical saved values; the simulator property starts from a
container made by hand with real vzctl calls, so the config file's own spelling is exercised.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.fields import desired_settings
from reconciler.importer import to_document
from reconciler.plan import Inventory, Policy, plan
from reconciler.plan.observed import ObservedContainer, ObservedState
from reconciler.spec.load import load_desired
from reconciler.spec.models import ContainerSpec
from tests.conftest import make_sim_node
from tests.support import GitRepo, vz, vzgitops

specs = st.fixed_dictionaries(
    {
        "ostemplate": st.sampled_from(
            ["debian-12.0-x86_64-minimal", "centos-6-x86", "ubuntu-22.04-x86_64"]
        )
    },
    optional={
        "hostname": st.from_regex(r"[a-z][a-z0-9-]{0,8}[a-z0-9](\.lan)?", fullmatch=True),
        "ip": st.lists(
            st.integers(2, 250).map(lambda n: f"10.7.0.{n}"), min_size=1, max_size=3, unique=True
        ),
        "nameserver": st.lists(
            st.sampled_from(["10.7.0.1", "10.7.0.2", "2001:db8::53"]),
            min_size=1,
            max_size=2,
            unique=True,
        ),
        "ram": st.sampled_from(["256M", "768M", "1G", "2.5G", "1073741824B", "100.3M"]),
        "swap": st.sampled_from(["128M", "512M", "1G"]),
        "diskspace": st.sampled_from(["5G", "2G:3G", "10G:10.5G", "3145728K", "10.3G:10.7G"]),
        "diskinodes": st.sampled_from([100000, "200000:220000"]),
        "iolimit": st.sampled_from(["10M", "512K", "1536K", 0, "unlimited"]),
        "cpus": st.integers(1, 16),
        "cpuunits": st.integers(8, 500000),
        "cpulimit": st.integers(0, 1600),
        "ioprio": st.integers(0, 7),
        "numproc": st.sampled_from([300, "300:400", "unlimited"]),
        "numfile": st.integers(100, 100000),
        "onboot": st.booleans(),
        "bootorder": st.integers(0, 500),
        "description": st.from_regex(r"[A-Za-z][A-Za-z0-9 ,.()-]{0,30}", fullmatch=True),
        "features": st.dictionaries(
            st.sampled_from(["nfs", "sysfs", "ppp"]), st.booleans(), min_size=1, max_size=2
        ),
        "netfilter": st.sampled_from(["disabled", "stateless", "stateful", "full"]),
        "state": st.sampled_from(["running", "stopped"]),
    },
)


def reload(document: dict[str, Any]) -> Any:
    files = {"imported.yaml": yaml.safe_dump(document, sort_keys=False).encode()}
    return load_desired(files).containers


@settings(max_examples=300, deadline=None)
@given(spec=specs, ctid=st.integers(101, 2147483644))
def test_property_import_validate_plan_is_empty(spec: dict[str, Any], ctid: int) -> None:
    parsed = ContainerSpec.model_validate({"ctid": ctid, **spec})
    status = "running" if parsed.state == "running" else "stopped"
    observed = ObservedContainer(
        ctid=ctid, status=status, saved=desired_settings(parsed, f"ct{ctid}")
    )
    document, warnings = to_document(observed)
    assert warnings == []
    desired = reload(document)
    result = plan(
        desired, ObservedState({ctid: observed}), Inventory(owned=frozenset({ctid})), Policy()
    )
    assert result.empty, result.changes


def _vzctl_argv(ctid: int, spec: dict[str, Any]) -> list[list[str]]:
    create = ["create", str(ctid), "--ostemplate", spec["ostemplate"]]
    options: list[str] = []
    for key, value in spec.items():
        if key in ("ostemplate", "state"):
            continue
        if key in ("ip", "nameserver"):
            for item in value:
                options += ["--ipadd" if key == "ip" else "--nameserver", item]
        elif key == "features":
            options += [
                "--features",
                ",".join(f"{k}:{'on' if v else 'off'}" for k, v in value.items()),
            ]
        elif isinstance(value, bool):
            options += [f"--{key}", "yes" if value else "no"]
        else:
            options += [f"--{key}", str(value)]
    calls = [create, ["set", str(ctid), *options, "--save"]]
    if spec.get("state") != "stopped":
        calls.append(["start", str(ctid)])
    return calls


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=specs)
def test_property_hand_made_container_imports_to_an_empty_plan(
    tmp_path_factory: Any, spec: dict[str, Any]
) -> None:
    root: Path = tmp_path_factory.mktemp("import")
    node = make_sim_node(root / "node")
    env = {**node.env, "VZGITOPS_STATE_DIR": str(root / "state")}
    for argv in _vzctl_argv(150, spec):
        done = vz("vzctl", argv, env)
        assert done.returncode == 0, (argv, done.stderr)
    repo = GitRepo(root / "repo")
    imported = vzgitops(["import", "--out", str(repo.path)], env)
    assert imported.returncode == 0, imported.stderr
    repo.commit("import")
    planned = vzgitops(
        ["plan", "--repo", str(repo.path), "--detailed-exitcode", "--format", "json"], env
    )
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert json.loads(planned.stdout)["summary"] == "Plan: 0 to create, 0 to change, 0 to destroy."
