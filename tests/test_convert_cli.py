"""The conversion driver and the output directory: atomic replacement, foreign files kept, stale
files removed, modes, `--check`, determinism, through the real command line."""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import stat

import pytest

import goldens
from dekube_nspawn import cli, output
from dekube_nspawn.emit import OutputFile

HELLO = goldens.FIXTURES.parent / "examples" / "hello" / "compose.yaml"


def run_cli(*argv, capsys=None):
    rc = cli.main(list(argv), environ={"HOME": "/home/compose"})
    return rc


def tree(root: pathlib.Path) -> dict:
    return {str(p.relative_to(root)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def compose(tmp_path):
    src = tmp_path / "project" / "compose.yaml"
    src.parent.mkdir()
    shutil.copy(HELLO, src)
    return src


def test_convert_writes_every_file_with_its_mode(compose, tmp_path):
    out = tmp_path / "out"
    assert run_cli("-f", str(compose), "convert", "-o", str(out)) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {e["path"]: int(e["mode"], 8) for e in manifest["files"]}
    assert "nspawn-hello-web.service" in listed and "hello-web.nspawn" in listed
    for path, mode in listed.items():
        assert stat.S_IMODE((out / path).stat().st_mode) == mode, path
        if path.endswith(".sh") and not path.startswith("health/"):   # health/*.sh are sourced
            # bootstrap.sh hands the compose environment to the image completion: root-only
            assert mode == (0o700 if path == "bootstrap.sh" else 0o755), path
    assert stat.S_IMODE((out / "manifest.json").stat().st_mode) == 0o644
    # Nothing else is left beside the output directory (no staging leftovers).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "project"]


def test_shorthand_and_rerun_are_byte_identical(compose, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli(str(compose), "-o", str(a)) == 0
    assert run_cli("-f", str(compose), "convert", "-o", str(b)) == 0
    first = tree(a)
    assert first == tree(b)
    assert run_cli(str(compose), "-o", str(a)) == 0
    assert tree(a) == first


def test_foreign_files_are_kept_and_stale_files_removed(compose, tmp_path):
    out = tmp_path / "out"
    assert run_cli(str(compose), "-o", str(out)) == 0
    (out / "NOTES.txt").write_text("mine\n")
    (out / "lib" / "local.sh").write_text("echo local\n")
    (out / "emptydir").mkdir()
    assert (out / "dekube-hello-web-health.service").exists()
    # The next version of the compose file drops the healthcheck and the port.
    text = compose.read_text()
    text = text.replace('    ports:\n      - "127.0.0.1:8080:8080"\n', "")
    start = text.index("    healthcheck:")
    end = text.index("    restart: unless-stopped")
    text = text[:start] + text[end:]
    text = text.replace("condition: service_healthy", "condition: service_started")
    compose.write_text(text)
    assert run_cli(str(compose), "-o", str(out)) == 0
    assert (out / "NOTES.txt").read_text() == "mine\n"
    assert (out / "lib" / "local.sh").read_text() == "echo local\n"
    assert (out / "emptydir").is_dir()
    assert not (out / "dekube-hello-web-health.service").exists()
    assert not list(out.glob("*.socket"))
    assert not (out / "health").exists()      # held only the tool's files
    listed = {e["path"] for e in json.loads((out / "manifest.json").read_text())["files"]}
    assert "NOTES.txt" not in listed and "dekube-hello-web-health.service" not in listed


def test_a_failure_midway_leaves_the_previous_output_untouched(compose, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert run_cli(str(compose), "-o", str(out)) == 0
    (out / "NOTES.txt").write_text("mine\n")
    before = tree(out)
    real_open = os.open
    calls = {"n": 0}

    def failing_open(path, flags, mode=0o777, **kw):
        if flags & os.O_CREAT:
            calls["n"] += 1
            if calls["n"] == 5:
                raise OSError(28, "No space left on device", path)
        return real_open(path, flags, mode, **kw)

    monkeypatch.setattr(output.os, "open", failing_open)
    with pytest.raises(output.OutputError, match="cannot write the output directory .*No space left"):
        output.write_output(str(out), [OutputFile(f"f{i}", "x\n") for i in range(10)])
    monkeypatch.undo()
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "project"]


def test_a_conversion_error_writes_nothing(compose, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli(str(compose), "-o", str(out)) == 0
    before = tree(out)
    compose.write_text(compose.read_text().replace(
        'command: ["httpd", "-f", "-p", "8080", "-h", "/www"]',
        'command: ["httpd"]\n    environment:\n      BAD: "it\'s \\"both\\"\\nand a newline"'))
    assert run_cli(str(compose), "-o", str(out)) == 1
    err = capsys.readouterr().err
    assert "services.web.environment.BAD" in err and "--resolve-images" in err
    assert tree(out) == before


def test_a_foreign_file_in_the_way_is_not_overwritten(compose, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "hosts").write_text("my own hosts\n")
    assert run_cli(str(compose), "-o", str(out)) == 1
    assert "not written by dekube-nspawn" in capsys.readouterr().err
    assert (out / "hosts").read_text() == "my own hosts\n"
    assert sorted(p.name for p in out.iterdir()) == ["hosts"]


def test_check_reports_differences_and_writes_nothing(compose, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli(str(compose), "-o", str(out), "--check") == 1     # nothing there yet
    assert not out.exists()
    assert run_cli(str(compose), "-o", str(out)) == 0
    capsys.readouterr()
    assert run_cli(str(compose), "-o", str(out), "--check") == 0
    assert capsys.readouterr().out == ""
    before = tree(out)
    compose.write_text(compose.read_text().replace("stop_grace_period", "x").replace(
        "restart: on-failure", "restart: always"))
    assert run_cli(str(compose), "-o", str(out), "--check") == 1
    diff = capsys.readouterr().out
    assert "--- a/nspawn-hello-client.service" in diff
    assert "-Restart=on-failure" in diff and "+Restart=always" in diff
    assert tree(out) == before
    # A file the previous run wrote and this one would not is shown as removed.
    (out / "manifest.json").write_text(json.dumps({"files": [{"path": "gone.txt"}]}))
    (out / "gone.txt").write_text("old\n")
    assert run_cli(str(compose), "-o", str(out), "--check") == 1
    assert "--- a/gone.txt\n+++ /dev/null" in capsys.readouterr().out


def test_check_reports_a_mode_change(compose, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli(str(compose), "-o", str(out)) == 0
    (out / "lib" / "netns.sh").chmod(0o644)
    capsys.readouterr()
    assert run_cli(str(compose), "-o", str(out), "--check") == 1
    assert "mode of lib/netns.sh: 0644 -> 0755" in capsys.readouterr().out


def test_secret_material_is_written_owner_only(tmp_path):
    out = tmp_path / "out"
    output.write_output(str(out), [OutputFile("secrets/token", "s3cret\n", 0o600),
                                   OutputFile("a.service", "[Unit]\n")])
    assert stat.S_IMODE((out / "secrets" / "token").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "a.service").stat().st_mode) == 0o644


def test_output_paths_must_stay_inside(tmp_path):
    for bad in ("/etc/passwd", "../x", "a/../../x", "", "a//b"):
        with pytest.raises(Exception):
            output.check_relative_path(bad)


FAKE_SKOPEO = r"""#!/bin/sh
# Stands in for skopeo: `inspect [--config] docker://REF`.
if [ "$2" = --config ]; then
    echo '{"config": {"Entrypoint": ["/bin/busybox"], "Cmd": ["sh"], "Env": ["PATH=/bin:/usr/bin", "IMG=1"], "WorkingDir": "/home"}}'
else
    echo '{"Digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111"}'
fi
"""


def install_fake_skopeo(tmp_path, monkeypatch) -> None:
    """FAKE_SKOPEO first on PATH, for conversions with --resolve-images."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "skopeo").write_text(FAKE_SKOPEO)
    (bindir / "skopeo").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")


def test_resolve_images_writes_the_complete_process(compose, tmp_path, monkeypatch):
    install_fake_skopeo(tmp_path, monkeypatch)
    out = tmp_path / "out"
    assert run_cli(str(compose), "-o", str(out), "--resolve-images") == 0
    settings = (out / "hello-web.nspawn").read_text()
    assert 'Parameters="/bin/busybox" "httpd" "-f" "-p" "8080" "-h" "/www"' in settings
    assert 'Environment="PATH=/bin:/usr/bin"' in settings and 'Environment="IMG=1"' in settings
    assert "WorkingDirectory=/home" in settings
    # Without it, the process is left to bootstrap.sh on the host.
    plain = tmp_path / "plain"
    assert run_cli(str(compose), "-o", str(plain)) == 0
    assert "\nParameters=" not in (plain / "hello-web.nspawn").read_text()
    (tmp_path / "bin" / "skopeo").write_text("#!/bin/sh\necho 'unauthorized' >&2\nexit 1\n")
    assert run_cli(str(compose), "-o", str(out), "--resolve-images") == 1
    assert "\nParameters=" in (out / "hello-web.nspawn").read_text()   # old output untouched


def test_an_output_path_that_is_a_file_is_an_error(compose, tmp_path, capsys):
    out = tmp_path / "out"
    out.write_text("not a directory\n")
    assert run_cli(str(compose), "-o", str(out)) == 1
    assert "is not a directory" in capsys.readouterr().err
    assert out.read_text() == "not a directory\n"
