"""runtime/process.py: compose's process rules over image defaults, and its stdlib-only promise."""
from __future__ import annotations

import ast
import io
import json
import pathlib
import subprocess
import sys

import pytest

from dekube_nspawn.runtime import process as rp

MODULE = pathlib.Path(rp.__file__)

IMAGE = {"config": {"Entrypoint": ["/docker-entrypoint.sh"], "Cmd": ["nginx", "-g", "daemon off;"],
                    "Env": ["PATH=/usr/bin:/bin", "NGINX_VERSION=1.25", "EMPTY="],
                    "WorkingDir": "/srv", "User": "101"}}


def effective(compose, image=IMAGE):
    return rp.effective_process(rp.image_defaults(image), compose)


def test_image_defaults_apply_when_compose_sets_nothing():
    out = effective({})
    assert out["argv"] == ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"]
    assert out["working_dir"] == "/srv"
    assert out["user"] == "101"
    assert out["environment"] == [["PATH", "/usr/bin:/bin"], ["NGINX_VERSION", "1.25"],
                                  ["EMPTY", ""]]


def test_compose_entrypoint_drops_image_cmd():
    assert effective({"entrypoint": ["/bin/sh", "-c", "echo hi"]})["argv"] == \
        ["/bin/sh", "-c", "echo hi"]


def test_compose_entrypoint_and_command_both_used():
    assert effective({"entrypoint": ["/bin/echo"], "command": ["a", "b"]})["argv"] == \
        ["/bin/echo", "a", "b"]


def test_compose_command_keeps_image_entrypoint():
    assert effective({"command": ["httpd", "-f"]})["argv"] == \
        ["/docker-entrypoint.sh", "httpd", "-f"]


def test_empty_entrypoint_clears_image_entrypoint_and_cmd_unless_command():
    assert effective({"entrypoint": [], "command": ["/bin/true"]})["argv"] == ["/bin/true"]
    with pytest.raises(rp.ProcessError):
        effective({"entrypoint": []})


def test_nothing_to_run_is_an_error():
    with pytest.raises(rp.ProcessError, match="no command"):
        effective({}, image={"config": {}})


def test_environment_compose_wins_keeps_position_and_appends_new():
    out = effective({"environment": [["NGINX_VERSION", "x"], ["NEW", "1"]]})
    assert out["environment"] == [["PATH", "/usr/bin:/bin"], ["NGINX_VERSION", "x"],
                                  ["EMPTY", ""], ["NEW", "1"]]
    # a mapping is accepted as well
    assert effective({"environment": {"NEW": "2"}})["environment"][-1] == ["NEW", "2"]


def test_working_dir_and_user_from_compose_win_and_default():
    out = effective({"working_dir": "/app", "user": "1000:1000"})
    assert (out["working_dir"], out["user"]) == ("/app", "1000:1000")
    bare = effective({"command": ["x"]}, image={"config": {"Env": None}})
    assert (bare["working_dir"], bare["user"]) == ("/", None)


def test_image_config_inner_object_accepted():
    assert effective({}, image=IMAGE["config"])["argv"][0] == "/docker-entrypoint.sh"


def test_env_entry_without_equals_sign():
    assert rp.image_defaults({"Env": ["FOO"]})["env"] == [("FOO", "")]


def test_main_reads_and_writes_json():
    out = io.StringIO()
    rc = rp.main(stdin=io.StringIO(json.dumps({"image": IMAGE, "compose": {"command": ["x"]}})),
                 stdout=out)
    assert rc == 0
    assert json.loads(out.getvalue())["argv"] == ["/docker-entrypoint.sh", "x"]


def test_main_failure_exits_nonzero(capsys):
    assert rp.main(stdin=io.StringIO("{\"image\": {}, \"compose\": {}}"), stdout=io.StringIO()) == 1
    assert "no command" in capsys.readouterr().err


def test_runs_standalone_from_its_source_text(tmp_path):
    """bootstrap.sh embeds the file and runs it with the host's python3, outside the package."""
    copy = tmp_path / "p.py"
    copy.write_text(MODULE.read_text())
    proc = subprocess.run([sys.executable, "-I", str(copy)], capture_output=True, text=True,
                          input=json.dumps({"image": IMAGE, "compose": {"entrypoint": ["/e"]}}),
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["argv"] == ["/e"]


def test_imports_only_the_standard_library():
    tree = ast.parse(MODULE.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            imported.add(node.module.split(".")[0])
    assert imported, "no imports found: the check would be vacuous"
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)
