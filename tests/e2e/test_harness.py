"""The harness itself works: a real systemd boots, the registry stands in for Docker Hub, the
images carry what they claim, and a hand-written nspawn machine serves HTTP to another machine."""
from __future__ import annotations

import json
import pathlib

import pytest

import images

pytestmark = pytest.mark.e2e

HANDWRITTEN = pathlib.Path(__file__).parent / "handwritten"


def test_host_runs_systemd_as_pid1(systemd_host):
    assert systemd_host.run("systemctl is-system-running").stdout.strip() == "running"
    assert systemd_host.run(["readlink", "/proc/1/exe"]).stdout.strip().endswith("/systemd")
    assert systemd_host.boot_seconds < 30
    # Its network is its own: nothing a test does there reaches the machine running the tests.
    links = systemd_host.run(["ip", "-o", "link"]).stdout
    assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]
    # ...and so is its cgroup subtree: no other host (test or session) manages its units.
    outside = pathlib.Path(f"/proc/{systemd_host.leader}/cgroup").read_text().splitlines()
    assert all(f"/{systemd_host.name}/" in line + "/" for line in outside), outside


def test_host_helpers_observe_units(systemd_host):
    host = systemd_host
    host.run(["systemd-run", "--unit=dk-harness-probe", "--remain-after-exit", "sh", "-c", "echo probe-output"])
    host.wait_active("dk-harness-probe.service", timeout=10)
    assert host.unit_state("dk-harness-probe.service") == "active"
    assert host.unit_timestamp("dk-harness-probe.service", "ActiveEnterTimestamp") > 0
    assert "probe-output" in host.journal("dk-harness-probe.service")
    host.run("systemctl stop dk-harness-probe.service")
    assert host.unit_state("dk-harness-probe.service") == "inactive"


def test_host_copy_in_reaches_paths_under_its_own_mounts(systemd_host, tmp_path):
    (tmp_path / "tree/sub").mkdir(parents=True)
    (tmp_path / "tree/sub/file").write_text("content\n")
    (tmp_path / "script").write_text("#!/bin/sh\n")
    (tmp_path / "script").chmod(0o750)
    systemd_host.copy_in(tmp_path / "tree", "/run/dk-copy/tree")
    systemd_host.copy_in(tmp_path / "script", "/run/dk-copy/script")
    try:
        assert systemd_host.read_file("/run/dk-copy/tree/sub/file") == b"content\n"
        assert systemd_host.run(["stat", "-c", "%a", "/run/dk-copy/script"]).stdout.strip() == "750"
    finally:
        systemd_host.run(["rm", "-rf", "/run/dk-copy"])


def test_unmodified_docker_io_names_pull_from_the_local_registry(systemd_host, image_layout):
    host = systemd_host
    try:
        host.run(["skopeo", "copy", "--quiet", "docker://busybox:1.36", "oci:/var/tmp/dk-pull:busybox"])
        pulled = json.loads(host.read_file("/var/tmp/dk-pull/index.json"))["manifests"][0]["digest"]
        built = {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"]
                 for m in json.loads((image_layout / "index.json").read_text())["manifests"]}
        assert pulled == built["busybox"]
        config = json.loads(host.run(["skopeo", "inspect", "--config", "docker://docker.io/dekube-test/defaults:1"]).stdout)
        assert config["config"]["Entrypoint"] == ["/usr/local/bin/show-process", "from-entrypoint"]
    finally:
        host.run(["rm", "-rf", "/var/tmp/dk-pull"])


def _unpacked_config(host, image, bundle):
    host.run(["skopeo", "copy", "--quiet", f"docker://{image.reference}", f"oci:/var/tmp/dk-img:{image.layout_tag}"])
    host.run(["umoci", "unpack", "--image", f"/var/tmp/dk-img:{image.layout_tag}", bundle])
    return json.loads(host.read_file(f"{bundle}/config.json"))


def test_images_carry_their_process_defaults(systemd_host):
    host = systemd_host
    try:
        defaults = _unpacked_config(host, images.DEFAULTS_IMAGE, "/var/tmp/dk-defaults")["process"]
        assert defaults["args"] == ["/usr/local/bin/show-process", "from-entrypoint", "from-cmd", "second cmd arg"]
        assert "IMAGE_ENV=from image" in defaults["env"]
        assert defaults["cwd"] == "/srv/work"
        assert (defaults["user"]["uid"], defaults["user"]["gid"]) == (1234, 1234)

        _unpacked_config(host, images.NOPASSWD_IMAGE, "/var/tmp/dk-nopasswd")
        rootfs = "/var/tmp/dk-nopasswd/rootfs"
        assert host.run(["test", "-e", f"{rootfs}/etc/passwd"], check=False).returncode == 1
        assert host.run(["test", "-e", f"{rootfs}/bin/getent"], check=False).returncode == 1
        assert host.run(["test", "-d", f"{rootfs}/usr"], check=False).returncode == 0

        httpd = _unpacked_config(host, images.HTTPD_IMAGE, "/var/tmp/dk-httpd")["process"]
        assert httpd["args"] == ["/usr/local/bin/serve"]
    finally:
        host.run("rm -rf /var/tmp/dk-img /var/tmp/dk-defaults /var/tmp/dk-nopasswd /var/tmp/dk-httpd")


def _install_handwritten(host):
    for name in ("dkt0.netdev", "dkt0.network"):
        host.copy_in(HANDWRITTEN / name, f"/etc/systemd/network/{name}")
    for name in ("hw-web.service", "hw-client.service"):
        host.copy_in(HANDWRITTEN / name, f"/etc/systemd/system/{name}")
    host.copy_in(HANDWRITTEN / "netns.sh", "/usr/local/lib/hw/netns.sh")
    host.copy_in(HANDWRITTEN / "setup.sh", "/usr/local/lib/hw/setup.sh")
    host.run("/usr/local/lib/hw/setup.sh", timeout=120)
    host.run("systemctl daemon-reload && systemctl restart systemd-networkd")


def test_handwritten_machine_serves_http_to_another_machine_by_name(fresh_host):
    host = fresh_host
    _install_handwritten(host)

    host.run("systemctl start hw-client.service", timeout=90)  # oneshot: returns when it has finished

    assert host.read_file("/var/lib/hw/out/page").decode() == images.INDEX_HTML
    # hw-web became active before the client machine started (After=).
    assert 0 < host.unit_timestamp("hw-web.service", "ActiveEnterTimestamp") \
        < host.unit_timestamp("hw-client.service", "ExecMainStartTimestamp")
    # The test host itself reaches the machine through the bridge.
    assert host.run(["busybox", "wget", "-q", "-O", "-", "http://10.231.0.10/"]).stdout == images.INDEX_HTML

    host.run("systemctl stop hw-client.service hw-web.service")
    host.wait_state(["hw-web.service", "hw-client.service"], "inactive", timeout=30)
    assert host.run(["ip", "netns", "list"]).stdout == ""
    assert host.run(["ip", "-o", "link", "show", "type", "veth"]).stdout == ""
    assert host.run(["pgrep", "-x", "systemd-nspawn"], check=False).stdout == ""
    assert "/var/lib/hw" not in host.run(["cat", "/proc/self/mountinfo"]).stdout


def test_machine_roots_can_be_overlays_under_the_state_dir(systemd_host):
    """Generated rootfs.sh mounts each machine's root as an overlay under /var/lib/dekube-nspawn;
    the host's own root is an overlay, so the fixture binds a disk directory there."""
    host = systemd_host
    base = "/var/lib/dekube-nspawn/harness-probe"
    try:
        host.run(f"mkdir -p {base}/lower {base}/upper {base}/work {base}/root && echo lower > {base}/lower/f && "
                 f"mount -t overlay overlay -o lowerdir={base}/lower,upperdir={base}/upper,workdir={base}/work "
                 f"{base}/root && echo upper >> {base}/root/f")
        assert host.read_file(f"{base}/upper/f") == b"lower\nupper\n"
        assert host.read_file(f"{base}/lower/f") == b"lower\n"
    finally:
        host.run(f"umount {base}/root; rm -rf {base}", check=False)
