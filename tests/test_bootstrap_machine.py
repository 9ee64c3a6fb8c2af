"""The whole host-side chain for one machine, for real: install.sh + bootstrap.sh (image from a
local OCI layout) produce the installed .nspawn (image-derived [Exec] block + the converter's
real file), rootfs.sh mounts the overlay, prepare.sh builds the setpriv helpers, and
systemd-nspawn runs the payload with compose's process rules over the image: command after the
image ENTRYPOINT, numeric user switched through the host's setpriv, image WORKDIR, environment."""
from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import subprocess

import pytest

from conftest import require_tools
from dekube_nspawn import ir
from dekube_nspawn.emit import bootstrap, install, nspawn_settings, scripts
from scripts_plans import busybox_layout, image, layout, machine, plan, write_output

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def _install_and_bootstrap(p: ir.Plan, out: pathlib.Path, src: pathlib.Path) -> None:
    """Write the generated files, then run install.sh and bootstrap.sh (image from `src`)."""
    write_output(nspawn_settings.render(p) + scripts.render(p) + bootstrap.render(p) + install.render(p), out)
    (out / "hosts").write_text("127.0.0.1 localhost\n")
    env = dict(os.environ, DEKUBE_SKOPEO_OPTIONS="--insecure-policy")
    for cmd in ([str(out / "install.sh")], [str(out / "bootstrap.sh"), "--from", f"oci:{src}"]):
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr


def _run_machine(p: ir.Plan, m: ir.Machine, installed: pathlib.Path) -> subprocess.CompletedProcess:
    """rootfs.sh up + prepare.sh + a real systemd-nspawn run with the installed settings."""
    config = pathlib.Path(p.config_dir)
    subprocess.run([str(config / "lib/rootfs.sh"), "up", m.name, m.image.key], check=True)
    try:
        subprocess.run([str(config / "lib/prepare.sh"), m.name], check=True)
        # The trusted file next to the image stands in for /etc/systemd/nspawn/ (not touched here).
        shutil.copy(installed, pathlib.Path(m.layer_dir) / installed.name)
        return subprocess.run(
            ["systemd-nspawn", "--quiet", "--keep-unit", "--register=no", "--console=pipe",
             "-M", m.name, "-D", m.rootfs, "--settings=trusted", "--private-network"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    finally:
        subprocess.run([str(config / "lib/rootfs.sh"), "down", m.name], check=True)


def test_machine_runs_with_image_defaults_and_user(tmp_path):
    require_tools("systemd-nspawn", "skopeo", "umoci", "setpriv")
    if pathlib.Path("/run/systemd/system").exists():
        pytest.skip("systemd is running here: install.sh without --root would call systemctl")
    lay = layout(str(tmp_path / "r"))
    src = tmp_path / "src"
    busybox_layout(src, "bb_1")
    m = machine("ig", lay, "web", image("bb:1"), mode=ir.NetworkMode.HOST, user="1234:1234",
                environment=(("GREETING", "say 'hi' $x"),))
    m = dataclasses.replace(m, process=dataclasses.replace(
        m.process, command=("sh", "-c", 'echo "uid=$(id -u) gid=$(id -g) cwd=$(pwd) g=$GREETING path=$PATH"')))
    p = plan("ig", lay, [m])
    out = tmp_path / "out"
    _install_and_bootstrap(p, out, src)
    installed = pathlib.Path(lay.nspawn_dir) / "ig-web.nspawn"
    text = installed.read_text()
    assert text.startswith("# From the image's config")
    assert text.endswith((out / "ig-web.nspawn").read_text())

    run = _run_machine(p, m, installed)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "uid=1234 gid=1234 cwd=/tmp g=say 'hi' $x path=/bin"
    config = pathlib.Path(p.config_dir)
    r = subprocess.run([str(config / "uninstall.sh")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not installed.exists() and not config.exists()


def test_read_only_machine_gets_its_mount_points(tmp_path):
    """`read_only: true`: nspawn cannot create mount points in a read-only root, so rootfs.sh
    makes them (bind and tmpfs targets, nspawn's own API dirs, the working directory) first."""
    require_tools("systemd-nspawn", "skopeo", "umoci")
    if pathlib.Path("/run/systemd/system").exists():
        pytest.skip("systemd is running here: install.sh without --root would call systemctl")
    lay = layout(str(tmp_path / "r"))
    src = tmp_path / "src"
    busybox_layout(src, "bb_1")
    data = tmp_path / "data"
    data.mkdir()
    (data / "f").write_text("from the host\n")
    single = tmp_path / "single.txt"
    single.write_text("one file\n")
    mounts = (
        ir.Mount(kind=ir.MountKind.BIND, source=str(data), target="/srv/data/deep", read_only=True),
        ir.Mount(kind=ir.MountKind.BIND, source=str(single), target="/opt/single.txt"),
        ir.Mount(kind=ir.MountKind.TMPFS, source="", target="/scratch", tmpfs_size=1 << 20),
    )
    m = machine("ro", lay, "web", image("bb:1"), mode=ir.NetworkMode.HOST, mounts=mounts)
    m = dataclasses.replace(
        m, privileges=dataclasses.replace(m.privileges, read_only_root=True),
        process=dataclasses.replace(m.process, working_dir="/work/dir", command=(
            "sh", "-c", "pwd; cat /srv/data/deep/f /opt/single.txt; touch /scratch/ok && echo tmpfs-ok;"
                        " touch /x 2>/dev/null || echo root-read-only")))
    p = plan("ro", lay, [m])
    _install_and_bootstrap(p, tmp_path / "out", src)
    installed = pathlib.Path(lay.nspawn_dir) / "ro-web.nspawn"
    assert "ReadOnly=yes" in installed.read_text()
    try:
        run = _run_machine(p, m, installed)
        assert run.returncode == 0, run.stderr
        assert run.stdout.split("\n")[:5] == ["/work/dir", "from the host", "one file", "tmpfs-ok",
                                               "root-read-only"]
    finally:
        subprocess.run([str(pathlib.Path(p.config_dir) / "uninstall.sh")], capture_output=True, text=True)
