"""Every generated file, read by the program that consumes it on a real host: systemd-analyze
verify (units), systemd-networkd (bridges), systemd-nspawn (.nspawn), bash -n + shellcheck
(scripts). Fixtures get every check; each valid corpus case converts and is checked in batches."""
from __future__ import annotations

import collections
import json
import os
import pathlib
import re
import tempfile

import pytest

import consumers
import goldens
from dekube_nspawn.convert import ConvertOptions, render_project
from dekube_nspawn.errors import ConversionError, Diagnostics
from dekube_nspawn.loader import LoadOptions, load_project
from dekube_nspawn.output import write_output

pytestmark = pytest.mark.skipif(bool(consumers.tools_available()),
                                reason=f"needs {consumers.tools_available()}")


def config_dir_of(out: pathlib.Path) -> str:
    target = next(out.glob("dekube-*.target"))
    return "/etc/dekube-nspawn/" + target.name[len("dekube-"):-len(".target")]


@pytest.fixture(scope="module")
def rootfs():
    return consumers.busybox_rootfs(pathlib.Path(tempfile.mkdtemp(prefix="dekube-consumers-")))


@pytest.mark.parametrize("case", goldens.cases())
def test_fixture_output_is_accepted_by_its_consumers(case, rootfs, tmp_path):
    files, _ = goldens.convert_fixture(case)
    out = tmp_path / "out"
    write_output(str(out), files)
    assert list(out.glob("*.service")) and list(out.glob("*.nspawn"))
    problems = consumers.check_output_dir(out, config_dir_of(out), rootfs)
    assert not problems, "\n\n".join(problems)


def test_the_checks_catch_a_broken_file(rootfs, tmp_path):
    """The harness itself: a bad key in each kind of file must be reported."""
    files, _ = goldens.convert_fixture("process")
    out = tmp_path / "out"
    write_output(str(out), files)
    unit = next(out.glob("nspawn-*.service"))
    unit.write_text(unit.read_text().replace("KillMode=mixed", "KillMode=mixed\nBogusKey=1"))
    settings = next(out.glob("*.nspawn"))
    settings.write_text(settings.read_text().replace("PrivateUsers=no", "PrivateUsers=maybe"))
    network = next(out.glob("*.network"))
    network.write_text(network.read_text().replace("LinkLocalAddressing=no", "LinkLocalAddressing=sometimes"))
    assert any("BogusKey" in p for p in consumers.check_units(out, config_dir_of(out)))
    line = settings.read_text().splitlines().index("PrivateUsers=maybe") + 1
    assert any(f"{settings.name}:{line}:" in p for p in consumers.check_nspawn(settings, rootfs))
    line = network.read_text().splitlines().index("LinkLocalAddressing=sometimes") + 1
    assert any(f"{network.name}:{line}:" in p for p in consumers.check_networkd(out))


CORPUS = goldens.FIXTURES.parent.parent / "shared" / "corpus"


def valid_corpus_cases():
    if not CORPUS.is_dir():
        return []
    return sorted(rc.parent for rc in CORPUS.glob("*/*/expected.rc") if rc.read_text().strip() == "0")


def test_corpus_converts_and_is_accepted(rootfs, tmp_path):
    cases = valid_corpus_cases()
    if not cases:
        pytest.skip("corpus missing")
    crashes, refused, converted = [], [], []
    warnings = collections.Counter()
    for case in cases:
        d = Diagnostics()
        project = load_project(LoadOptions(
            files=(str(case / "compose.yaml"),), project_name=case.name, cwd=str(case),
            environ={"HOME": "/home/compose", "PATH": "/usr/bin:/bin"}), d)
        try:
            files = render_project(project, ConvertOptions(output_dir="unused"), d)
        except ConversionError as e:     # a clear refusal of what the target cannot carry
            refused.append(f"{case.parent.name}/{case.name}: {e}")
            continue
        except Exception as e:          # noqa: BLE001 - any other exception is a crash
            crashes.append(f"{case.parent.name}/{case.name}: {type(e).__name__}: {e}")
            continue
        warnings[case.parent.name] += len(d.warnings)
        out = tmp_path / case.parent.name / case.name
        write_output(str(out), files)
        converted.append(out)
    print(f"\ncorpus: {len(cases)} valid cases, {len(converted)} converted, {len(refused)} refused, "
          f"{len(crashes)} crashed; warnings per source: {dict(sorted(warnings.items()))}")
    for r in refused:
        print("refused:", r)
    assert not crashes, "\n".join(crashes)
    assert len(refused) <= 2, refused

    # Fast subset: all units of all cases in one verify run, all bridges in one networkd; a run
    # of systemd-nspawn costs ~0.35 s, so CI starts the first .nspawn of every 8th case
    # (DEKUBE_CONSUMERS_FULL=1: every .nspawn of every case, and the scripts of every case).
    problems = consumers.check_units_many([(out, config_dir_of(out)) for out in converted])
    # Bridges of different projects may share a subnet; networkd sets each up all the same.
    problems += consumers.check_networkd_many(converted)
    full = os.environ.get("DEKUBE_CONSUMERS_FULL") == "1"
    settings = [s for out in converted[:: 1 if full else 8]
                for s in sorted(out.glob("*.nspawn"))[: None if full else 1]]
    problems += consumers.check_nspawn_many(settings, rootfs)
    scripts_checked = 0
    for out in converted[: None if full else 5]:
        problems += consumers.check_scripts(out)
        scripts_checked += 1
    print(f"checked: {len(settings)} .nspawn files, units of {len(converted)} cases, scripts of "
          f"{scripts_checked} cases")
    assert not problems, "\n\n".join(problems[:20])


def test_installed_settings_bootstrap_block_plus_converter_file(rootfs, tmp_path):
    """Without --resolve-images the installed .nspawn is bootstrap.sh's image block followed by
    the converter's file (docs/runtime.md): nspawn must run exactly compose's process over the
    image's defaults, each argument once, compose's environment winning."""
    import io

    from dekube_nspawn.runtime import exec_block
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    (project_dir / "compose.yaml").write_text(
        "services:\n"
        "  app:\n"
        "    image: example/app:1\n"
        "    entrypoint: [\"/bin/show\", \"first arg\"]\n"
        "    command: [\"it's\", \"$$HOME\", \"100%\", \"--flag\"]\n"
        "    working_dir: /srv/app\n"
        "    environment:\n"
        "      IMG: from compose\n"
        "      QUOTED: 'say \"hi\"'\n")
    d = Diagnostics()
    project = load_project(LoadOptions(files=(str(project_dir / "compose.yaml"),), project_name="blk",
                                       cwd=str(project_dir), environ={}), d)
    out = tmp_path / "out"
    write_output(str(out), render_project(project, ConvertOptions(output_dir=str(out)), d))
    request = {"image": {"config": {"Env": ["PATH=/bin:/usr/bin", "IMG=from image", "ONLY_IMAGE=1"],
                                    "Cmd": ["ignored"], "WorkingDir": "/"}},
               "compose": goldens.bootstrap_compose_process((out / "bootstrap.sh").read_text(), "blk-app")}
    block = io.StringIO()
    assert exec_block.main(io.StringIO(json.dumps(request)), block) == 0
    installed = tmp_path / "blk-app.nspawn"
    installed.write_text(block.getvalue() + (out / "blk-app.nspawn").read_text())
    r = consumers.run_nspawn(rootfs, installed, "blk-app")
    assert r.returncode == 0 and not [l for l in r.stderr.splitlines()
                                      if "Attempted to remove" not in l], r.stderr
    argv_part, _, env_part = r.stdout.partition("\x01")
    assert argv_part.split("\0")[:-1] == ["first arg", "it's", "$HOME", "100%", "--flag"]
    env = dict(item.split("=", 1) for item in env_part.split("\0") if "=" in item)
    assert env["IMG"] == "from compose" and env["ONLY_IMAGE"] == "1"
    assert env["QUOTED"] == 'say "hi"' and env["PATH"] == "/bin:/usr/bin"
