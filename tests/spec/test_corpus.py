"""The corpus of invalid and hostile revisions: every one is refused with the expected problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import SpecError
from reconciler.spec.load import load_desired, validate_files

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p for p in CORPUS.iterdir() if p.is_dir())
VALID = b"apiVersion: vzgitops/v1\nkind: Container\nmetadata:\n  name: web\nspec:\n  ctid: 101\n  ostemplate: centos-7-x86_64\n"


def _files(case: Path) -> dict[str, bytes]:
    return {
        p.relative_to(case).as_posix(): p.read_bytes()
        for p in sorted(case.rglob("*"))
        if p.is_file() and p.name != "expect.txt"
    }


def _expectations(case: Path) -> tuple[int | None, list[str]]:
    count, substrings = None, []
    for line in (case / "expect.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("problems: "):
            count = int(line.removeprefix("problems: "))
        elif line and not line.startswith("#"):
            substrings.append(line)
    return count, substrings


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 45


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case_is_refused_with_the_expected_problems(case: Path) -> None:
    count, substrings = _expectations(case)
    rendered = [p.render() for p in validate_files(_files(case))]
    assert rendered, "an invalid revision must report at least one problem"
    for substring in substrings:
        assert any(substring in line for line in rendered), (substring, rendered)
    if count is not None:
        assert len(rendered) == count, rendered


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_load_desired_raises_the_same_problems(case: Path) -> None:
    files = _files(case)
    with pytest.raises(SpecError) as caught:
        load_desired(files)
    assert [p.render() for p in caught.value.problems] == [
        p.render() for p in validate_files(files)
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (VALID + b"#" * (1 << 20), "web.yaml: file is 1.0 MiB; at most 1 MiB is read"),
        (VALID + b"  description: " + b"x" * (1 << 20) + b"\n", "at most 1 MiB is read"),
    ],
    ids=["oversized-comment", "oversized-value"],
)
def test_generated_hostile_files_are_refused(data: bytes, expected: str) -> None:
    rendered = [p.render() for p in validate_files({"web.yaml": data})]
    assert len(rendered) == 1
    assert expected in rendered[0]


def test_a_file_of_exactly_one_mebibyte_is_read() -> None:
    data = VALID + b"#" * ((1 << 20) - len(VALID))
    assert validate_files({"web.yaml": data}) == []


def test_every_problem_names_file_line_and_field() -> None:
    for case in CASES:
        for problem in validate_files(_files(case)):
            assert problem.path in _files(case)
            if problem.field:
                assert problem.line >= 1 and problem.col >= 1, problem
                assert f":{problem.line}:{problem.col}: {problem.field}: " in problem.render()
