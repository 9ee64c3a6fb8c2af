"""A dekube-shaped project, converted by the dekube extension exactly as dekube loads and calls
it, installed and started in a booted systemd host, observed from outside: init container before
its workload, sidecar in its workload's network namespace, Kubernetes names resolving, configmap
and data mounts under dekube's output directory, dekube's `$` handling."""
from __future__ import annotations

import subprocess
import sys

import pytest

import dekube_harness as dk
import images
from deploy import Deployment

pytestmark = pytest.mark.e2e

SLEEP = ["sh", "-c", "trap 'exit 0' TERM; sleep 2147483647 & wait"]
SITE_HTML = "<html><body>served from a dekube configmap</body></html>\n"
WGET = ["/bin/busybox", "timeout", "10", "wget", "-q", "-O", "-"]

# What dekube (simple-workload provider) hands the transform for a Deployment `site` with an
# init container and a second container, a Deployment `client`, in namespace `shop`.
SERVICES = {
    "site-init-stamp": {
        "restart": "on-failure", "image": images.BUSYBOX_IMAGE.reference,
        "entrypoint": ["sh", "-c"], "command": ["echo stamped-by-$${HOSTNAME} > /data/stamp"],
        "volumes": ["./data/site-data:/data"],
    },
    "site": {
        "restart": "always", "image": images.HTTPD_IMAGE.reference,
        "environment": {"GREETING": "pa$word"},
        "volumes": ["./configmaps/site:/www:ro", "./data/site-data:/data"],
        "depends_on": {"site-init-stamp": {"condition": "service_completed_successfully"}},
        "container_name": "shop-site",
        "networks": {"default": {"aliases": ["frontend", "frontend.shop.svc.cluster.local",
                                             "frontend.shop.svc", "frontend.shop"]}},
    },
    "site-sidecar-probe": {
        "restart": "always", "image": images.BUSYBOX_IMAGE.reference, "command": SLEEP,
        "network_mode": "container:shop-site", "depends_on": ["site"],
    },
    "client": {
        "restart": "always", "image": images.BUSYBOX_IMAGE.reference, "command": SLEEP,
        "networks": {"default": {"aliases": ["client.shop.svc.cluster.local"]}},
    },
}
CONFIG = {"name": "shop", "volume_root": "./data", "volumes": {}}


def test_dekube_project_runs(fresh_host, tmp_path):
    extensions = tmp_path / "extensions"
    installed = subprocess.run([sys.executable, "-m", "dekube_nspawn.dekube", "install-extension",
                                str(extensions)], capture_output=True, text=True, cwd=dk.REPO)
    assert installed.returncode == 0, installed.stderr
    try:
        [transform] = dk.load_transforms(extensions)
    finally:
        dk.forget_extension_modules()
    out = tmp_path / "shop"                      # dekube's --output-dir
    (out / "configmaps" / "site").mkdir(parents=True)
    (out / "configmaps" / "site" / "index.html").write_text(SITE_HTML)
    services = dk.frozen(SERVICES)
    ctx = dk.DekubeContext(dk.frozen(CONFIG), str(out))
    transform.transform(services, [], ctx)
    assert ctx.warnings == []
    assert services == SERVICES

    fresh_host.copy_in(out, str(out))
    dep = Deployment(fresh_host, "shop", out, out / "nspawn")
    dep.up()
    dep.host.wait_active(dep.units("site", "site-sidecar-probe", "client", "site-init-stamp"),
                         timeout=90)

    # Kubernetes names, the service name and container_name all reach the workload
    for name in ("frontend.shop.svc.cluster.local", "frontend", "site", "shop-site"):
        assert dep.exec("client", [*WGET, f"http://{name}/"]).stdout == SITE_HTML, name
    # the sidecar shares the workload's network namespace: its localhost is the workload's
    assert dep.exec("site-sidecar-probe", [*WGET, "http://127.0.0.1/"]).stdout == SITE_HTML
    # the init container ran to completion first, in the same data directory, and its
    # dekube-escaped `$${HOSTNAME}` reached the shell as `${HOSTNAME}`
    assert dep.exec("site", ["/bin/cat", "/data/stamp"]).stdout == "stamped-by-site-init-stamp\n"
    # `./data/site-data` is dekube's output directory's data/, on the host
    assert dep.host.read_file(str(out / "data" / "site-data" / "stamp")) == b"stamped-by-site-init-stamp\n"
    init_done = dep.host.unit_timestamp(dep.unit("site-init-stamp"), "ActiveEnterTimestamp")
    assert init_done <= dep.host.unit_timestamp(dep.unit("site"), "InactiveExitTimestamp")
    # dekube's raw environment value arrives literal
    environ = dep.exec("site", ["/bin/cat", "/proc/1/environ"]).stdout.split("\0")
    assert "GREETING=pa$word" in environ
