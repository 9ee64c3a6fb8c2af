"""Whatever the input, the loader answers with a result or a `DekubeError`, never a traceback."""
from __future__ import annotations

import os
import tempfile

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dekube_nspawn.errors import DekubeError
from dekube_nspawn.loader import LoadOptions, load_project

KEYS = ["services", "web", "image", "ports", "volumes", "environment", "extends", "include", "env_file",
        "depends_on", "profiles", "networks", "build", "command", "healthcheck", "x-a", "name", "file",
        "service", "path", "target", "published", "required", "secrets", "configs", "labels"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.sampled_from(
    ["", "a", "80:80", "./x:/y", "${A:-1}", "${B:?no}", "$$", "web", "x.env", "compose.yaml", "-", "*"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)), max_leaves=25)
documents = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), values, max_size=4),
    st.fixed_dictionaries({"services": st.dictionaries(st.sampled_from(["web", "db"]),
                                                       st.dictionaries(st.sampled_from(KEYS), values, max_size=5),
                                                       max_size=2)}))


@given(doc=documents, raw=st.booleans())
@settings(max_examples=200, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_any_document_loads_or_fails_cleanly(doc, raw):
    with tempfile.TemporaryDirectory() as d:
        text = yaml.safe_dump(doc) if not raw else yaml.safe_dump(doc, default_flow_style=True)
        with open(os.path.join(d, "compose.yaml"), "w") as fh:
            fh.write(text)
        try:
            load_project(LoadOptions(files=("compose.yaml",), project_name="p", cwd=d,
                                     environ={"HOME": "/home/compose", "PATH": "/usr/bin:/bin"}))
        except DekubeError as e:
            assert "\n" not in str(e)


@given(text=st.text(alphabet="ab:-[]{}&*!|>'\"#\n \t$%@`,?", max_size=60))
@settings(max_examples=200, derandomize=True, deadline=None)
def test_any_text_parses_or_fails_cleanly(text):
    from dekube_nspawn.loader import yaml as y
    try:
        y.parse_documents(text, "fuzz.yml")
    except DekubeError as e:
        assert str(e).startswith("fuzz.yml")
