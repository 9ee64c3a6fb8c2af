"""Golden output of the dekube transform for the dekube-shop fixture, in the format of
test_golden.py: `fixtures/dekube-shop/expected/` (every file the transform wrote) and
`fixtures/dekube-shop/warnings.txt` (what it added to dekube's warnings). Regenerate with
`pytest --snapshot-update`, then read the diff.

dekube's output directory is the fixed `/srv/fixtures/dekube-shop` (it need not exist: nothing is
read from it), so the goldens hold no path of the converting machine; the files are written to a
temporary directory through the documented `output_dir` option.
"""
from __future__ import annotations

import os

import pytest

import dekube_harness as dk
from dekube_nspawn.dekube import NspawnTransform

DEKUBE_OUTPUT_DIR = "/srv/fixtures/dekube-shop"


@pytest.fixture(autouse=True)
def _no_compose_environment(monkeypatch):
    """The project's environment is the process environment, as for `docker compose`; a
    developer's COMPOSE_* variables must not leak into the goldens."""
    for name in [n for n in os.environ if n.startswith("COMPOSE_")]:
        monkeypatch.delenv(name)


def run_transform(written):
    services, config = dk.shop_input()
    config["extensions"]["nspawn"]["output_dir"] = str(written)
    ctx = dk.DekubeContext(config, DEKUBE_OUTPUT_DIR)
    NspawnTransform().transform(services, [], ctx)
    return ctx


def read_tree(directory) -> dict:
    tree: dict = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            node = tree
            *dirs, name = path.relative_to(directory).parts
            for d in dirs:
                node = node.setdefault(d, {})
            node[name] = path.read_text()
    return tree


def test_golden_output(tmp_path, snapshot):
    ctx = run_transform(tmp_path / "nspawn")
    snapshot.snapshot_dir = dk.SHOP
    snapshot.assert_match_dir(read_tree(tmp_path / "nspawn"), "expected")
    snapshot.assert_match("".join(f"WARNING: {w}\n" for w in ctx.warnings), "warnings.txt")


def test_output_names_no_path_of_the_converting_machine(tmp_path):
    run_transform(tmp_path / "nspawn")
    for path in (tmp_path / "nspawn").rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert str(tmp_path) not in text and str(dk.REPO) not in text, path
