"""schemas/ is generated, current, valid JSON Schema, and agrees with the loader on examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.cli.schemas import json_schemas, write_schemas
from reconciler.spec.schema import BASE_URL, DIALECT
from reconciler.spec.yamlsafe import load_yaml

ROOT = Path(__file__).parents[1]
SCHEMAS = ROOT / "schemas"
EXAMPLES = sorted((ROOT / "examples").glob("*/*.yaml"))
MODELINE = "# yaml-language-server: $schema="


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def test_schemas_are_current(tmp_path: Path) -> None:
    written = write_schemas(tmp_path)
    assert [p.name for p in written] == sorted(p.name for p in SCHEMAS.glob("*.json"))
    for path in written:
        assert path.read_bytes() == (SCHEMAS / path.name).read_bytes(), (
            f"schemas/{path.name} is stale; run `make schemas` and commit the result"
        )


@pytest.mark.parametrize("name", sorted(json_schemas()))
def test_each_schema_is_valid_2020_12_with_an_id_and_descriptions(name: str) -> None:
    schema: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DIALECT
    assert schema["$id"] == BASE_URL + name
    assert schema["title"].startswith("vzgitops ")
    assert all("description" in field for field in schema["properties"].values())


@pytest.mark.parametrize("path", EXAMPLES, ids=[f"{p.parent.name}/{p.name}" for p in EXAMPLES])
def test_every_example_validates_against_the_schema_of_its_modeline(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(MODELINE + "../../schemas/"), first
    name = Path(first.removeprefix(MODELINE)).name
    validator = _validator(name)
    for document in load_yaml(str(path), path.read_bytes()):
        assert isinstance(document.value, dict)
        assert name == f"{str(document.value['kind']).lower()}.schema.json"
        errors = [e.message for e in validator.iter_errors(document.value)]
        assert errors == [], errors


@pytest.mark.parametrize(
    ("spec", "valid"),
    [
        ({"ctid": 101}, True),
        ({"ctid": 101, "onboot": "yes", "ram": "2.5G", "diskspace": "10G:12G"}, True),
        ({"ctid": 100}, False),
        ({"ctid": "101"}, False),
        ({"ctid": 101, "cpuunits": 7}, False),
        ({"ctid": 101, "hostname": "web;reboot"}, False),
        ({"ctid": 101, "ostemplate": "debian/../x"}, False),
        ({"ctid": 101, "ostemplate": "debian-12.0-x86_64-.."}, False),
        ({"ctid": 101, "description": "$(reboot)"}, False),
        ({"ctid": 101, "ram": "1e9"}, False),
        ({"ctid": 101, "netif": [{"ifname": "eth0", "mac": "00:18:51:ZZ:00:01"}]}, False),
        ({"ctid": 101, "hostnme": "x"}, False),
    ],
)
def test_the_container_schema_refuses_what_the_loader_refuses(
    spec: dict[str, Any], valid: bool
) -> None:
    document = {
        "apiVersion": "vzgitops/v1",
        "kind": "Container",
        "metadata": {"name": "web"},
        "spec": spec,
    }
    assert _validator("container.schema.json").is_valid(document) is valid


def test_the_field_reference_is_current() -> None:
    from reconciler.spec.fieldref import render_fields

    assert (ROOT / "docs" / "FIELDS.md").read_text(encoding="utf-8") == render_fields(), (
        "docs/FIELDS.md is stale; run `make schemas` and commit the result"
    )


def _field_paths(model: Any, prefix: str = "") -> list[str]:
    """Every field of `model` and of the models nested in it, as FIELDS.md names them."""
    import typing

    from pydantic import BaseModel

    paths = []
    for name, info in model.model_fields.items():
        path = prefix + (info.alias or name)
        paths.append(path)
        for arg in (info.annotation, *typing.get_args(info.annotation)):
            for inner in (arg, *typing.get_args(arg)):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    many = typing.get_origin(arg) in (list, tuple)
                    paths += _field_paths(inner, f"{path}{'[].' if many else '.'}")
    return paths


@pytest.mark.parametrize("kind", ["Node", "Defaults", "Container"])
def test_the_field_reference_lists_every_field_of_every_kind(kind: str) -> None:
    from reconciler.spec.models import MODELS

    text = (ROOT / "docs" / "FIELDS.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {kind}\n", 1)[1].split("\n## ", 1)[0]
    rows = {line.split(" | ", 1)[0].removeprefix("| ") for line in section.splitlines()}
    missing = [path for path in _field_paths(MODELS[kind]) if path not in rows]
    assert not missing and len(rows) > 5, missing
