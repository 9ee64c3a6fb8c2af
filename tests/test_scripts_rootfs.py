"""lib/rootfs.sh with real overlay mounts: the machine root is the shared image under a
per-machine layer that survives down/up; two machines on one image do not see each other's
writes; a new image digest starts a fresh layer."""
from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

from dekube_nspawn import ir
from dekube_nspawn.emit import scripts
from scripts_plans import image, layout, machine, plan, write_output

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mount)")


def fake_bundle(images: pathlib.Path, key: str, name: str, marker: str) -> pathlib.Path:
    """What bootstrap.sh leaves: images/KEY/bundle-X/rootfs and a `current` symlink."""
    rootfs = images / key / name / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "etc").mkdir()
    (rootfs / "etc/resolv.conf").symlink_to("../run/systemd/resolve/stub-resolv.conf")  # dangling
    (rootfs / "marker").write_text(marker)
    link = images / key / "current"
    tmp = images / key / "current.tmp"
    tmp.symlink_to(name)
    tmp.rename(link)
    return rootfs


def is_mounted(path) -> bool:
    return subprocess.run(["mountpoint", "-q", str(path)]).returncode == 0


@pytest.fixture
def setup(tmp_path):
    lay = layout(str(tmp_path / "root"))
    img = image("busybox:1.36")
    machines = [machine("rf", lay, s, img, mode=ir.NetworkMode.NONE) for s in ("one", "two")]
    p = plan("rf", lay, machines)
    out = tmp_path / "out"
    write_output(scripts.render(p), out)
    images = pathlib.Path(lay.state_dir) / "images"
    lower = fake_bundle(images, img.key, "bundle-aaa", "v1")
    yield p, out, img, lower, images
    for m in machines:
        while is_mounted(m.rootfs):
            subprocess.run(["umount", m.rootfs])


def rootfs(out, *args, check=True):
    r = subprocess.run([str(out / "lib/rootfs.sh"), *args], capture_output=True, text=True)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def test_layers_persist_and_are_separate(setup):
    p, out, img, lower, images = setup
    one, two = p.machines
    rootfs(out, "up", one.name, img.key)
    rootfs(out, "up", one.name, img.key)               # idempotent: already mounted
    assert is_mounted(one.rootfs)
    r1 = pathlib.Path(one.rootfs)
    assert (r1 / "marker").read_text() == "v1"
    assert (r1 / "usr").is_dir()                        # nspawn needs /usr
    assert (r1 / "etc/hosts").is_file() and (r1 / "etc/resolv.conf").is_file()   # bind targets
    (r1 / "data.txt").write_text("kept")
    (r1 / "marker").write_text("changed in one")

    rootfs(out, "up", two.name, img.key)
    r2 = pathlib.Path(two.rootfs)
    assert not (r2 / "data.txt").exists()
    assert (r2 / "marker").read_text() == "v1"
    assert (lower / "marker").read_text() == "v1"       # the shared image is never written
    assert not (lower / "usr").exists() and (lower / "etc/resolv.conf").is_symlink()

    rootfs(out, "down", one.name)
    rootfs(out, "down", one.name)                       # idempotent
    assert not is_mounted(one.rootfs)
    assert not (r1 / "data.txt").exists()
    rootfs(out, "up", one.name, img.key)
    assert (r1 / "data.txt").read_text() == "kept"      # the layer survived the restart
    assert (r1 / "marker").read_text() == "changed in one"
    rootfs(out, "down", one.name)
    rootfs(out, "down", two.name)


def test_new_image_digest_starts_a_fresh_layer(setup):
    p, out, img, lower, images = setup
    one = p.machines[0]
    rootfs(out, "up", one.name, img.key)
    (pathlib.Path(one.rootfs) / "data.txt").write_text("old layer")
    rootfs(out, "down", one.name)
    fake_bundle(images, img.key, "bundle-bbb", "v2")
    r = rootfs(out, "up", one.name, img.key)
    assert "fresh container layer" in r.stderr
    assert (pathlib.Path(one.rootfs) / "marker").read_text() == "v2"
    assert not (pathlib.Path(one.rootfs) / "data.txt").exists()
    rootfs(out, "down", one.name)


def test_refuses_unknown_machine_and_missing_image(setup):
    p, out, img, lower, images = setup
    r = rootfs(out, "up", "rf-nope", img.key, check=False)
    assert r.returncode == 1 and "unknown machine" in r.stderr
    r = rootfs(out, "up", p.machines[0].name, "not-pulled", check=False)
    assert r.returncode == 1 and "bootstrap.sh" in r.stderr
    r = rootfs(out, "up", p.machines[0].name, "../etc", check=False)
    assert r.returncode == 1
    assert not is_mounted(p.machines[0].rootfs)


def test_untrusted_symlinks_in_the_image_never_reach_the_host(setup, tmp_path):
    """An image whose /etc is an absolute symlink resolves to a host path when followed by a
    script on the host: rootfs.sh must create nothing through it."""
    p, out, img, lower, images = setup
    victim = tmp_path / "host-etc"
    victim.mkdir()
    evil = images / img.key / "bundle-evil" / "rootfs"
    evil.mkdir(parents=True)
    (evil / "etc").symlink_to(str(victim))
    (evil / "usr").symlink_to(str(tmp_path / "host-usr"))
    (images / img.key / "current").unlink()
    (images / img.key / "current").symlink_to("bundle-evil")
    one = p.machines[0]
    rootfs(out, "up", one.name, img.key)
    rootfs(out, "down", one.name)
    assert list(victim.iterdir()) == []
    assert not (tmp_path / "host-usr").exists()

    # The same image content as a relative escape from /etc/hosts.
    (evil / "etc").unlink()
    (evil / "etc").mkdir()
    (evil / "etc/hosts").symlink_to("../../../../../../../../.." + str(victim / "hosts"))
    rootfs(out, "up", one.name, img.key)
    assert not (victim / "hosts").exists()
    assert (pathlib.Path(one.rootfs) / "etc/hosts").is_file()
    assert not (pathlib.Path(one.rootfs) / "etc/hosts").is_symlink()
    rootfs(out, "down", one.name)
