"""Golden output of every fixture (`fixtures/<case>/compose.yaml` -> `fixtures/<case>/expected/`,
warnings in `fixtures/<case>/warnings.txt`). Regenerate with `pytest --snapshot-update`, then
read the diff: it is what a user of the next version will see change."""
from __future__ import annotations

import pytest

import goldens


def _tree(files) -> dict:
    tree: dict = {}
    for f in files:
        node = tree
        *dirs, name = f.path.split("/")
        for d in dirs:
            node = node.setdefault(d, {})
        node[name] = f.content
    return tree


@pytest.mark.parametrize("case", goldens.cases())
def test_golden_output(case, snapshot):
    files, diagnostics = goldens.convert_fixture(case)
    snapshot.snapshot_dir = goldens.FIXTURES / case
    snapshot.assert_match_dir(_tree(files), "expected")
    snapshot.assert_match(goldens.warnings_text(diagnostics), "warnings.txt")


@pytest.mark.parametrize("case", goldens.cases())
def test_conversion_is_deterministic(case):
    first, _ = goldens.convert_fixture(case)
    second, _ = goldens.convert_fixture(case)
    assert [(f.path, f.content, f.mode) for f in first] == [(f.path, f.content, f.mode) for f in second]


@pytest.mark.parametrize("case", goldens.cases())
def test_output_names_no_path_of_the_converting_machine(case):
    files, _ = goldens.convert_fixture(case)
    checkout = str(goldens.FIXTURES.parent)
    for f in files:
        assert checkout not in f.content, f.path
