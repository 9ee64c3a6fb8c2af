"""Writing the output directory, serially and with the forked render worker (parallel.py): the
same bytes and modes as the goldens, the serial run's error when several emitters fail, and a
clean failure (nothing left behind) when the worker dies or the directory cannot be written."""
from __future__ import annotations

import json
import os
import pathlib
import stat
import time

import pytest

import goldens
from dekube_nspawn import cli, parallel
from dekube_nspawn.convert import ConvertOptions, convert_to_directory
from dekube_nspawn.emit import OutputFile
from dekube_nspawn.errors import ConversionError, DekubeError, Diagnostics
from dekube_nspawn.output import Staging


def tree(root: pathlib.Path) -> dict:
    return {str(p.relative_to(root)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def forks(monkeypatch):
    """Counts the worker processes started; every project is large enough to fork for."""
    monkeypatch.setattr(parallel, "worth_forking", lambda plan: True)
    calls = []
    real_fork = os.fork

    def counting_fork():
        calls.append(1)
        return real_fork()
    monkeypatch.setattr(parallel.os, "fork", counting_fork)
    return calls


@pytest.mark.parametrize("case", goldens.cases())
@pytest.mark.parametrize("in_parallel", [False, True], ids=["serial", "parallel"])
def test_written_directory_is_the_golden(case, in_parallel, tmp_path, forks):
    d = Diagnostics()
    project = goldens.load_fixture(case, d)
    configs = goldens.image_configs(case)
    out = tmp_path / "out"
    options = ConvertOptions(output_dir=str(out), resolve_images=configs is not None,
                             parallel=in_parallel)
    assert convert_to_directory(project, options, d, image_configs=configs) == 0
    assert len(forks) == (1 if in_parallel else 0)
    expected_dir = goldens.FIXTURES / case / "expected"
    expected = {str(p.relative_to(expected_dir)): p.read_bytes()
                for p in expected_dir.rglob("*") if p.is_file()}
    written = tree(out)
    assert {k: v[0] for k, v in written.items()} == expected
    modes = {e["path"]: int(e["mode"], 8) for e in json.loads((out / "manifest.json").read_text())["files"]}
    assert {k: v[1] for k, v in written.items() if k != "manifest.json"} == modes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


class Emitter:
    """A stand-in emitter module: writes one file, or fails with `error`. With `in_child`, it
    misbehaves (raises `error`, or dies with `die`) only in the forked worker and is slow here,
    so that the worker takes the other one of two such emitters."""

    def __init__(self, path=None, error=None, die=False, in_child=False):
        self.path, self.error, self.die, self.in_child = path, error, die, in_child

    def render(self, plan):
        if self.in_child:
            if os.getpid() == TEST_PID:
                time.sleep(0.5)
                return [OutputFile(self.path, "parent\n")]
            if self.die:
                os._exit(3)
        if self.error is not None:
            raise self.error
        return [OutputFile(self.path, f"{self.path}\n")]


TEST_PID = os.getpid()


def run(tmp_path, emitters, in_parallel=True):
    with Staging(str(tmp_path / "out")) as staging:
        written = parallel.render_and_write(None, staging, emitters, parallel=in_parallel)
        staging.commit("demo", written)
    return tmp_path / "out"


@pytest.mark.parametrize("in_parallel", [False, True], ids=["serial", "parallel"])
def test_files_of_both_processes_land_with_one_manifest(tmp_path, forks, in_parallel):
    out = run(tmp_path, [("service_unit", Emitter("a.service")), ("hosts", Emitter("hosts")),
                         ("scripts", Emitter("lib/x.sh")), ("bootstrap", Emitter("bootstrap.sh"))],
              in_parallel)
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["path"] for e in manifest["files"]] == ["a.service", "bootstrap.sh", "hosts", "lib/x.sh"]
    assert (out / "lib/x.sh").read_text() == "lib/x.sh\n"
    assert len(forks) == (1 if in_parallel else 0)


def test_each_process_takes_work_from_the_queue(tmp_path, forks):
    """Two slow emitters (here) and the worker: the worker writes one of them."""
    out = run(tmp_path, [("service_unit", Emitter("a", in_child=True)),
                         ("nspawn_settings", Emitter("b", in_child=True))])
    assert sorted((out / name).read_text() for name in ("a", "b")) in (["a\n", "parent\n"],
                                                                        ["b\n", "parent\n"])


@pytest.mark.parametrize("order", ["early first", "late first"])
def test_the_error_of_the_earliest_emitter_wins_as_in_a_serial_run(tmp_path, forks, order):
    """Whichever process runs which, the error is the one of the first failing emitter in
    output order, as a serial run reports it; emitters after a failure still run."""
    early, late = ConversionError("early", key_path=("services", "a")), ConversionError("late")
    emitters = [("service_unit", Emitter("a")), ("nspawn_settings", Emitter(error=early)),
                ("scripts", Emitter("b")), ("hosts", Emitter(error=late))]
    if order == "late first":     # the failing emitters come first from the queue
        emitters = [emitters[1], emitters[3], emitters[0], emitters[2]]
    for in_parallel in (False, True):
        with pytest.raises(ConversionError) as raised:
            run(tmp_path, emitters, in_parallel)
        assert str(raised.value) == "services.a: early"      # key path survives the pipe
        assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert len(forks) == 1


def test_a_dead_worker_is_an_error_and_leaves_nothing(tmp_path, forks):
    with pytest.raises(DekubeError, match="render worker process died"):
        run(tmp_path, [("hosts", Emitter("h", die=True, in_child=True)),
                       ("service_unit", Emitter("a", die=True, in_child=True))])
    assert list(tmp_path.iterdir()) == []


def test_a_bug_in_the_worker_surfaces_as_a_bug(tmp_path, forks):
    class Unpicklable(Exception):
        def __reduce__(self):
            raise TypeError("no")
    with pytest.raises(KeyError):
        run(tmp_path, [("hosts", Emitter("h", error=KeyError("k"), in_child=True)),
                       ("service_unit", Emitter("a", error=KeyError("k"), in_child=True))])
    with pytest.raises(RuntimeError, match="Unpicklable"):
        run(tmp_path, [("hosts", Emitter("h", error=Unpicklable("x"), in_child=True)),
                       ("service_unit", Emitter("a", error=Unpicklable("x"), in_child=True))])
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_directory_is_one_clear_error(tmp_path, capsys):
    parent = tmp_path / "ro"
    parent.mkdir()
    os.chmod(parent, 0o500)
    try:
        if os.access(parent, os.W_OK):       # root ignores the mode: make the target a file's child
            (tmp_path / "file").write_text("x")
            target = tmp_path / "file" / "out"
        else:
            target = parent / "out"
        rc = cli.main([str(goldens.FIXTURES.parent / "examples/hello/compose.yaml"), "-o", str(target)],
                      environ={"HOME": str(tmp_path)})
    finally:
        os.chmod(parent, 0o700)
    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith("dekube-nspawn: error: ") and "internal error" not in err, err
    assert err.count("\n") == 1


def test_a_foreign_file_where_a_directory_goes_is_not_replaced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "lib").write_text("mine\n")
    with pytest.raises(DekubeError, match="not written by dekube-nspawn"):
        run(tmp_path, [("scripts", Emitter("lib/x.sh"))], in_parallel=False)
    assert (out / "lib").read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_conversion_errors_pickle_with_their_location():
    import pickle
    e = ConversionError("bad", file="c.yaml", line=3, column=5, key_path=("services", "x"))
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is ConversionError and str(again) == str(e) == "c.yaml:3:5: services.x: bad"


@pytest.mark.parametrize("in_parallel", [False, True], ids=["serial", "parallel"])
def test_rerun_keeps_foreign_files_and_drops_stale_ones(tmp_path, forks, in_parallel):
    out = run(tmp_path, [("service_unit", Emitter("a.service")), ("hosts", Emitter("old-only"))],
              in_parallel)
    (out / "mine.txt").write_text("foreign\n")
    (out / "sub").mkdir()
    (out / "sub" / "kept").write_text("x\n")
    out = run(tmp_path, [("service_unit", Emitter("a.service")), ("hosts", Emitter("hosts"))],
              in_parallel)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == \
        ["a.service", "hosts", "manifest.json", "mine.txt", "sub/kept"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_two_emitters_writing_one_path_is_an_internal_error():
    from dekube_nspawn.convert import _InMemory
    with pytest.raises(DekubeError, match="internal: two emitters write hosts"):
        parallel.render_and_write(None, _InMemory(), [("hosts", Emitter("hosts")),
                                                      ("scripts", Emitter("hosts"))], parallel=False)
