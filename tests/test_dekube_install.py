"""`python -m dekube_nspawn.dekube install-extension DIR` and how dekube picks up what it writes."""
from __future__ import annotations
import re

import json
import os
import subprocess
import sys

import pytest

import dekube_harness as dk
from dekube_nspawn.dekube import NspawnTransform as Packaged
from dekube_nspawn.dekube.install import FILENAME


def install(directory, *extra):
    return subprocess.run([sys.executable, "-m", "dekube_nspawn.dekube", "install-extension",
                           str(directory), *extra], capture_output=True, text=True, cwd=dk.REPO)


@pytest.fixture(autouse=True)
def _forget_modules():
    yield
    dk.forget_extension_modules()


def test_installed_file_holds_exactly_one_transform_dekube_counts(tmp_path):
    result = install(tmp_path / "ext")
    assert result.returncode == 0, result.stderr
    assert dk.extension_files(tmp_path / "ext") == [str(tmp_path / "ext" / FILENAME)]
    transforms = dk.load_transforms(tmp_path / "ext")
    assert len(transforms) == 1
    transform = transforms[0]
    assert isinstance(transform, Packaged) and type(transform) is not Packaged
    assert type(transform).__module__ == "dekube_op_" + FILENAME[:-3]
    assert transform.name == "nspawn"
    # after every transform bundled with dekube (priorities 1000 to 8000)
    assert transform.priority > 8000


def test_found_one_folder_below_too(tmp_path):
    assert install(tmp_path / "ext" / "nspawn").returncode == 0
    assert [type(t).__name__ for t in dk.load_transforms(tmp_path / "ext")] == ["NspawnTransform"]


def test_reinstall_replaces_its_own_file(tmp_path):
    assert install(tmp_path).returncode == 0
    (tmp_path / FILENAME).write_text((tmp_path / FILENAME).read_text() + "\n# stale\n")
    assert install(tmp_path).returncode == 0
    assert "# stale" not in (tmp_path / FILENAME).read_text()


def test_refuses_to_replace_a_file_it_did_not_write(tmp_path):
    (tmp_path / FILENAME).write_text("class Mine:\n    pass\n")
    result = install(tmp_path)
    assert result.returncode == 2
    assert "--force" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / FILENAME).read_text() == "class Mine:\n    pass\n"
    assert install(tmp_path, "--force").returncode == 0
    assert len(dk.load_transforms(tmp_path)) == 1


def test_a_file_in_place_of_the_directory_is_a_usage_error(tmp_path):
    (tmp_path / "ext").write_text("")
    result = install(tmp_path / "ext")
    assert result.returncode == 2 and "not a directory" in result.stderr


PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import dekube_harness_probe as dk
[transform] = dk.load_transforms(sys.argv[2])
ctx = dk.Ctx(json.loads(sys.argv[3]), sys.argv[4])
transform.transform({"web": {"image": "nginx", "restart": "always"}}, [], ctx)
print(json.dumps({"warnings": ctx.warnings, "bases": [c.__module__ for c in type(transform).__mro__],
                  "yaml": sys.modules["yaml"].__file__ if "yaml" in sys.modules else None}))
"""


def run_like_a_bare_dekube(tmp_path, extensions, config=None) -> dict:
    """Load and run the extension in a Python without site-packages (`-I -S`), as a dekube
    installed in another environment would: neither dekube_nspawn nor its dependencies on
    sys.path."""
    probe = tmp_path / "probe"
    probe.mkdir(exist_ok=True)
    harness = (dk.REPO / "tests" / "dekube_harness.py").read_text().replace("import yaml\n", "")
    (probe / "dekube_harness_probe.py").write_text(harness + (
        "\nclass Ctx:\n    def __init__(self, config, output_dir):\n"
        "        self.config, self.output_dir = config, output_dir\n"
        "        self.extension_config, self.warnings = {}, []\n"))
    out = tmp_path / "dekube-out"
    out.mkdir(exist_ok=True)
    result = subprocess.run([sys.executable, "-I", "-S", "-c", PROBE, str(probe), str(extensions),
                             json.dumps(config or {"name": "shop"}), str(out)],
                            capture_output=True, text=True, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_dekube_on_another_python_finds_the_package_and_its_dependencies(tmp_path):
    assert install(tmp_path / "ext").returncode == 0
    ran = run_like_a_bare_dekube(tmp_path, tmp_path / "ext")
    assert ran["warnings"] == []
    assert "dekube_nspawn.dekube.transform" in ran["bases"]
    assert (tmp_path / "dekube-out" / "nspawn" / "shop-web.nspawn").is_file()
    assert ran["yaml"] and not ran["yaml"].startswith(str(tmp_path))


def test_without_the_package_dekube_still_loads_a_transform_that_explains(tmp_path):
    """A dekube whose Python cannot import dekube_nspawn gets a warning, not a failed load."""
    assert install(tmp_path / "ext").returncode == 0
    path = tmp_path / "ext" / FILENAME
    text = path.read_text()
    assert repr(str(dk.REPO)) in text
    path.write_text(text.replace(repr(str(dk.REPO)), repr(str(tmp_path / "nowhere"))))
    ran = run_like_a_bare_dekube(tmp_path, tmp_path / "ext")
    [warning] = ran["warnings"]
    assert warning.startswith("nspawn: dekube-nspawn cannot be imported by ")
    # `dekube_nspawn` itself, or (beside an editable install, whose site-packages holds only the
    # packaged templates of the namespace) its `dekube_nspawn.dekube` submodule.
    assert re.search(r"No module named 'dekube_nspawn(\.dekube)?'", warning), warning
    assert warning.endswith("no systemd-nspawn output was written")
    assert "dekube_nspawn.dekube.transform" not in ran["bases"]
    assert not (tmp_path / "dekube-out" / "nspawn").exists()


def test_the_documented_command_is_in_the_docs():
    text = (dk.REPO / "docs" / "dekube.md").read_text()
    assert "python -m dekube_nspawn.dekube install-extension" in text
    assert os.path.basename(FILENAME) in text
