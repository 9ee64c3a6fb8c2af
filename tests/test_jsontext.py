"""jsontext.dumps_reviewable: valid JSON of exactly the value, in the one-line-per-item layout."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from dekube_nspawn.jsontext import dumps_reviewable

scalars = st.none() | st.booleans() | st.integers() | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=30)


@settings(max_examples=500, derandomize=True)
@given(st.dictionaries(st.text(max_size=8), values, max_size=6), st.booleans())
def test_reads_back_as_the_same_value(mapping, ensure_ascii):
    text = dumps_reviewable(mapping, ensure_ascii=ensure_ascii)
    assert json.loads(text) == mapping
    assert text.endswith("\n")
    if ensure_ascii:
        assert text.isascii()


def test_layout_one_line_per_key_and_per_object_item():
    text = dumps_reviewable({"z": None, "command": ["a", "b c"], "environment": [["K", "v"], ["L", "é"]],
                             "files": [{"path": "x", "mode": "0644"}], "empty": []}, ensure_ascii=False)
    assert text == (
        '{\n'
        '  "command": ["a", "b c"],\n'
        '  "empty": [],\n'
        '  "environment": [\n'
        '    ["K", "v"],\n'
        '    ["L", "é"]\n'
        '  ],\n'
        '  "files": [\n'
        '    {"mode": "0644", "path": "x"}\n'
        '  ],\n'
        '  "z": null\n'
        '}\n')


@settings(max_examples=200, derandomize=True)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=12), st.sampled_from([0o644, 0o600, 0o755]),
                          st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)),
                unique_by=lambda t: t[0], max_size=8), st.text(max_size=10))
def test_manifest_is_the_reviewable_layout_of_its_content(entries, project):
    from dekube_nspawn.output import WrittenFile, render_manifest
    written = [WrittenFile(path, mode, digest) for path, mode, digest in entries]
    body = {"files": [{"mode": f"{w.mode:04o}", "path": w.path, "sha256": w.sha256}
                      for w in sorted(written, key=lambda w: w.path)],
            "generator": "dekube-nspawn", "project": project}
    assert render_manifest(project, written).content == dumps_reviewable(body)


@settings(max_examples=300, derandomize=True)
@given(values, st.booleans())
def test_each_value_is_spelled_as_the_c_encoder_spells_it(value, ensure_ascii):
    text = dumps_reviewable({"k": value}, ensure_ascii=ensure_ascii)
    if isinstance(value, list) and value and all(isinstance(v, (dict, list)) for v in value):
        expected = "".join(f"\n    {json.dumps(v, ensure_ascii=ensure_ascii, sort_keys=True)}"
                           + ("," if i < len(value) - 1 else "") for i, v in enumerate(value))
        assert text == '{\n  "k": [' + expected + "\n  ]\n}\n"
    else:
        assert text == '{\n  "k": ' + json.dumps(value, ensure_ascii=ensure_ascii, sort_keys=True) + "\n}\n"
