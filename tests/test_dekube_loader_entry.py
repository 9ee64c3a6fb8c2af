"""`loader.load_project_from_mapping`: the loader entry point the dekube transform uses."""
from __future__ import annotations

import json

import pytest

import dekube_harness as dk
from dekube_nspawn.dekube.document import compose_document
from dekube_nspawn.errors import ComposeFileError, Diagnostics
from dekube_nspawn.loader import LoadOptions, load_project, load_project_from_mapping

# Strings a YAML reader would take for another type if they were written unquoted, and
# characters YAML may not carry raw or reads as line breaks.
TRICKY = ["0o17", "on", "1e3", "null", "~", "2024-01-01", "0x1F", "+1", ".inf", "yes", "",
          "x\x85y", "a\u2028b", "\ufeffbom", "del\x7f", "emoji \U0001F600", 'quote " and \\ backslash',
          "tab\tand\nnewline", "#not a comment", "- not a list", "key: value"]


def test_same_project_as_loading_the_document_from_a_file(tmp_path):
    services, config = dk.shop_input()
    doc = compose_document(services, config)
    compose = tmp_path / "compose.yaml"
    compose.write_text(json.dumps(doc))
    from_file = load_project(LoadOptions(files=(str(compose),), project_directory=str(tmp_path / "p"),
                                         cwd=str(tmp_path), environ={}), Diagnostics())
    from_mapping = load_project_from_mapping(doc, project_dir=str(tmp_path / "p"), environ={},
                                             diagnostics=Diagnostics())
    assert from_mapping.data == from_file.data
    assert (from_mapping.name, from_mapping.project_dir) == ("shop", str(tmp_path / "p"))


@pytest.mark.parametrize("value", TRICKY)
def test_every_string_stays_the_same_string(tmp_path, value):
    doc = {"services": {"a": {"image": "busybox", "labels": {"v": value}}}}
    project = load_project_from_mapping(doc, project_dir=str(tmp_path), environ={})
    assert project.services["a"]["labels"]["v"] == value


def test_errors_name_the_source_not_stdin(tmp_path):
    doc = {"services": {"a": {"image": "busybox", "ports": ["1:2:3:4"]}}}
    with pytest.raises(ComposeFileError) as raised:
        load_project_from_mapping(doc, project_dir=str(tmp_path), environ={}, source="dekube's services")
    assert raised.value.file == "dekube's services" and raised.value.line is None
    assert str(raised.value).startswith("dekube's services: services.a.ports")


def test_name_argument_and_environment(tmp_path):
    doc = {"name": "ignored", "services": {"a": {"image": "busybox:${TAG:-1}"}}}
    project = load_project_from_mapping(doc, project_dir=str(tmp_path), name="chosen",
                                        environ={"TAG": "1.36"})
    assert project.name == "chosen"
    assert project.services["a"]["image"] == "busybox:1.36"
