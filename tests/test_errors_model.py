"""Errors of the model stages (validate, normalize, consistency) as a user sees them: through the
CLI, exit status 1, one paragraph on stderr naming the file, the line where known, and the key path.
"""
from __future__ import annotations

import pytest

from dekube_nspawn import cli

ENV = {"HOME": "/home/compose", "PATH": "/usr/bin:/bin"}


def run_config(tmp_path, text: str, capsys, *extra: str) -> tuple[int, str, str]:
    (tmp_path / "compose.yaml").write_text(text, encoding="utf-8")
    rc = cli.main(["-f", str(tmp_path / "compose.yaml"), "-p", "demo", "config", "--format", "json", *extra],
                  environ=ENV)
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_paragraph(err: str) -> str:
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one paragraph, got:\n{err}"
    assert "Traceback" not in err
    return lines[0]


def test_unknown_key_names_file_line_key_path_and_suggests(tmp_path, capsys):
    rc, out, err = run_config(tmp_path, "services:\n  web:\n    image: nginx\n    imgae: nginx\n", capsys)
    msg = assert_one_paragraph(err)
    assert rc == 1 and out == ""
    assert f"{tmp_path / 'compose.yaml'}:4:5: services.web: unknown key 'imgae'" in msg
    assert "did you mean 'image'" in msg


def test_wrong_type_names_the_key_and_both_types(tmp_path, capsys):
    rc, _, err = run_config(tmp_path, "services:\n  web:\n    image: [nginx]\n", capsys)
    msg = assert_one_paragraph(err)
    assert rc == 1
    assert f"{tmp_path / 'compose.yaml'}:3:5: services.web.image: must be a string, not a list" in msg


def test_wrong_type_deep_in_a_list(tmp_path, capsys):
    text = "services:\n  web:\n    image: nginx\n    ports:\n      - target: 80\n        published: [1]\n"
    rc, _, err = run_config(tmp_path, text, capsys)
    msg = assert_one_paragraph(err)
    assert rc == 1
    assert "services.web.ports[0].published:" in msg and ":6:" in msg


def test_depends_on_cycle_reports_the_whole_cycle(tmp_path, capsys):
    text = ("services:\n"
            "  a:\n    image: x\n    depends_on: [b]\n"
            "  b:\n    image: x\n    depends_on: [c]\n"
            "  c:\n    image: x\n    depends_on: [a]\n")
    rc, _, err = run_config(tmp_path, text, capsys)
    msg = assert_one_paragraph(err)
    assert rc == 1
    assert "dependency cycle detected: a -> b -> c -> a" in msg
    assert "services.c.depends_on.a" in msg
    assert f"{tmp_path / 'compose.yaml'}:10:" in msg


def test_self_dependency_is_a_cycle(tmp_path, capsys):
    rc, _, err = run_config(tmp_path, "services:\n  a:\n    image: x\n    depends_on: [a]\n", capsys)
    assert rc == 1
    assert "dependency cycle detected: a -> a" in assert_one_paragraph(err)


def test_no_consistency_skips_the_cycle_check(tmp_path, capsys):
    rc, out, err = run_config(tmp_path, "services:\n  a:\n    image: x\n    depends_on: [a]\n", capsys,
                              "--no-consistency")
    assert rc == 0, err
    assert '"depends_on"' in out


@pytest.mark.parametrize("text,expected", [
    ("services:\n  a:\n    image: x\n    networks: [back]\n",
     'services.a.networks.back: service "a" refers to undefined network back'),
    ("services:\n  a:\n    image: x\n    volumes: ['data:/data']\n",
     'services.a.volumes[0]: service "a" refers to undefined volume data'),
    ("services:\n  a:\n    image: x\n    secrets: [token]\n",
     'services.a.secrets[0]: service "a" refers to undefined secret token'),
    ("services:\n  a:\n    image: x\n    depends_on: [db]\n",
     'services.a.depends_on.db: service "a" depends on undefined service "db"'),
    ("services:\n  a:\n    image: x\n    network_mode: host\n    networks: [n]\nnetworks:\n  n: {}\n",
     "services.a.network_mode: service a declares mutually exclusive `network_mode` and `networks`"),
    ("services:\n  a:\n    environment: {A: 1}\n",
     'services.a: service "a" has neither an image nor a build context specified'),
    ("services:\n  a:\n    image: x\n    container_name: web\n  b:\n    image: x\n    container_name: web\n",
     'services.b.container_name: container name "web" is already in use by service "a"'),
    ("services:\n  a:\n    image: x\n    scale: 2\n    deploy: {replicas: 3}\n",
     "services.a.scale: can't set distinct values on 'scale' and 'deploy.replicas'"),
    ("services:\n  a:\n    build:\n      context: .\n      additional_contexts: {b: 'service:b'}\n"
     "  b:\n    image: x\n",
     'services.a.build.additional_contexts.b: service "a" declares non-buildable service "b" as additional'),
])
def test_consistency_errors(tmp_path, capsys, text, expected):
    rc, _, err = run_config(tmp_path, text, capsys)
    assert rc == 1
    assert expected in assert_one_paragraph(err)


@pytest.mark.parametrize("text,expected", [
    ("services:\n  a:\n    image: x\n    mem_limit: 12q\n", ":4:5: services.a.mem_limit: invalid size"),
    ("services:\n  a:\n    image: x\n    stop_grace_period: '10'\n",
     ":4:5: services.a.stop_grace_period: invalid duration"),
    ("services:\n  a:\n    image: x\n    ports: ['99999:80']\n", ":4:5: services.a.ports: invalid port range"),
    ("services:\n  a:\n    image: x\n    ports: ['1.2.3:80:80']\n", ":4:5: services.a.ports: invalid IP address: 1.2.3"),
    ("services:\n  a:\n    image: x\n    command: 'echo \"unterminated'\n",
     ":4:5: services.a.command: invalid command line"),
    ("services:\n  a:\n    image: x\n    cpus: .inf\n", ":4:5: services.a.cpus: inf is not a usable number"),
    ("services:\n  a:\n    image: x\n    cpus: 1e40\n", ":4:5: services.a.cpus: 1e+40 is not a usable number"),
    ("services:\n  a:\n    image: x\n    stop_grace_period: 99999999999999999999h\n",
     ":4:5: services.a.stop_grace_period: duration '99999999999999999999h' is out of range"),
    ("services:\n  a:\n    image: x\n    mem_limit: 99999999999999999999999p\n",
     ":4:5: services.a.mem_limit: size '99999999999999999999999p' is out of range"),
])
def test_values_that_cannot_be_decoded(tmp_path, capsys, text, expected):
    rc, _, err = run_config(tmp_path, text, capsys)
    assert rc == 1
    msg = assert_one_paragraph(err)
    assert f"{tmp_path / 'compose.yaml'}{expected}" in msg


def test_ignored_volume_option_is_a_warning_not_silence(tmp_path, capsys):
    rc, out, err = run_config(tmp_path, "services:\n  a:\n    image: x\n    volumes: ['./d:/d:ro,delegated']\n",
                              capsys)
    assert rc == 0
    assert "WARNING: services.a.volumes[0]: unknown volume option 'delegated' ignored" in err
    assert '"read_only": true' in out


# --- mutated corpus files: a DekubeError or a rendering, never another exception -----------------

_ODD_VALUES = [None, 0, -1, 1.5, True, "", "x", "0", "1:2:3:4", "a=b", "::", "/", "~", "$$", [], {}, ["a"],
               {"a": None}, 99999999999999999999, "10s", "1e400", "\t", "..:/x"]


def _mutate(node, r) -> None:
    if isinstance(node, dict) and node:
        key = r.choice(list(node))
        if r.random() < 0.3:
            node[key] = r.choice(_ODD_VALUES)
        else:
            _mutate(node[key], r)
    elif isinstance(node, list) and node:
        i = r.randrange(len(node))
        if r.random() < 0.3:
            node[i] = r.choice(_ODD_VALUES)
        else:
            _mutate(node[i], r)


@pytest.mark.parametrize("seed", range(4))
def test_mutated_corpus_files_fail_cleanly(seed, tmp_path, corpus_dir):
    """Real files with one to three values swapped for odd ones (wrong types, empty strings,
    huge numbers, malformed specs): loading either works or raises DekubeError."""
    import json
    import random

    import yaml

    from dekube_nspawn.errors import DekubeError, Diagnostics
    from dekube_nspawn.loader import LoadOptions, load_project
    from dekube_nspawn.render_config import render_config

    files = sorted(corpus_dir.glob("*/*/compose.yaml"))
    r = random.Random(seed)
    outcomes = {"ok": 0, "error": 0}
    for n in range(60):
        source = r.choice(files)
        try:
            doc = yaml.safe_load(source.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue
        if not isinstance(doc, dict):
            continue
        for _ in range(r.randint(1, 3)):
            _mutate(doc, r)
        case = tmp_path / f"c{n}"
        case.mkdir()
        for sibling in source.parent.iterdir():
            if sibling.name != "compose.yaml" and not sibling.name.startswith("expected"):
                (case / sibling.name).symlink_to(sibling)
        (case / "compose.yaml").write_text(json.dumps(doc), encoding="utf-8")
        try:
            project = load_project(LoadOptions(files=("compose.yaml",), project_name="fuzz", environ=dict(ENV),
                                               cwd=str(case)), Diagnostics())
            render_config(project, "json")
            render_config(project, "yaml")
            outcomes["ok"] += 1
        except DekubeError as e:
            assert str(e).strip() and "\n" not in str(e)
            outcomes["error"] += 1
    assert outcomes["ok"] and outcomes["error"], outcomes


def test_legacy_external_name_warns_like_docker_compose(tmp_path, capsys):
    text = "services:\n  a:\n    image: x\n    volumes: ['data:/v']\nvolumes:\n  data:\n    external:\n      name: real\n"
    rc, out, err = run_config(tmp_path, text, capsys)
    assert rc == 0
    assert "WARNING: volumes.data: external.name is deprecated. Please set name and external: true" in err
    assert '"name": "real"' in out
