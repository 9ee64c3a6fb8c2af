"""The process entry point (`python -m dekube_nspawn`, the `dekube-nspawn` script): it exits with
os._exit, skipping interpreter teardown, so everything it printed must still be flushed and its
exit code kept."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import goldens

HELLO = goldens.FIXTURES.parent / "examples" / "hello" / "compose.yaml"
REPO = goldens.FIXTURES.parent


def dekube(*argv, **kwargs):
    env = {"HOME": os.environ.get("HOME", "/root"), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "dekube_nspawn", *argv], env=env, **kwargs)


def test_piped_output_is_complete_and_exit_code_zero(tmp_path):
    # Larger than a pipe buffer and any stdio buffer: a lost flush would truncate it.
    services = "".join(f"  s{i}:\n    image: busybox\n    environment: [\"V={'x' * 200}\"]\n"
                       for i in range(300))
    (tmp_path / "compose.yaml").write_text("services:\n" + services)
    r = dekube("-f", str(tmp_path / "compose.yaml"), "config", "--format", "json",
               capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["services"]) == 300


def test_error_exit_code_and_message_survive(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: [\n")
    r = dekube("-f", str(tmp_path / "compose.yaml"), "convert", "-o", str(tmp_path / "out"),
               capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.startswith("dekube-nspawn: error: ") and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def test_usage_error_exit_code_two(tmp_path):
    r = dekube(capture_output=True, text=True)
    assert r.returncode == 2 and "name a verb" in r.stderr


def test_convert_writes_everything_before_exiting(tmp_path):
    out = tmp_path / "out"
    r = dekube(str(HELLO), "--output-dir", str(out), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    for entry in manifest["files"]:
        assert (out / entry["path"]).is_file(), entry["path"]


def test_closed_stdout_reports_like_python_without_a_traceback(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: busybox\n")
    r = dekube("-f", str(tmp_path / "compose.yaml"), "config", "--format", "json",
               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
               preexec_fn=lambda: os.close(1))
    assert r.returncode != 0
    assert "Traceback" not in r.stderr


def test_a_conversion_loads_no_day2_code(tmp_path):
    code = ("import sys; from dekube_nspawn import cli\n"
            f"rc = cli.main([{str(HELLO)!r}, '-o', {str(tmp_path / 'out')!r}], environ={{}})\n"
            "print(rc, sorted(m for m in sys.modules if m.startswith('dekube_nspawn.ops.')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={"PYTHONPATH": str(REPO), "HOME": str(tmp_path), "PATH": os.environ["PATH"]})
    assert r.stdout.strip() == "0 []", r.stdout + r.stderr


def test_verbs_found_past_global_options():
    from dekube_nspawn import cli
    assert cli._verb_of(["-f", "a.yml", "-p", "x", "convert", "-o", "o"]) == "convert"
    assert cli._verb_of(["--profile", "p", "ps"]) == "ps"
    assert cli._verb_of(["-h", "convert"]) is None
    assert cli._verb_of(cli._normalize_argv(["compose.yml", "-o", "out"])) == "convert"
