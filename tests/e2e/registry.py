"""A private registry inside the test host that stands in for Docker Hub.

`docker-registry` listens on the host's 127.0.0.1:5000 and a registries.conf.d entry redirects
`docker.io` there, so the unmodified `skopeo copy docker://busybox:1.36 ...` of a generated
bootstrap script pulls our umoci-built images without any network.
"""
from __future__ import annotations

import json
import pathlib
import time

from images import ALL_IMAGES
from machine import BootedHost

ADDRESS = "127.0.0.1:5000"
LAYOUT_IN_HOST = "/var/lib/dekube-test/images"

REGISTRY_CONFIG = f"""version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/dekube-test/registry
http:
  addr: {ADDRESS}
"""

REGISTRY_UNIT = """[Unit]
Description=Test registry standing in for docker.io
[Service]
ExecStart=/usr/bin/docker-registry serve /etc/dekube-test/registry.yml
"""

REDIRECT = f"""# Test host only: docker.io is served by the local test registry.
[[registry]]
prefix = "docker.io"
location = "{ADDRESS}"
insecure = true
"""

ACCEPT_ANYTHING = {"default": [{"type": "insecureAcceptAnything"}]}


def start_registry(host: BootedHost, layout: pathlib.Path, timeout: float = 30) -> None:
    host.write_file("/etc/dekube-test/registry.yml", REGISTRY_CONFIG)
    host.write_file("/etc/systemd/system/dekube-test-registry.service", REGISTRY_UNIT)
    host.write_file("/etc/containers/registries.conf.d/50-dekube-test.conf", REDIRECT)
    if host.run(["test", "-e", "/etc/containers/policy.json"], check=False).returncode != 0:
        host.write_file("/etc/containers/policy.json", json.dumps(ACCEPT_ANYTHING))
    host.run("systemctl daemon-reload && systemctl start dekube-test-registry.service")
    _wait_listening(host, timeout)
    host.copy_in(layout, LAYOUT_IN_HOST)
    for image in ALL_IMAGES:
        host.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                  f"oci:{LAYOUT_IN_HOST}:{image.layout_tag}", f"docker://{ADDRESS}/{image.registry_path}"],
                 timeout=120)


def _wait_listening(host: BootedHost, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if host.run(["busybox", "wget", "-q", "-O", "/dev/null", f"http://{ADDRESS}/v2/"], check=False).returncode == 0:
            return
        time.sleep(0.1)
    raise AssertionError("test registry did not answer:\n" + host.journal("dekube-test-registry.service"))
