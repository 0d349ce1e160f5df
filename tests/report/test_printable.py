"""Control characters in values from the node are shown as visible escapes (pure)."""

from __future__ import annotations

import pytest

from reconciler.plan import Inventory, Policy, plan
from reconciler.plan.observed import ObservedContainer, ObservedState
from reconciler.report import build_report, render
from reconciler.report.text import printable
from tests.report.cases import container, on_node


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text, ünïcode | <b>", "plain text, ünïcode | <b>"),
        ("\x1b[2J\x1b]0;title\x07", "\\x1b[2J\\x1b]0;title\\x07"),
        ("csi\x9b31m del\x7f nul\x00", "csi\\x9b31m del\\x7f nul\\x00"),
        ("fake\nline\r", "fake\\x0aline\\x0d"),
        ("rtl\u202eoverride\u2028sep", "rtl\\u202eoverride\\u2028sep"),
    ],
)
def test_printable(raw: str, shown: str) -> None:
    assert printable(raw) == shown


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_a_node_value_with_escapes_is_rendered_escaped(fmt: str) -> None:
    web = container(101, "web", description="web")
    observed = ObservedState({101: on_node(web, description="\x1b[31mred\nfake line")})
    planned = plan((web,), observed, Inventory(owned=frozenset({101})), Policy())
    shown = render(build_report(planned), fmt)  # type: ignore[arg-type]
    assert "\x1b" not in shown and "fake line" in shown
    assert "\\x1b[31mred" in shown
    if fmt == "text":
        assert "\\x0afake line" in shown  # one line: a value cannot start a line of its own


def test_an_unmanaged_name_with_escapes_is_rendered_escaped() -> None:
    odd = ObservedContainer(ctid=900, status="running", saved={"name": "x\x1b[8m"}, running={})
    planned = plan((), ObservedState({900: odd}), Inventory(), Policy())
    assert "(x\\x1b[8m, running): unmanaged" in render(build_report(planned), "text")
