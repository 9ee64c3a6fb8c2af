"""jsontext.dumps_indented is json.dumps(indent=2) byte for byte."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from dekube_nspawn.jsontext import dumps_indented

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.tuples(inner, inner)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=30)


@settings(max_examples=500)
@given(values, st.booleans(), st.booleans())
def test_same_text_as_json_dumps(value, sort_keys, ensure_ascii):
    assert dumps_indented(value, sort_keys=sort_keys, ensure_ascii=ensure_ascii) == \
        json.dumps(value, indent=2, sort_keys=sort_keys, ensure_ascii=ensure_ascii)


def test_keys_json_would_convert_fall_back():
    value = {"a": {1: "x", "b": [None, 2.5]}}
    assert dumps_indented(value) == json.dumps(value, indent=2)
