"""What a failed vzctl call's message keeps of its output (pure)."""

from __future__ import annotations

import pytest

from reconciler.errors import DETAIL_CHARS, vzctl_detail

CHATTER = (
    "Directory /proc/vz not found, assuming non-OpenVZ kernel\nUB limits were set successfully"
)


@pytest.mark.parametrize(
    ("stdout", "stderr", "expected"),
    [
        (
            "Directory /proc/vz not found, assuming non-OpenVZ kernel",
            "vztmpl-dl ERROR: template nosuch not found!\n"
            "Cached OS template /vz/template/cache/nosuch.tar[.gz|.bz2|.xz] not found\n"
            "Creation of container private area failed\n",
            "vztmpl-dl ERROR: template nosuch not found!; "
            "Cached OS template /vz/template/cache/nosuch.tar[.gz|.bz2|.xz] not found; "
            "Creation of container private area failed",
        ),
        (
            CHATTER,
            "Failed to set limits for CPU limits (Invalid argument)\n"
            "Error: failed to apply some parameters, not saving configuration file!",
            "Failed to set limits for CPU limits (Invalid argument); "
            "Error: failed to apply some parameters, not saving configuration file!",
        ),
        (
            "Directory /proc/vz not found\nContainer is currently running. Stop it first.\n",
            "",
            "Container is currently running. Stop it first.",
        ),
        ("", "", ""),
        ("", "a\nb\nc\nd\ne\nf\n", "a; b; c; ... (2 more); f"),
    ],
)
def test_detail_is_the_error_lines(stdout: str, stderr: str, expected: str) -> None:
    assert vzctl_detail(stdout, stderr) == expected


def test_detail_is_bounded() -> None:
    detail = vzctl_detail("", "x" * 5000)
    assert len(detail) == DETAIL_CHARS and detail.endswith("...")
