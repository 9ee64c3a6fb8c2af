"""interpolate.py and dotenv.py: compose-go's template and dotenv semantics."""
from __future__ import annotations

import pytest

from dekube_nspawn.errors import ComposeFileError
from dekube_nspawn.loader import dotenv
from dekube_nspawn.loader import yaml as y
from dekube_nspawn.loader.interpolate import interpolate, substitute

ENV = {"SET": "v", "EMPTY": ""}


def sub(template, env=ENV, unset=None):
    return substitute(template, env.get, unset)


@pytest.mark.parametrize("template, expected", [
    ("$SET", "v"), ("${SET}", "v"), ("x${SET}y", "xvy"), ("$SET-x", "v-x"),
    ("$UNSET", ""), ("${UNSET}", ""),
    ("${UNSET:-d}", "d"), ("${EMPTY:-d}", "d"), ("${SET:-d}", "v"),
    ("${UNSET-d}", "d"), ("${EMPTY-d}", ""), ("${SET-d}", "v"),
    ("${SET:+r}", "r"), ("${EMPTY:+r}", ""), ("${UNSET:+r}", ""),
    ("${SET+r}", "r"), ("${EMPTY+r}", "r"), ("${UNSET+r}", ""),
    ("${SET:?m}", "v"), ("${EMPTY?m}", ""),
    ("${UNSET:-${SET}}", "v"), ("${UNSET:-${ALSO:-deep}}", "deep"),
    ("${UNSET:-a}-${SET}-${UNSET:-b}", "a-v-b"),
    ("${UNSET:-with:colon}", "with:colon"), ("${UNSET:-a-b}", "a-b"),
    ("$$", "$"), ("$$SET", "$SET"), ("$${SET}", "${SET}"), ("${UNSET:-$$}", "$"),
    ("a$", "a$"), ("$1", "$1"), ("100$ ", "100$ "), ("$-", "$-"),
    ("${set}", ""), ("$_x", ""),
])
def test_operators(template, expected):
    assert sub(template) == expected


def test_unset_names_are_reported_once():
    unset = []
    sub("$A ${A} ${B:-x} ${C}", unset=unset)
    assert unset == ["A", "C"]


@pytest.mark.parametrize("template", ["${", "${}", "${SET", "${SET:x}", "${1A}", "${A B}"])
def test_invalid_templates(template):
    with pytest.raises(Exception):
        sub(template)


def test_required_error_names_file_line_key_path_and_message():
    text = "services:\n  web:\n    image: ${TAG:?please set TAG}\n"
    doc = y.parse_documents(text, "req.yml")[0]
    with pytest.raises(ComposeFileError) as e:
        interpolate(doc, {}, filename="req.yml")
    assert str(e.value) == ("req.yml:3:5: services.web.image: required variable TAG is missing a "
                            "value: please set TAG")


def test_required_default_operand_is_evaluated_even_when_unused():
    # compose-go interpolates the operand first: ${SET:-${X:?no}} fails although SET is set
    with pytest.raises(Exception):
        sub("${SET:-${X:?no}}")


def test_keys_are_not_interpolated_values_are():
    doc = {"services": {"w": {"environment": {"${SET}": "${SET}"}}}}
    assert interpolate(doc, ENV) == {"services": {"w": {"environment": {"${SET}": "v"}}}}


@pytest.mark.parametrize("path, raw, expected", [
    (("ports", 0, "target"), "${P:-80}", 80),
    (("tty",), "${T:-yes}", True),
    (("privileged",), "False", False),
    (("cpus",), "${C:-1.5}", 1.5),
    (("healthcheck", "retries"), "3", 3),
    (("ulimits", "nofile", "soft"), "1024", 1024),
    (("image",), "${I:-80}", "80"),                         # not a cast path: stays a string
    (("environment", "A"), "${I:-80}", "80"),
])
def test_type_casting_after_interpolation(path, raw, expected):
    service: dict = {}
    node = service
    for part, nxt in zip(path, path[1:] + (None,)):
        if isinstance(part, int):
            continue
        if nxt is None:
            node[part] = raw
        elif isinstance(nxt, int):
            node[part] = [{}]
            node = node[part][0]
        else:
            node = node.setdefault(part, {})
    out = interpolate({"services": {"w": service}}, {})["services"]["w"]
    for part in path:
        out = out[part]
    assert out == expected and type(out) is type(expected)


def test_cast_failure_is_reported_with_key_path():
    with pytest.raises(ComposeFileError, match=r"services\.w\.ports\[0\]\.target: failed to cast"):
        interpolate({"services": {"w": {"ports": [{"target": "${X:-eighty}"}]}}}, {})


def test_network_external_cast():
    out = interpolate({"networks": {"n": {"external": "${E:-true}"}}}, {})
    assert out["networks"]["n"]["external"] is True


# --- dotenv --------------------------------------------------------------------------------------

def test_dotenv_syntax():
    text = (
        "# comment\n"
        "A=1\n"
        "export B=two\n"
        "C = spaced # trailing comment\n"
        "D=\"dq ${A} \\n\\t\\\"q\\\" \\$A\"\n"
        "E='sq ${A} \\n'\n"
        "F=\"multi\nline\"\n"
        "G: yaml-style\n"
        "H=\n"
        "I=a#b\n"
        "J=${A}${UNDEFINED:-def}\n"
        "ENV.WITH-DOT_[0]=ok\n"
    )
    env = dotenv.parse(text, ".env")
    assert env == {
        "A": "1", "B": "two", "C": "spaced", "D": 'dq 1 \n\t"q" $A', "E": "sq ${A} \\n",
        "F": "multi\nline", "G": "yaml-style", "H": "", "I": "a#b", "J": "1def",
        "ENV.WITH-DOT_[0]": "ok",
    }


def test_dotenv_lookup_order_environment_then_file():
    env = dotenv.parse("A=file\nB=${A}\nC\nD\n", "x.env", {"A": "os", "C": "inherited"}.get)
    assert env == {"A": "file", "B": "os", "C": "inherited"}


def test_dotenv_errors_name_file_and_line():
    with pytest.raises(ComposeFileError, match=r"^bad\.env:2: .*unterminated"):
        dotenv.parse("A=1\nB=\"open\n", "bad.env")
    with pytest.raises(ComposeFileError, match=r"^bad\.env:1: .*unexpected character"):
        dotenv.parse("A$=1\n", "bad.env")
    with pytest.raises(ComposeFileError, match=r"^bad\.env:1: required variable X"):
        dotenv.parse("A=${X:?need X}\n", "bad.env")


def test_raw_format_takes_values_literally():
    text = "A=\"q\" ${X}\n# c\n  B='s' \nC=a=b\nHOST\nNOPE\n"
    assert dotenv.parse_raw(text, "r.env", {"HOST": "h"}.get) == {
        "A": "\"q\" ${X}", "B": "'s' ", "C": "a=b", "HOST": "h"}
    with pytest.raises(ComposeFileError, match=r"^r\.env:2: variable 'K ' contains whitespaces"):
        dotenv.parse_raw("A=1\nK = v\n", "r.env")


def test_project_env_files_later_win_and_see_earlier(tmp_path):
    a = tmp_path / "a.env"
    b = tmp_path / "b.env"
    a.write_text("X=1\nY=a\n")
    b.write_text("Y=b\nZ=${X}\n")
    assert dotenv.load_project_env([str(a), str(b)], {}) == {"X": "1", "Y": "b", "Z": "1"}
    with pytest.raises(ComposeFileError, match="Couldn't find env file"):
        dotenv.load_project_env([str(tmp_path / "missing.env")], {})
