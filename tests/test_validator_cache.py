"""The compiled schema validator (loader/validate.py) is cached like the templates: a warm run
loads it without importing the fastjsonschema code generator, validates the same, and code is
never loaded from a cache directory others may write to."""
from __future__ import annotations

import os
import subprocess
import sys

import goldens

PROBE = """
import sys
from dekube_nspawn.errors import ComposeFileError
from dekube_nspawn.loader import validate
validate.validate_file({"services": {"a": {"image": "x"}}}, "ok.yaml")
try:
    validate.validate_file({"services": {"a": {"imgae": "x"}}}, "bad.yaml")
    print("accepted")
except ComposeFileError as e:
    print(e)
print("generator imported" if "fastjsonschema" in sys.modules else "generator not imported")
"""


def probe(cache_home) -> list[str]:
    env = {"XDG_CACHE_HOME": str(cache_home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "PYTHONPATH": str(goldens.FIXTURES.parent), "HOME": str(cache_home)}
    r = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_warm_run_skips_the_generator_and_validates_the_same(tmp_path):
    cold = probe(tmp_path)
    assert cold[1] == "generator imported"
    assert any(p.name.startswith("compose-schema-") for p in (tmp_path / "dekube-nspawn").iterdir())
    warm = probe(tmp_path)
    assert warm[1] == "generator not imported"
    assert warm[0] == cold[0] and "imgae" in warm[0] and "bad.yaml" in warm[0]


def test_no_validator_from_a_directory_others_may_write(tmp_path):
    shared = tmp_path / "dekube-nspawn"
    shared.mkdir()
    os.chmod(shared, 0o777)
    planted = probe(tmp_path)
    assert planted[1] == "generator imported" and "imgae" in planted[0]
    assert list(shared.iterdir()) == []
    assert probe(tmp_path)[1] == "generator imported"      # still not cached there
