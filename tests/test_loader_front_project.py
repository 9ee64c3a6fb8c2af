"""Project-level front stages through the real pipeline: discovery, environment, name, profiles,
extends, include, env_file, and the one-paragraph errors the CLI prints for them."""
from __future__ import annotations

import io
import json
import textwrap

import pytest

from dekube_nspawn import cli
from dekube_nspawn.errors import ComposeFileError
from dekube_nspawn.loader import LoadOptions, load_project

CLEAN = {"HOME": "/home/compose", "PATH": "/usr/bin:/bin"}


def write(base, files: dict):
    for name, text in files.items():
        p = base / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))


def load(cwd, *files, environ=None, **kw):
    return load_project(LoadOptions(files=tuple(files), cwd=str(cwd), environ=dict(environ or CLEAN), **kw))


def run_cli(monkeypatch, capsys, cwd, argv, environ=None, stdin=None):
    monkeypatch.chdir(cwd)
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    rc = cli.main(argv, environ=dict(environ or CLEAN))
    out, err = capsys.readouterr()
    return rc, out, err


def env_of(project, service):
    return project.services[service].get("environment") or {}


# --- discovery, environment, name ---------------------------------------------------------------

def test_default_files_found_in_parent_with_override(tmp_path):
    write(tmp_path / "My_Proj", {
        "compose.yaml": "services:\n  web:\n    image: a\n",
        "compose.override.yaml": "services:\n  web:\n    image: b\n",
        "sub/deeper/.keep": "",
    })
    p = load(tmp_path / "My_Proj" / "sub" / "deeper")
    assert p.name == "my_proj"
    assert p.project_dir == str(tmp_path / "My_Proj")
    assert p.services["web"]["image"] == "b"
    assert [f.rsplit("/", 1)[1] for f in p.files] == ["compose.yaml", "compose.override.yaml"]


def test_several_default_files_warn_and_the_first_wins(tmp_path):
    from dekube_nspawn.errors import Diagnostics
    write(tmp_path, {"compose.yml": "services:\n  w:\n    image: yml\n",
                     "docker-compose.yaml": "services:\n  w:\n    image: docker\n"})
    d = Diagnostics()
    p = load_project(LoadOptions(cwd=str(tmp_path), environ=dict(CLEAN)), d)
    assert p.services["w"]["image"] == "yml"
    assert any("Found multiple config files" in str(w) for w in d.warnings)


def test_no_compose_file_is_an_error(tmp_path):
    with pytest.raises(ComposeFileError, match="no configuration file provided"):
        load(tmp_path)


def test_name_precedence(tmp_path):
    write(tmp_path / "dir", {"compose.yaml": "name: ${N:-From_File}\nservices:\n  w:\n    image: a\n"})
    d = tmp_path / "dir"
    assert load(d).name == "from_file"
    assert load(d, environ=dict(CLEAN, N="x")).name == "x"
    assert load(d, environ=dict(CLEAN, COMPOSE_PROJECT_NAME="envname")).name == "envname"
    assert load(d, project_name="cli", environ=dict(CLEAN, COMPOSE_PROJECT_NAME="envname")).name == "cli"
    with pytest.raises(Exception, match="invalid project name"):
        load(d, project_name="Bad Name")


def test_bad_names_exit_2_from_the_command_line_1_from_the_environment(tmp_path, monkeypatch, capsys):
    write(tmp_path, {"compose.yaml": "services:\n  w:\n    image: a\n"})
    rc, _, err = run_cli(monkeypatch, capsys, tmp_path, ["-p", "Bad", "config"])
    assert rc == 2 and 'invalid project name "Bad"' in err
    rc, _, err = run_cli(monkeypatch, capsys, tmp_path, ["config"], environ=dict(CLEAN, COMPOSE_PROJECT_NAME="Bad"))
    assert rc == 1 and "COMPOSE_PROJECT_NAME" in err


def test_project_name_is_interpolatable(tmp_path):
    write(tmp_path, {"compose.yaml": "services:\n  w:\n    image: a\n    environment: {P: $COMPOSE_PROJECT_NAME}\n"})
    assert env_of(load(tmp_path, project_name="pp"), "w")["P"] == "pp"


def test_dotenv_and_process_env_precedence(tmp_path):
    write(tmp_path, {
        ".env": "A=dotenv\nB=dotenv\nCOMPOSE_PROJECT_NAME=fromdotenv\nCOMPOSE_PROFILES=p1\n",
        "compose.yaml": """\
            services:
              w:
                image: a
                environment: {A: $A, B: $B}
              opt:
                image: a
                profiles: [p1]
            """,
    })
    p = load(tmp_path, environ=dict(CLEAN, B="process"))
    assert env_of(p, "w") == {"A": "dotenv", "B": "process"}
    assert p.name == "fromdotenv"
    assert set(p.services) == {"w", "opt"}


def test_env_file_options_replace_dotenv(tmp_path):
    write(tmp_path, {
        ".env": "A=dotenv\n",
        "one.env": "A=one\nB=one\n",
        "two.env": "B=two-${A}\n",
        "compose.yaml": "services:\n  w:\n    image: a\n    environment: {A: $A, B: $B}\n",
    })
    p = load(tmp_path, env_files=("one.env", "two.env"))
    assert env_of(p, "w") == {"A": "one", "B": "two-one"}
    p = load(tmp_path, environ=dict(CLEAN, COMPOSE_ENV_FILES="two.env,one.env"))
    assert env_of(p, "w") == {"A": "one", "B": "one"}


def test_compose_file_variable_with_colon_separator(tmp_path):
    write(tmp_path, {"a.yml": "services:\n  w:\n    image: a\n",
                     "b.yml": "services:\n  w:\n    image: b\n"})
    p = load(tmp_path, environ=dict(CLEAN, COMPOSE_FILE="a.yml:b.yml"))
    assert p.services["w"]["image"] == "b"


def test_stdin_file(tmp_path, monkeypatch, capsys):
    rc, out, err = run_cli(monkeypatch, capsys, tmp_path,
                           ["-f", "-", "-p", "s", "config", "--format", "json"],
                           stdin="services:\n  w:\n    image: from-stdin\n")
    assert rc == 0, err
    assert json.loads(out)["services"]["w"]["image"] == "from-stdin"


def test_multi_document_file_merges_documents(tmp_path):
    write(tmp_path, {"compose.yaml": "services:\n  w:\n    image: a\n---\nservices:\n  w:\n    image: b\n"})
    assert load(tmp_path).services["w"]["image"] == "b"


def test_unset_variable_warns(tmp_path):
    from dekube_nspawn.errors import Diagnostics
    write(tmp_path, {"compose.yaml": "services:\n  w:\n    image: a${NOPE}\n"})
    d = Diagnostics()
    load_project(LoadOptions(cwd=str(tmp_path), environ=dict(CLEAN)), d)
    assert any('"NOPE" variable is not set' in str(w) for w in d.warnings)


# --- profiles ------------------------------------------------------------------------------------

PROFILES = """\
    services:
      web: {image: a}
      db: {image: a, profiles: [db]}
      debug: {image: a, profiles: [debug, all]}
      tool:
        image: a
        profiles: [tools]
        depends_on: {db: {condition: service_started, required: false}}
    """


@pytest.mark.parametrize("active, expected", [
    ((), {"web"}),
    (("db",), {"web", "db"}),
    (("all",), {"web", "debug"}),
    (("*",), {"web", "db", "debug", "tool"}),
    (("tools",), {"web", "tool"}),
])
def test_profiles_select_services(tmp_path, active, expected):
    write(tmp_path, {"compose.yaml": PROFILES})
    assert set(load(tmp_path, profiles=active).services) == expected


def test_required_dependency_on_disabled_service_is_an_error(tmp_path):
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: a\n    depends_on: [db]\n"
                                     "  db:\n    image: a\n    profiles: [db]\n"})
    with pytest.raises(ComposeFileError, match='service "web" depends on undefined service "db"') as e:
        load(tmp_path)
    assert str(e.value).startswith(f"{tmp_path}/compose.yaml:4:18: services.web.depends_on.db:")


# --- extends -------------------------------------------------------------------------------------

def test_extends_same_file_chain_inherits_everything(tmp_path):
    write(tmp_path, {"compose.yaml": """\
        services:
          base:
            image: base
            environment: {A: "1", B: "1"}
            depends_on: [db]
          mid:
            extends: base
            environment: {B: "2"}
          top:
            extends: {service: mid}
            image: top
          db: {image: db}
        """})
    p = load(tmp_path)
    top = p.services["top"]
    assert top["image"] == "top"
    assert env_of(p, "top") == {"A": "1", "B": "2"}
    assert "db" in top["depends_on"]
    assert "extends" not in top


def test_extends_other_file_rebases_relative_paths(tmp_path):
    write(tmp_path, {
        "compose.yaml": "services:\n  web:\n    extends: {file: common/base.yml, service: app}\n",
        "common/base.yml": "services:\n  app:\n    image: x\n    build: ./ctx\n    env_file: app.env\n",
        "common/app.env": "FROM_ENV_FILE=yes\n",
    })
    p = load(tmp_path)
    assert p.services["web"]["build"]["context"] == str(tmp_path / "common" / "ctx")
    assert env_of(p, "web") == {"FROM_ENV_FILE": "yes"}


def test_extends_reset_drops_inherited_keys(tmp_path):
    write(tmp_path, {"compose.yaml": """\
        services:
          base: {image: a, ports: ["80:80"]}
          web:
            extends: base
            ports: !reset []
        """})
    assert not load(tmp_path).services["web"].get("ports")


def test_extends_cycle_is_an_error(tmp_path):
    write(tmp_path, {"compose.yaml": "services:\n  a:\n    extends: b\n  b:\n    extends: a\n"})
    with pytest.raises(ComposeFileError, match="circular reference"):
        load(tmp_path)


def test_extends_unknown_service_is_an_error(tmp_path):
    write(tmp_path, {"compose.yaml": "services:\n  a:\n    extends: nope\n"})
    with pytest.raises(ComposeFileError, match='service "nope" not found'):
        load(tmp_path)


# --- include -------------------------------------------------------------------------------------

def test_include_loads_a_project_with_its_own_directory_and_env(tmp_path):
    write(tmp_path, {
        "compose.yaml": "include:\n  - sub/compose.yaml\nservices:\n  web:\n    image: web\n    depends_on: [db]\n",
        "sub/compose.yaml": "services:\n  db:\n    image: db:${DB_TAG}\n    volumes: ['./data:/data']\n",
        "sub/.env": "DB_TAG=16\n",
    })
    p = load(tmp_path)
    assert p.services["db"]["image"] == "db:16"
    assert p.services["db"]["volumes"][0]["source"] == str(tmp_path / "sub" / "data")


def test_include_long_form_with_env_file_and_project_directory(tmp_path):
    write(tmp_path, {
        "compose.yaml": """\
            include:
              - path: [inc/a.yml, inc/b.yml]
                env_file: inc/vars.env
                project_directory: inc
            """,
        "inc/a.yml": "services:\n  x:\n    image: a:${V}\n",
        "inc/b.yml": "services:\n  x:\n    image: b:${V}\n",
        "inc/vars.env": "V=1\n",
    })
    assert load(tmp_path).services["x"]["image"] == "b:1"


@pytest.mark.parametrize("text", ["include: [oci://docker.io/x/y:1]\n",
                                  "include: [{path: 'git@github.com:x/y.git'}]\n",
                                  "services:\n  w:\n    extends: {file: 'https://x/y.yml', service: a}\n"])
def test_remote_resources_are_refused_clearly(tmp_path, text):
    write(tmp_path, {"compose.yaml": text})
    with pytest.raises(ComposeFileError, match="remote .* is not supported"):
        load(tmp_path)


def test_include_same_definition_twice_is_no_conflict(tmp_path):
    write(tmp_path, {"compose.yaml": "include: [a/c.yml, b/c.yml]\n",
                     "a/c.yml": "services:\n  x: {image: a}\nvolumes:\n  v: {}\n",
                     "b/c.yml": "services:\n  y: {image: b}\nvolumes:\n  v: {}\n"})
    assert set(load(tmp_path).services) == {"x", "y"}


def test_include_conflict_is_an_error(tmp_path):
    write(tmp_path, {"compose.yaml": "include: [other.yml]\nservices:\n  db: {image: a}\n",
                     "other.yml": "services:\n  db: {image: b}\n"})
    with pytest.raises(ComposeFileError, match="services.db conflicts with imported resource"):
        load(tmp_path)


# --- env_file ------------------------------------------------------------------------------------

def test_env_file_required_false_format_raw_and_environment_override(tmp_path):
    write(tmp_path, {
        "compose.yaml": """\
            services:
              w:
                image: a
                env_file:
                  - a.env
                  - {path: missing.env, required: false}
                  - {path: raw.env, format: raw}
                environment: [B=from-environment]
            """,
        "a.env": "A=1\nB=2\nC=${A}x\n",
        "raw.env": "R='quoted ${A}'\n",
    })
    assert env_of(load(tmp_path), "w") == {"A": "1", "B": "from-environment", "C": "1x",
                                           "R": "'quoted $${A}'"}  # printed form: `$` as `$$`


# --- errors as the CLI prints them ---------------------------------------------------------------

ERROR_CASES = {
    "yaml-syntax": ({"compose.yaml": "services:\n  web:\n    image: [a\n"},
                    "compose.yaml:4:", None),
    "required-variable": ({"compose.yaml": "services:\n  web:\n    image: ${TAG:?set the TAG}\n"},
                          "compose.yaml:3:5: services.web.image: required variable TAG is missing a value: set the TAG",
                          None),
    "missing-env-file": ({"compose.yaml": "services:\n  web:\n    image: a\n    env_file: nope.env\n"},
                         "compose.yaml:4:5: services.web.env_file[0]: env file", "nope.env not found"),
    "missing-extends-file": ({"compose.yaml": "services:\n  web:\n    extends: {file: nope.yml, service: x}\n"},
                             "compose.yaml:3:15: services.web.extends.file: cannot read", "nope.yml"),
    "include-cycle": ({"compose.yaml": "include: [a.yml]\n", "a.yml": "include: [compose.yaml]\n"},
                      "a.yml:1:11: include[0]: include cycle detected", None),
    "duplicate-key": ({"compose.yaml": "services:\n  web:\n    image: a\n  web:\n    image: b\n"},
                      'compose.yaml:4:3: mapping key "web" already defined at line 2', None),
    "dotenv-syntax": ({"compose.yaml": "services:\n  web:\n    image: a\n", ".env": "OK=1\nBAD KEY=1\n"},
                      ".env:2:", None),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_errors_are_one_paragraph_with_location(tmp_path, monkeypatch, capsys, case):
    files, expected, also = ERROR_CASES[case]
    write(tmp_path, files)
    rc, out, err = run_cli(monkeypatch, capsys, tmp_path, ["config", "--format", "json"])
    assert rc == 1
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert expected in lines[0]
    if also:
        assert also in lines[0]
