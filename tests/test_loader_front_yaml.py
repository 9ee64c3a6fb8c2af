"""yaml.py: YAML 1.2 scalars as go-yaml v3 reads them, duplicate keys, tags, alias bombs, positions."""
from __future__ import annotations

import time

import pytest

from dekube_nspawn.errors import ComposeFileError
from dekube_nspawn.loader import yaml as y


def one(text):
    docs = y.parse_documents(text, "t.yml")
    assert len(docs) == 1
    return docs[0]


@pytest.mark.parametrize("text, expected", [
    ("yes", "yes"), ("on", "on"), ("No", "No"), ("y", "y"),          # YAML 1.1 booleans stay strings
    ("true", True), ("False", False), ("TRUE", True),
    ("1:20", "1:20"), ("22:22", "22:22"),                              # no sexagesimal numbers
    ("0777", 511), ("0o17", 15), ("0x1F", 31), ("0b101", 5),          # Go's ParseInt base 0
    ("1_000", 1000), ("-12", -12), ("+12", 12),
    ("1e3", 1000.0), (".5", 0.5), ("1.5", 1.5), ("+.5", 0.5),
    ("08", 8.0), ("1__0", 10), ("0x", "0x"), ("0b2", "0b2"),  # bad octal: a float, as in go-yaml
    ("~", None), ("null", None), ("", None), ("NULL", None),
    ("'0777'", "0777"), ('"true"', "true"),                            # quoted: always strings
    ("1.2.3", "1.2.3"), ("v1", "v1"), ("-x", "-x"), (".", "."),
])
def test_plain_scalars_resolve_like_go_yaml_v3(text, expected):
    assert one(f"k: {text}\n")["k"] == expected


def test_duplicate_key_names_both_lines():
    with pytest.raises(ComposeFileError) as e:
        y.parse_documents("services:\n  a:\n    image: x\n    image: y\n", "dup.yml")
    msg = str(e.value)
    assert msg.startswith("dup.yml:4:5:")
    assert '"image" already defined at line 3' in msg


def test_merge_keys_may_repeat_what_they_merge():
    doc = one("x: &x {a: 1, b: 2}\ny:\n  <<: *x\n  b: 3\n")
    assert doc["y"] == {"a": 1, "b": 3}


def test_anchors_and_aliases_share_values():
    doc = one("base: &b [1, 2]\nother: *b\n")
    assert doc["other"] == [1, 2]


def test_reset_and_override_tags_become_markers():
    doc = one("a: !reset []\nb: !override {c: 1}\nc: !reset null\nd: !override [x]\n")
    assert isinstance(doc["a"], y.Reset) and isinstance(doc["c"], y.Reset)
    assert isinstance(doc["b"], y.Override) and doc["b"].value == {"c": 1}
    assert doc["d"].value == ["x"]


def test_multi_document_files_give_every_document():
    docs = y.parse_documents("a: 1\n---\nb: 2\n---\n", "m.yml")
    assert docs == [{"a": 1}, {"b": 2}]


def test_syntax_error_is_one_paragraph_with_position():
    with pytest.raises(ComposeFileError) as e:
        y.parse_documents("services:\n  a: [1\n  b: 2\n", "bad.yml")
    msg = str(e.value)
    assert msg.startswith("bad.yml:3:")
    assert "\n" not in msg


def test_tab_indentation_is_a_syntax_error():
    with pytest.raises(ComposeFileError, match=r"^tab.yml:2:"):
        y.parse_documents("a:\n\tb: 1\n", "tab.yml")


def test_alias_bomb_is_refused_quickly():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        refs = ", ".join([f"*a{i-1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    start = time.perf_counter()
    with pytest.raises(ComposeFileError, match="alias"):
        y.parse_documents("\n".join(lines) + "\n", "bomb.yml")
    assert time.perf_counter() - start < 2


def test_moderate_alias_use_is_fine():
    lines = ["a0: &a0 [x, x]"] + [f"a{i}: &a{i} [*a{i-1}, *a{i-1}]" for i in range(1, 12)]
    doc = one("\n".join(lines) + "\n")
    assert len(doc["a11"]) == 2


def test_line_of_finds_nested_keys_and_list_items():
    text = "services:\n  web:\n    image: x\n    ports:\n      - 80\n      - 81\n"
    y.parse_documents(text, "pos.yml")
    assert y.line_of("pos.yml", ("services", "web", "image")) == (3, 5)
    assert y.line_of("pos.yml", ("services", "web", "ports", 1)) == (6, 9)
    # a path that goes deeper than the file: the deepest node found
    assert y.line_of("pos.yml", ("services", "web", "nope")) == (2, 3)


def test_locate_says_how_much_of_the_path_a_file_spells_out():
    y.parse_documents("services:\n  web:\n    image: x\n", "one.yml")
    y.parse_documents("services:\n  db:\n    image: x\n", "two.yml")
    assert y.locate("one.yml", ("services", "web", "image")) == (3, 3, 5)
    assert y.locate("two.yml", ("services", "web", "image")) == (1, 1, 1)


def test_line_of_accepts_text():
    assert y.line_of("a:\n  b: 1\n", ("a", "b")) == (2, 3)


def test_thousand_services_parse_fast():
    """~0.15 s on an idle machine; measured against PyYAML's own C loader on the same text, best
    of three, so that a busy CI machine does not make it flaky."""
    import yaml as pyyaml
    svc = ("  s{i}:\n    image: nginx\n    ports: ['{i}:80']\n    environment: {{A: '1', B: x}}\n"
           "    volumes: ['./d:/data']\n    healthcheck: {{test: [CMD, 'true'], interval: 10s}}\n")
    text = "services:\n" + "".join(svc.format(i=i) for i in range(1000))

    def best(fn):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    ours = best(lambda: y.parse_documents(text, "big.yml"))
    reference = best(lambda: pyyaml.load(text, Loader=pyyaml.CSafeLoader))
    assert len(y.parse_documents(text, "big.yml")[0]["services"]) == 1000
    assert ours < 3 * reference + 0.05, f"1000 services: {ours:.2f}s, PyYAML's C loader {reference:.2f}s"


def test_tags_as_go_yaml_reads_them():
    doc = one("a: !!binary aGVsbG8=\nb: !custom x\nc: !custom {k: 1}\nd: !!str 1\ne: !!float 1\n")
    assert doc == {"a": "hello", "b": "x", "c": {"k": 1}, "d": "1", "e": 1.0}
    with pytest.raises(ComposeFileError, match=r"^t\.yml:1:4: .*!!int"):
        y.parse_documents("a: !!int abc\n", "t.yml")


def test_self_referencing_alias_is_refused():
    with pytest.raises(ComposeFileError, match="refers to a node that contains it"):
        y.parse_documents("a: &a [*a]\n", "t.yml")


def test_absurd_nesting_is_an_error_not_a_crash():
    with pytest.raises(ComposeFileError, match="nests too deeply"):
        y.parse_documents("a: " + "[" * 5000 + "]" * 5000 + "\n", "deep.yml")


def _full_loader(text, filename="t.yml"):
    """parse_documents with the fast path turned off: the reference the fast path must match."""
    saved = y._fast_documents

    def unsupported(_text):
        raise y._Unsupported
    y._fast_documents = unsupported
    try:
        return y.parse_documents(text, filename)
    finally:
        y._fast_documents = saved


@pytest.mark.parametrize("text", [
    "services:\n  a:\n    image: x\n    ports: ['80:80', 8080]\n    cpus: 0.5\n    tty: true\n",
    "a: {b: [1, '2', 3.0, .inf, -.Inf, .NaN, 0x1F, 0o17, 0777, 1_000, ~, null, '', yes]}\n",
    "x: &v {k: 1}\ny: *v\nz: [*v, *v]\n",                           # aliases share one value
    "x: &s text\ny: *s\n*s : 2\n",                                     # alias as a key
    "base: &b {a: 1}\nsvc:\n  <<: *b\n  c: 2\n",                       # merge key: full loader
    "a: !reset\nb: !override [1]\nc: !custom x\nd: !!str 1\ne: !!float 1\n",
    "a: 2001-12-14\nb: ! 12\nc: !!map {k: v}\nd: !!seq [1]\n",
    "a: 1\n---\nb: 2\n---\n",
    "- 1\n- [2, {c: d}]\n",
    "'1': a\n\"x\": b\n",
    "k: |\n  multi\n  line\n",
    "# only a comment\n",
    "",
    "a: " + "[" * 80 + "]" * 80 + "\n",                                # deeper than the fast path goes
])
def test_fast_path_builds_what_the_full_loader_builds(text):
    fast = y.parse_documents(text, "t.yml")
    assert repr(fast) == repr(_full_loader(text))  # repr: NaN != NaN


def test_fast_path_shares_aliased_values_and_marks_plain_documents():
    doc = y.parse_documents("x: &v {k: 1}\ny: *v\n", "t.yml")[0]
    assert doc["x"] is doc["y"]
    assert y.is_plain(doc)
    assert not y.is_plain(y.parse_documents("a: !reset\n", "t.yml")[0])
    assert not y.is_plain({"a": 1})


@pytest.mark.parametrize("text", [
    "a: 1\na: 2\n",                    # duplicate key
    "a: 1\n!!str a: 2\n",
    "1: a\n",                          # non-string keys: the pipeline reports them
    "null: a\n",
    "[a]: 1\n",
    "a: *nope\n",                      # undefined alias
    "a: &x [*x]\n",                    # recursive alias
    "a: [1\n",                         # syntax error
    "a: !!int abc\n",
])
def test_fast_path_leaves_errors_and_odd_keys_to_the_full_loader(text):
    def outcome(fn):
        try:
            return ("ok", repr(fn()))
        except ComposeFileError as e:
            return ("error", str(e))
    assert outcome(lambda: y.parse_documents(text, "t.yml")) == outcome(lambda: _full_loader(text))
    for doc in (outcome(lambda: y.parse_documents(text, "t.yml"))[0] == "ok" and
                y.parse_documents(text, "t.yml") or []):
        assert not y.is_plain(doc)  # keys not all strings: the pipeline must check them
