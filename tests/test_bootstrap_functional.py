"""bootstrap.sh run for real (root, skopeo, umoci) against local OCI layouts built with umoci from
/bin/busybox, selected with the air-gapped source option (--from / DEKUBE_IMAGE_SOURCE)."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import time

import pytest

from conftest import require_tools
from dekube_nspawn import ir
from dekube_nspawn.emit import bootstrap, scripts
from scripts_plans import busybox_layout, image, layout, machine, plan, write_output

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

SKOPEO_ENV = {"DEKUBE_SKOPEO_OPTIONS": "--insecure-policy"}


@pytest.fixture
def world(tmp_path):
    require_tools("skopeo", "umoci", "setpriv")
    root = tmp_path / "root"
    src = tmp_path / "src"
    return root, src


def make(root, images_and_machines, pinned=None):
    lay = layout(str(root))
    machines = []
    for service, img, kw in images_and_machines:
        machines.append(machine("bt", lay, service, img, mode=ir.NetworkMode.NONE, **kw))
    p = plan("bt", lay, machines)
    out = root.parent / "out"
    write_output(scripts.render(p) + bootstrap.render(p), out)
    return p, out


def run_bootstrap(out, *args, check=True, env=None):
    e = dict(os.environ, **SKOPEO_ENV, **(env or {}))
    result = subprocess.run([str(out / "bootstrap.sh"), *args], capture_output=True, text=True, env=e)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def current(p: ir.Plan, key: str) -> pathlib.Path:
    return pathlib.Path(p.layout.state_dir) / "images" / key / "current"


def test_pull_unpack_then_noop_then_update(world):
    root, src = world
    digest = busybox_layout(src, "busybox_1.36")
    p, out = make(root, [("web", image("busybox:1.36"), {}), ("two", image("busybox:1.36"), {})])

    started = time.monotonic()
    first = run_bootstrap(out, "--from", f"oci:{src}")
    first_s = time.monotonic() - started
    link = current(p, "busybox_1.36")
    assert os.readlink(link) == "bundle-" + digest.split(":")[1]
    bundle = link.resolve()
    assert (bundle / "rootfs/bin/busybox").is_file()
    assert '"Entrypoint"' in (bundle / "image-config.json").read_text()
    assert first.stderr.count("pulling") == 1          # one distinct image, pulled once
    assert not list(bundle.parent.glob(".unpack-*"))

    # Re-run: a no-op that leaves the bundle as it is.
    inode = bundle.stat().st_ino
    images = pathlib.Path(p.layout.state_dir) / "images"

    def snapshot():
        return sorted((str(x), x.lstat().st_ino, x.lstat().st_mtime_ns) for x in images.rglob("*"))
    before = snapshot()
    started = time.monotonic()
    again = run_bootstrap(out, env={"DEKUBE_IMAGE_SOURCE": f"oci:{src}"})
    again_s = time.monotonic() - started
    assert "pulling" not in again.stderr and "present" in again.stderr
    assert link.resolve().stat().st_ino == inode
    assert snapshot() == before                        # not one path, inode or mtime changed
    print(f"\nbootstrap first run {first_s:.2f}s, no-op re-run {again_s:.2f}s")
    assert again_s < 2.0

    # A changed image: ignored under pull_policy missing, picked up with --pull; the old bundle
    # (not mounted) is pruned.
    new_digest = busybox_layout(src, "busybox_1.36", env="PATH=/bin:/sbin")
    assert new_digest != digest
    run_bootstrap(out, "--from", f"oci:{src}")
    assert link.resolve() == bundle
    updated = run_bootstrap(out, "--pull", "--from", f"oci:{src}")
    assert "pulling" in updated.stderr
    assert os.readlink(link) == "bundle-" + new_digest.split(":")[1]
    assert not bundle.exists()
    # The second run with --pull at the same digest asks the source and stays put.
    same = run_bootstrap(out, "--pull", "--from", f"oci:{src}")
    assert "up to date" in same.stderr


def test_failed_pull_leaves_existing_images_intact(world):
    root, src = world
    busybox_layout(src, "a_1")
    b_digest = busybox_layout(src, "b_1")
    p, out = make(root, [("a", image("a:1"), {}), ("b", image("b:1"), {})])
    run_bootstrap(out, "--from", f"oci:{src}")
    b_bundle = current(p, "b_1").resolve()
    listing = sorted(str(x.relative_to(b_bundle)) for x in b_bundle.rglob("*"))

    # b's source breaks (a blob of its new version is missing), a gets a new version.
    busybox_layout(src, "a_1", env="PATH=/x")
    busybox_layout(src, "b_1", env="PATH=/y")
    index = subprocess.run(["skopeo", "--insecure-policy", "inspect", "--raw", f"oci:{src}:b_1"],
                           capture_output=True, text=True, check=True).stdout
    layer = json.loads(index)["config"]["digest"].split(":")[1]
    (src / "blobs/sha256" / layer).unlink()

    result = run_bootstrap(out, "--pull", "--from", f"oci:{src}", check=False)
    assert result.returncode == 1
    assert "failed: b:1" in result.stderr
    assert "PATH=/x" in (current(p, "a_1").resolve() / "image-config.json").read_text()
    assert current(p, "b_1").resolve() == b_bundle
    assert os.readlink(current(p, "b_1")) == "bundle-" + b_digest.split(":")[1]
    assert sorted(str(x.relative_to(b_bundle)) for x in b_bundle.rglob("*")) == listing
    assert not list(b_bundle.parent.glob(".unpack-*"))


def test_pinned_digest_is_verified(world):
    root, src = world
    digest = busybox_layout(src, "pinned_1")
    cfg = ir.ImageConfig(entrypoint=("/bin/busybox",), cmd=("sh",), env=(), working_dir=None,
                         user=None, digest=digest)
    p, out = make(root, [("a", image("pinned:1", resolved=cfg), {})])
    result = run_bootstrap(out, "--from", f"oci:{src}")
    assert os.readlink(current(p, "pinned_1")) == "bundle-" + digest.split(":")[1]
    assert not (pathlib.Path(p.state_dir) / "image-defaults").exists()   # resolved: nothing to complete
    assert "python3" not in result.stderr

    wrong = ir.ImageConfig(entrypoint=None, cmd=("sh",), env=(), working_dir=None, user=None,
                           digest="sha256:" + "0" * 64)
    p2, out2 = make(root.parent / "root2", [("a", image("pinned:1", resolved=wrong), {})])
    failed = run_bootstrap(out2, "--from", f"oci:{src}", check=False)
    assert failed.returncode == 1
    assert "not sha256:000" in failed.stderr
    assert not current(p2, "pinned_1").exists()


def test_completes_nspawn_from_image_defaults(world):
    root, src = world
    busybox_layout(src, "img_1", user="33")
    p, out = make(root, [("web", image("img:1"), {"user": "1000:1000", "environment": (("PATH", "/usr/bin"),)}),
                         ("plain", image("img:1"), {})])
    run_bootstrap(out, "--from", f"oci:{src}")
    defaults = pathlib.Path(p.state_dir) / "image-defaults"
    web = (defaults / "bt-web.nspawn").read_text()
    assert ('Parameters="/run/dekube/ld.so" "--library-path" "/run/dekube/lib" "/run/dekube/setpriv" '
            '"--reuid=1000" "--regid=1000" "--clear-groups" "--" "/bin/busybox" "sh"') in web
    assert 'Environment="PATH=/usr/bin"' in web and "WorkingDirectory=/tmp" in web
    assert "[Files]" not in web                   # compose user: the converter binds the helpers
    plain = (defaults / "bt-plain.nspawn").read_text()
    assert '"--reuid=33" "--regid=0"' in plain     # the image's USER
    assert f"BindReadOnly={p.layout.state_dir}/runtime:/run/dekube" in plain
    helpers = pathlib.Path(p.layout.state_dir) / "runtime"
    assert (helpers / "setpriv").is_file() and (helpers / "ld.so").is_file()
    assert (helpers / "lib/libc.so.6").is_file()
    # The helpers really switch the user through the host's loader.
    r = subprocess.run([str(helpers / "ld.so"), "--library-path", str(helpers / "lib"),
                        str(helpers / "setpriv"), "--reuid=1234", "--regid=1234", "--clear-groups",
                        "--", "id", "-u"], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "1234"
    # Not installed yet: the installed .nspawn is not written.
    nspawn = pathlib.Path(p.layout.nspawn_dir) / "bt-web.nspawn"
    assert not nspawn.exists()
    # Installed (install.sh keeps the converter's file in the config dir): block + converter file.
    converter = "[Exec]\nBoot=no\nEnvironment=\"PATH=/usr/bin\"\n"
    config = pathlib.Path(p.config_dir)
    config.mkdir(parents=True, exist_ok=True)
    (config / "bt-web.nspawn").write_text(converter)
    run_bootstrap(out, "--from", f"oci:{src}")
    assert nspawn.read_text() == web + converter
    mtime = nspawn.stat().st_mtime_ns
    run_bootstrap(out, "--from", f"oci:{src}")
    assert nspawn.stat().st_mtime_ns == mtime      # unchanged content is not rewritten


@pytest.mark.parametrize("pinned", [False, True])
@pytest.mark.parametrize("kind", ["docker-archive", "oci-archive", "dir"])
def test_archive_sources_for_air_gapped_hosts(world, kind, pinned):
    root, src = world
    busybox_layout(src, "layout_tag")
    archives = root.parent / "archives"
    archives.mkdir()
    dest = {"docker-archive": f"docker-archive:{archives}/arch_1.tar",
            "oci-archive": f"oci-archive:{archives}/arch_1.tar",
            "dir": f"dir:{archives}/arch_1"}[kind]
    subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", f"oci:{src}:layout_tag", dest],
                   check=True)
    digest = subprocess.run(["skopeo", "--insecure-policy", "inspect", "--format", "{{.Digest}}", dest],
                            check=True, capture_output=True, text=True).stdout.strip()
    cfg = ir.ImageConfig(entrypoint=None, cmd=("sh",), env=(), working_dir=None, user=None, digest=digest)
    p, out = make(root, [("a", image("arch:1", resolved=cfg if pinned else None), {})])
    assert (p.images[0].resolved is not None) == pinned
    run_bootstrap(out, "--from", f"{kind}:{archives}")
    assert os.readlink(current(p, "arch_1")) == "bundle-" + digest.split(":")[1]
    assert (current(p, "arch_1") / "rootfs/bin/busybox").is_file()
