"""install.sh / uninstall.sh run for real with --root into a temp tree: files land where systemd
reads them, environment secrets land 0600 (dir 0700) and never in the output directory,
re-runs are idempotent and drop files no longer generated, uninstall removes exactly what
install wrote (foreign files and volume data stay unless --volumes)."""
from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

from dekube_nspawn.emit import bootstrap, health_scripts, install, scripts
from scripts_plans import rich_plan, write_output

SECRET = "s3cr3t value with 'quotes' and $dollar"

# Files the other emitters write (stand-ins: install.sh routes them by name).
OTHERS = {
    "demo-web.nspawn": "[Exec]\nBoot=no\n",
    "demo-db.nspawn": "[Exec]\nProcessTwo=yes\n",
    "nspawn-demo-web.service": "[Service]\nExecStart=/bin/true\n",
    "nspawn-demo-db.service": "[Service]\nExecStart=/bin/true\n",
    "dekube-demo-web-tcp-8080.socket": "[Socket]\nListenStream=8080\n",
    "dekube-demo-web-tcp-8080.service": "[Service]\nExecStart=/bin/true\n",
    "dekube-demo.target": "[Install]\nWantedBy=multi-user.target\n",
    "dk-demo-front.netdev": "[NetDev]\nName=dk-demo-front\nKind=bridge\n",
    "dk-demo-front.network": "[Match]\nName=dk-demo-front\n",
    "hosts": "127.0.0.1 localhost\n",
    "resolv/demo-web.conf": "nameserver 10.200.1.1\n",
}


@pytest.fixture
def env(tmp_path):
    plan = rich_plan()            # the real host layout: --root prefixes it
    out = tmp_path / "out"
    files = (scripts.render(plan) + health_scripts.render(plan) + bootstrap.render(plan)
             + install.render(plan))
    write_output(files, out)
    for rel, content in OTHERS.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(content)
    root = tmp_path / "root"
    for d in ("etc/systemd/system", "etc/systemd/nspawn", "etc/systemd/network"):
        (root / d).mkdir(parents=True)
    (root / "etc/systemd/system/foreign.service").write_text("[Service]\n")
    return plan, out, root


def run(script, *args, env=None, check=True):
    e = {k: v for k, v in os.environ.items() if k not in ("API_TOKEN", "DEKUBE_ROOT")}
    e.update(env or {})
    r = subprocess.run([str(script), *args], capture_output=True, text=True, env=e)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def tree(root: pathlib.Path) -> dict[str, str]:
    result = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        result[rel] = "dir" if p.is_dir() and not p.is_symlink() else p.read_text()
    return result


def test_install_places_files_and_secrets(env):
    plan, out, root = env
    r = run(out / "install.sh", "--root", str(root), env={"API_TOKEN": SECRET})
    assert "skipped" in r.stderr and "systemctl daemon-reload" in r.stderr
    etc = root / "etc"
    assert (etc / "systemd/nspawn/demo-web.nspawn").read_text() == OTHERS["demo-web.nspawn"]
    assert (etc / "dekube-nspawn/demo/demo-web.nspawn").read_text() == OTHERS["demo-web.nspawn"]
    # The .nspawn carries the compose environment (passwords, tokens): root-only wherever it lands.
    for nspawn in (etc / "systemd/nspawn/demo-web.nspawn", etc / "dekube-nspawn/demo/demo-web.nspawn"):
        assert nspawn.stat().st_mode & 0o777 == 0o600, nspawn
    for unit in ("nspawn-demo-web.service", "dekube-demo.target", "dekube-demo-web-tcp-8080.socket"):
        assert (etc / "systemd/system" / unit).read_text() == OTHERS[unit]
    assert (etc / "systemd/network/dk-demo-front.netdev").is_file()
    config = etc / "dekube-nspawn/demo"
    assert (config / "hosts").is_file() and (config / "resolv/demo-web.conf").is_file()
    assert os.access(config / "lib/netns.sh", os.X_OK) and os.access(config / "bootstrap.sh", os.X_OK)
    assert (config / "health/demo-web.sh").is_file()
    # bootstrap.sh carries the compose process (environment included) of what it completes.
    assert (config / "bootstrap.sh").stat().st_mode & 0o777 == 0o700
    assert not (config / "install.sh").exists()

    secret = root / install.env_secrets(plan)[0][1].lstrip("/")
    assert secret.parent == config / "secrets"
    assert secret.read_text() == SECRET
    assert secret.stat().st_mode & 0o777 == 0o600
    assert secret.parent.stat().st_mode & 0o777 == 0o700
    for p in out.rglob("*"):
        if p.is_file():
            assert "s3cr3t" not in p.read_text(), p

    listed = (config / "installed-files").read_text().splitlines()
    assert install.env_secrets(plan) == [("API_TOKEN", "/etc/dekube-nspawn/demo/secrets/h-f70443af595c7f74")]
    assert "/etc/dekube-nspawn/demo/secrets/h-f70443af595c7f74" in listed
    assert "/etc/systemd/system/nspawn-demo-web.service" in listed
    assert all(line.startswith("/") and not line.startswith(str(root)) for line in listed)
    assert "/etc/systemd/system/foreign.service" not in listed


def test_missing_secret_variable_writes_nothing(env):
    plan, out, root = env
    before = tree(root)
    r = run(out / "install.sh", "--root", str(root), check=False)
    assert r.returncode == 1 and "API_TOKEN is not set" in r.stderr
    assert tree(root) == before


def test_reinstall_is_idempotent_and_drops_stale_files(env):
    plan, out, root = env
    run(out / "install.sh", env={"API_TOKEN": SECRET, "DEKUBE_ROOT": str(root)})
    first = tree(root)
    unit = root / "etc/systemd/system/nspawn-demo-web.service"
    mtime = unit.stat().st_mtime_ns
    run(out / "install.sh", "--root", str(root), env={"API_TOKEN": SECRET})
    assert tree(root) == first
    assert unit.stat().st_mtime_ns == mtime

    # bootstrap.sh derived an [Exec] block meanwhile: the installed .nspawn gets it in front.
    defaults = root / "var/lib/dekube-nspawn/demo/image-defaults/demo-web.nspawn"
    defaults.parent.mkdir(parents=True)
    defaults.write_text("[Exec]\nParameters=\"sh\"\n")
    (out / "dekube-demo-web-tcp-8080.socket").unlink()
    (out / "dekube-demo-web-tcp-8080.service").unlink()
    r = run(out / "install.sh", "--root", str(root), env={"API_TOKEN": SECRET})
    assert "no longer generated" in r.stderr
    assert not (root / "etc/systemd/system/dekube-demo-web-tcp-8080.socket").exists()
    assert (root / "etc/systemd/nspawn/demo-web.nspawn").read_text() == \
        "[Exec]\nParameters=\"sh\"\n" + OTHERS["demo-web.nspawn"]
    # A stale block of a machine whose image is resolved now is not used (Parameters= would
    # accumulate).
    assert plan.machines[1].image.resolved is not None
    (defaults.parent / "demo-db.nspawn").write_text("[Exec]\nParameters=\"stale\"\n")
    run(out / "install.sh", "--root", str(root), env={"API_TOKEN": SECRET})
    assert (root / "etc/systemd/nspawn/demo-db.nspawn").read_text() == OTHERS["demo-db.nspawn"]


def test_uninstall_removes_exactly_what_install_wrote(env):
    plan, out, root = env
    volume = root / "var/lib/dekube-nspawn/demo/volumes/db data"
    volume.mkdir(parents=True)
    (volume / "table").write_text("rows")
    before = tree(root)

    run(out / "install.sh", "--root", str(root), env={"API_TOKEN": SECRET})
    config = root / "etc/dekube-nspawn/demo"
    (config / "notes.txt").write_text("the admin's own file")            # foreign, in our dir
    layer = root / "var/lib/dekube-nspawn/demo/machines/demo-web"
    (layer / "upper").mkdir(parents=True)
    (layer / "upper/written").write_text("x")
    (layer / "root").mkdir()
    runtime = root / "run/dekube-nspawn/demo/secrets/demo-web"
    runtime.mkdir(parents=True)
    (runtime / "api token").write_text(SECRET)
    anonymous = root / "var/lib/dekube-nspawn/demo/anonymous/demo-web/0"
    anonymous.mkdir(parents=True)

    r = run(config / "uninstall.sh", "--root", str(root))
    assert "volume data kept" in r.stderr
    after = tree(root)
    assert after.pop("etc/dekube-nspawn/demo/notes.txt") == "the admin's own file"
    assert after.pop("etc/dekube-nspawn/demo") == "dir" and after.pop("etc/dekube-nspawn") == "dir"
    assert after.pop("var/lib/dekube-nspawn/demo/anonymous/demo-web/0") == "dir"
    assert after.pop("var/lib/dekube-nspawn/demo/anonymous/demo-web") == "dir"
    assert after.pop("var/lib/dekube-nspawn/demo/anonymous") == "dir"
    assert after.pop("run") == "dir"
    assert after.pop("run/dekube-nspawn") == "dir"
    assert after == before                      # layers, runtime dir, installed files: gone

    # Idempotent (uninstall.sh removed its installed copy: run the output directory's);
    # --volumes then removes the data, never foreign files.
    run(out / "uninstall.sh", "--root", str(root))
    run(out / "uninstall.sh", "--root", str(root), "--volumes")
    assert not volume.exists() and not anonymous.exists()
    assert (config / "notes.txt").exists()
    assert (root / "etc/systemd/system/foreign.service").exists()


def test_uninstall_images_removes_only_this_projects_images(env):
    plan, out, root = env
    images = root / "var/lib/dekube-nspawn/images"
    for key in [i.key for i in plan.images] + ["other_project_image"]:
        (images / key / "bundle-x/rootfs").mkdir(parents=True)
    run(out / "install.sh", "--root", str(root), env={"API_TOKEN": SECRET})
    run(out / "uninstall.sh", "--root", str(root), "--images")
    assert sorted(p.name for p in images.iterdir()) == ["other_project_image"]


def test_manifest_json_decides_what_is_installed(env):
    """With the converter's manifest.json, exactly its files are installed (a stray file in the
    output directory is not)."""
    from dekube_nspawn.emit import OutputFile
    from dekube_nspawn.output import render_manifest
    plan, out, root = env
    listed = [p for p in out.rglob("*") if p.is_file()]
    files = [OutputFile(str(p.relative_to(out)), p.read_text(), p.stat().st_mode & 0o777) for p in listed]
    (out / "manifest.json").write_text(render_manifest(plan.project, files).content)
    (out / "notes-of-the-admin.txt").write_text("not generated")
    run(out / "install.sh", "--root", str(root), env={"API_TOKEN": SECRET})
    config = root / "etc/dekube-nspawn/demo"
    assert not (config / "notes-of-the-admin.txt").exists()
    assert not (config / "manifest.json").exists()
    assert (root / "etc/systemd/system/nspawn-demo-web.service").is_file()
    assert (config / "lib/netns.sh").is_file() and (config / "resolv/demo-web.conf").is_file()
    installed = (config / "installed-files").read_text().splitlines()
    assert len(installed) == len([f for f in files if f.path != "install.sh"]) + 1 + 2   # + secret, + 2 .nspawn copies
