"""lib/prepare.sh run for real on a plan rooted in a temp dir: bind sources, volume directories
(filled from the image once), secrets and configs copied with mode/uid/gid into root-only
directories, the previous health state cleared."""
from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

from dekube_nspawn.emit import install, scripts
from dekube_nspawn import ir
from scripts_plans import image, layout, machine, plan, rich_plan, write_output

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown)")


@pytest.fixture
def env(tmp_path):
    plan = rich_plan(root=str(tmp_path / "r"))
    out = tmp_path / "out"
    write_output(scripts.render(plan), out)
    web = plan.machines[0]
    # What rootfs.sh up leaves: the machine root, with image content under a volume target.
    root = pathlib.Path(web.rootfs)
    (root / "var/lib/db").mkdir(parents=True)
    (root / "var/lib/db/seed.sql").write_text("create table t;")
    os.chown(root / "var/lib/db", 999, 999)
    # What install.sh leaves: the environment-sourced secret, root-only.
    var, path = install.env_secrets(plan)[0]
    secret = pathlib.Path(path)
    secret.parent.mkdir(parents=True)
    secret.write_text("token-value")
    secret.chmod(0o600)
    return plan, out, web


def prepare(out, *args, check=True):
    r = subprocess.run([str(out / "lib/prepare.sh"), *args], capture_output=True, text=True)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def test_prepare_machine(env):
    plan, out, web = env
    bind, volume, anonymous = web.mounts[0], web.mounts[1], web.mounts[2]
    state = pathlib.Path(web.health.state_path)
    state.parent.mkdir(parents=True)
    state.write_text("unhealthy\n")

    prepare(out, web.name)
    assert pathlib.Path(bind.source).is_dir()                    # create_host_path
    vol = pathlib.Path(volume.source)
    assert (vol / "seed.sql").read_text() == "create table t;"    # copied from the image once
    assert (vol.stat().st_uid, vol.stat().st_gid) == (999, 999)
    assert pathlib.Path(anonymous.source).is_dir()
    assert not state.exists()                                     # a new run starts "starting"

    token, motd = web.secrets
    t = pathlib.Path(token.runtime_path)
    assert t.read_text() == "token-value"
    st = t.stat()
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o400, 1000, 1000)
    assert t.parent.stat().st_mode & 0o777 == 0o700
    m = pathlib.Path(motd.runtime_path)
    assert m.read_text() == "it's $HOME `x`\n"
    assert (m.stat().st_mode & 0o777, m.stat().st_uid) == (0o444, 0)

    # Second start: volume data written meanwhile is not overwritten by the image.
    (vol / "seed.sql").write_text("changed")
    prepare(out, web.name)
    assert (vol / "seed.sql").read_text() == "changed"
    assert not list(t.parent.glob("*.??????"))                    # no temp files left
    # The user: machine needs the helpers; they were built.
    helpers = pathlib.Path(plan.layout.state_dir) / "runtime"
    assert (helpers / "setpriv").is_file() and (helpers / "ld.so").is_file()


def test_missing_bind_source_without_create_fails(tmp_path):
    lay = layout(str(tmp_path / "r"))
    missing = ir.Mount(ir.MountKind.BIND, str(tmp_path / "absent"), "/data", create_host_path=False)
    p = plan("pb", lay, [machine("pb", lay, "a", image("busybox"), mounts=(missing,)),
                         machine("pb", lay, "b", image("busybox"))])
    write_output(scripts.render(p), tmp_path / "out")
    prepare(tmp_path / "out", "pb-b")                             # nothing to do, still fine
    r = prepare(tmp_path / "out", "pb-a", check=False)
    assert r.returncode == 1 and "absent does not exist" in r.stderr
    assert not (tmp_path / "absent").exists()
    r = prepare(tmp_path / "out", "pb-unknown", check=False)
    assert r.returncode == 1 and "unknown machine" in r.stderr


def test_helpers_are_rebuilt_only_when_changed(env):
    plan, out, _ = env
    helpers = pathlib.Path(plan.layout.state_dir) / "runtime"
    prepare(out, "--helpers")
    inode = helpers.stat().st_ino
    prepare(out, "--helpers")
    assert helpers.stat().st_ino == inode
    (helpers / "setpriv").write_bytes(b"stale")
    prepare(out, "--helpers")
    assert (helpers / "setpriv").read_bytes() != b"stale"
    assert not list(helpers.parent.glob("runtime.*"))


def test_volume_copy_up_never_follows_the_image_out_of_the_machine(tmp_path):
    lay = layout(str(tmp_path / "r"))
    vol = tmp_path / "r/var/lib/dekube-nspawn/pv/volumes/data"
    m = machine("pv", lay, "a", image("busybox"),
                mounts=(ir.Mount(ir.MountKind.VOLUME, str(vol), "/var/lib/db"),))
    write_output(scripts.render(plan("pv", lay, [m])), tmp_path / "out")
    host_dir = tmp_path / "host-secrets"
    (host_dir / "db").mkdir(parents=True)
    (host_dir / "db/shadow").write_text("host only")
    root = pathlib.Path(m.rootfs)
    (root / "var").mkdir(parents=True)
    (root / "var/lib").symlink_to(str(host_dir))          # absolute: resolves on the host
    prepare(tmp_path / "out", m.name)
    assert vol.is_dir() and list(vol.iterdir()) == []


def test_file_secret_is_copied_fresh_at_each_start(tmp_path):
    lay = layout(str(tmp_path / "r"))
    source = tmp_path / "compose dir/db password.txt"
    source.parent.mkdir()
    source.write_text("first")
    source.chmod(0o644)
    runtime = f"{lay.runtime_dir}/pf/secrets/pf-a/db_password"
    m = machine("pf", lay, "a", image("busybox"), secrets=(ir.SecretFile(
        kind="secret", name="db_password", target="/run/secrets/db_password", runtime_path=runtime,
        mode=0o440, uid="0", gid="70", source_file=str(source)),))
    write_output(scripts.render(plan("pf", lay, [m])), tmp_path / "out")
    prepare(tmp_path / "out", m.name)
    copy = pathlib.Path(runtime)
    assert copy.read_text() == "first"
    assert (copy.stat().st_mode & 0o777, copy.stat().st_uid, copy.stat().st_gid) == (0o440, 0, 70)
    source.write_text("rotated")
    prepare(tmp_path / "out", m.name)
    assert copy.read_text() == "rotated"
    source.unlink()
    r = prepare(tmp_path / "out", m.name, check=False)
    assert r.returncode == 1 and "is missing" in r.stderr


def test_nocopy_volume_starts_empty(env):
    """compose `volume: {nocopy: true}`: the image's content is not copied into a new volume."""
    import dataclasses
    plan, _, web = env
    volume = web.mounts[1]
    assert volume.kind is ir.MountKind.VOLUME and volume.copy_image_content
    nocopy = dataclasses.replace(volume, copy_image_content=False)
    web = dataclasses.replace(web, mounts=(web.mounts[0], nocopy) + web.mounts[2:])
    plan = dataclasses.replace(plan, machines=(web,) + plan.machines[1:])
    out = pathlib.Path(web.rootfs).parent.parent / "out-nocopy"
    write_output(scripts.render(plan), out)
    prepare(out, web.name)
    vol = pathlib.Path(volume.source)
    assert vol.is_dir() and not any(vol.iterdir())
