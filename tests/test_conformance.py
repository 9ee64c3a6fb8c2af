"""Conformance with Docker Compose v2.40.3 on the external corpus (/work/shared/corpus).

Each case runs in-process the way the goldens were made (`-p <case> -f compose.yaml config
--format json` from the case folder, env -i HOME=/home/compose PATH=/usr/bin:/bin):

- expected.rc 0: our JSON is byte-identical to expected.json (`@CORPUS@` put back);
  where expected.nopaths.json exists, `--no-path-resolution` must match it too; our
  `--format yaml` is compared with expected.yaml (check id suffix `#as-yaml`);
- expected.rc non-zero: loading raises a DekubeError (a message, never a traceback), and when
  Docker Compose succeeded with a fallback option (results.tsv `fallback_ok`), our output with
  that option matches expected.<variant>.json.

Every known difference is listed in tests/corpus-expected-differences.tsv with its reason; a
listed case must still differ (xfail strict), so the list only shrinks. A pass table per source is
printed at the end of the run.
"""
from __future__ import annotations

import collections
import csv
import json
import os
import pathlib

import pytest

from dekube_nspawn.errors import DekubeError, Diagnostics
from dekube_nspawn.loader import LoadOptions, load_project
from dekube_nspawn.render_config import render_config

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = (HERE.parent.parent / "shared" / "corpus").resolve()
DIFFERENCES = HERE / "corpus-expected-differences.tsv"
CLEAN_ENV = {"HOME": "/home/compose", "PATH": "/usr/bin:/bin"}

# variant -> (LoadOptions overrides, output format, golden file stem). The fallback variants are
# named as in results.tsv; "as-yaml" is the `--format yaml` rendering of a case that succeeded.
VARIANTS = {
    "": ({}, "json", "expected"),
    "noconsistency": ({"consistency": False}, "json", "expected.noconsistency"),
    "nointerpolate": ({"interpolate": False}, "json", "expected.nointerpolate"),
    "nopaths": ({"resolve_paths": False}, "json", "expected.nopaths"),
    "noconsistency-nopaths": ({"consistency": False, "resolve_paths": False}, "json",
                              "expected.noconsistency-nopaths"),
    "yaml": ({}, "yaml", "expected.yaml"),
    "yaml-nopaths": ({"resolve_paths": False}, "yaml", "expected.yaml-nopaths"),
    "as-yaml": ({}, "yaml", "expected"),
}


def _results() -> dict[str, dict]:
    path = CORPUS / "results.tsv"
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["case"]: row for row in csv.DictReader(fh, delimiter="\t")}


def _differences() -> dict[str, str]:
    out = {}
    if DIFFERENCES.exists():
        for line in DIFFERENCES.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                case, _, reason = line.partition("\t")
                out[case.strip()] = reason.strip()
    return out


def _checks():
    """(id, case, variant, kind): kind is 'match' (compare with a golden) or 'error'."""
    checks = []
    for case, row in sorted(_results().items()):
        case_dir = CORPUS / case
        if row["rc"] == "0":
            checks.append((case, case, "", "match"))
            if (case_dir / "expected.nopaths.json").exists():
                checks.append((f"{case}#nopaths", case, "nopaths", "match"))
            if (case_dir / "expected.yaml").exists():
                checks.append((f"{case}#as-yaml", case, "as-yaml", "match"))
        else:
            checks.append((case, case, "", "error"))
            for variant in filter(None, (row.get("fallback_ok") or "").split(",")):
                checks.append((f"{case}#{variant}", case, variant, "match"))
    return checks


CHECKS = _checks()
KNOWN = _differences()
_tally: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


def load(case: str, **overrides):
    case_dir = CORPUS / case
    options = dict(files=("compose.yaml",), project_name=case_dir.name, environ=dict(CLEAN_ENV),
                   cwd=str(case_dir))
    options.update(overrides)
    return load_project(LoadOptions(**options), Diagnostics())


def expected_text(case: str, variant: str) -> str:
    _, fmt, stem = VARIANTS[variant]
    text = (CORPUS / case / f"{stem}.{fmt}").read_text(encoding="utf-8")
    return text.replace("@CORPUS@", str(CORPUS))


def run_check(case: str, variant: str, kind: str) -> tuple[bool, str]:
    """(ok, explanation)."""
    if kind == "error":
        try:
            load(case)
        except DekubeError as e:
            text = str(e)
            return (bool(text.strip()) and "Traceback" not in text, text)
        return False, "loaded without error; Docker Compose rejects this file"
    overrides, fmt, _ = VARIANTS[variant]
    try:
        project = load(case, **overrides)
    except DekubeError as e:
        return False, f"raised {type(e).__name__}: {e}"
    got = render_config(project, fmt)
    want = expected_text(case, variant)
    if fmt == "yaml":
        got, want = got.rstrip("\n"), want.rstrip("\n")
    if got == want:
        if fmt == "json" and json.loads(want) != project.data:
            # the planner reads Project.data: it must be exactly what json.loads gives, not just
            # something that prints the same (tuples, str subclasses, ...)
            return False, "Project.data differs from json.loads(expected) although it prints the same"
        return True, ""
    import difflib
    diff = "\n".join(list(difflib.unified_diff(want.splitlines(), got.splitlines(), "docker-compose", "ours",
                                               lineterm="", n=2))[:60])
    return False, diff


@pytest.fixture(scope="module", autouse=True)
def _pass_table(request):
    """Register a terminal-summary hook that prints the pass rate per corpus source."""
    class _Report:
        @staticmethod
        def pytest_terminal_summary(terminalreporter):
            if not _tally:
                return
            tr = terminalreporter
            tr.section("corpus conformance (Docker Compose v2.40.3)")
            total = collections.Counter()
            tr.write_line(f"{'source':<20} {'checks':>7} {'pass':>6} {'known':>6} {'rate':>7}")
            for source in sorted(_tally):
                c = _tally[source]
                total.update(c)
                n = c["pass"] + c["known"] + c["fail"]
                tr.write_line(f"{source:<20} {n:>7} {c['pass']:>6} {c['known']:>6} {100 * c['pass'] / n:>6.1f}%")
            n = total["pass"] + total["known"] + total["fail"]
            tr.write_line(f"{'total':<20} {n:>7} {total['pass']:>6} {total['known']:>6} "
                          f"{100 * total['pass'] / n:>6.1f}%")

    if not CORPUS.is_dir():
        pytest.skip(f"corpus missing: {CORPUS}")
    request.config.pluginmanager.register(_Report(), "dekube-conformance-report")
    yield


@pytest.mark.parametrize("check_id,case,variant,kind", CHECKS, ids=[c[0] for c in CHECKS])
def test_corpus_case(check_id, case, variant, kind):
    ok, why = run_check(case, variant, kind)
    source = case.split("/", 1)[0]
    if check_id in KNOWN:
        _tally[source]["known"] += 1
        assert not ok, (f"{check_id} now conforms: remove it from {DIFFERENCES.name} "
                        f"(listed as: {KNOWN[check_id]})")
        pytest.xfail(KNOWN[check_id])
    _tally[source]["pass" if ok else "fail"] += 1
    assert ok, f"{check_id} ({kind}) differs from Docker Compose:\n{why}"


def test_differences_list_names_real_checks():
    """A stale entry (typo, removed case) would hide nothing and mislead readers."""
    ids = {c[0] for c in CHECKS}
    stale = sorted(set(KNOWN) - ids)
    assert not stale, f"{DIFFERENCES.name} lists unknown checks: {stale}"


def test_whole_corpus_runs_quickly():
    """In-process, the whole corpus must stay well under a minute (measured, not assumed). CPU
    time, not wall time: the CI machine is shared, and others' load is not our slowness."""
    import time
    start = time.process_time()
    for _, case, variant, kind in CHECKS:
        run_check(case, variant, kind)
    elapsed = time.process_time() - start
    assert elapsed < 30, f"the corpus took {elapsed:.1f}s of CPU"


def _warning_cases():
    out = []
    for case, row in sorted(_results().items()):
        if row["rc"] == "0" and (CORPUS / case / "expected.err").read_text(encoding="utf-8").strip():
            out.append(case)
    return out


def _compose_warnings(case: str) -> list[str]:
    """The messages of Docker Compose's `level=warning msg="..."` lines, without a leading file path."""
    import re
    out = []
    for line in (CORPUS / case / "expected.err").read_text(encoding="utf-8").splitlines():
        m = re.search(r'msg="((?:[^"\\]|\\.)*)"', line)
        msg = (m.group(1) if m else line).replace('\\"', '"').strip()
        msg = re.sub(r"^(/|@CORPUS@)\S*: ", "", msg)
        if msg:
            out.append(msg)
    return out


@pytest.mark.parametrize("case", _warning_cases())
def test_corpus_warnings_are_reported_too(case):
    """Never silent: every warning Docker Compose prints for a valid case has its counterpart."""
    diagnostics = Diagnostics()
    case_dir = CORPUS / case
    load_project(LoadOptions(files=("compose.yaml",), project_name=case_dir.name, environ=dict(CLEAN_ENV),
                             cwd=str(case_dir)), diagnostics)
    ours = [str(w) for w in diagnostics.warnings]
    missing = [w for w in _compose_warnings(case) if not any(w in o for o in ours)]
    assert not missing, f"Docker Compose warns {missing}; we warned {ours}"
