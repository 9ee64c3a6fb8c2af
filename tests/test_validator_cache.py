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


def _corpus_documents():
    corpus = goldens.FIXTURES.parent.parent / "shared" / "corpus"
    return sorted(corpus.glob("*/*/compose.yaml"))


def test_lean_fast_validator_never_accepts_what_jsonschema_rejects():
    """The fast validator raises bare exceptions (no message, no definition): its verdict must
    still be jsonschema's on every document of the corpus (interpolated with nothing set)."""
    import pytest
    from dekube_nspawn.errors import ComposeFileError
    from dekube_nspawn.loader import interpolate, validate, yaml as yaml_stage
    files = _corpus_documents()
    if not files:
        pytest.skip("../shared/corpus is not beside the checkout")
    checked = rejected = 0
    for path in files:
        try:
            docs = yaml_stage.parse_documents(path.read_text(), str(path))
            doc = interpolate.interpolate(docs[0], {}, filename=str(path)) if docs else None
        except (ComposeFileError, UnicodeDecodeError):
            continue
        if not isinstance(doc, dict):
            continue
        try:
            validate._check_keys_are_strings(doc, (), str(path))    # validate_file's first step
        except ComposeFileError:
            continue
        try:
            validate._fast()(doc)
            fast_ok = True
        except validate._FastInvalid:
            fast_ok = False
        precise = validate._precise_error(doc)
        if fast_ok:
            assert precise is None, (path, precise)
        rejected += not fast_ok
        checked += 1
    assert checked > 300 and rejected > 10, (checked, rejected)
