"""Fixtures of the end-to-end suite: a booted systemd test host with a local registry.

- `host_rootfs` (session): the Debian rootfs, cached unpacked beside its tarball; read-only.
- `systemd_host` (session): one booted host shared by tests that only read or clean up after
  themselves.
- `fresh_host` (function): a host of its own for a test that installs a project; it boots in
  about a second because every host is a tmpfs overlay over the same read-only rootfs.
Both hosts run the test registry (docker.io redirected to it) with every image of `images.py`.
"""
from __future__ import annotations

import os
import pathlib
import signal
import sys
import tempfile

import pytest

# The harness modules import each other by plain name (also from benchmarks/bench_runtime.py).
sys.path.insert(0, str(pathlib.Path(__file__).parent))

import hostimage  # noqa: E402
import images  # noqa: E402
from hosts import booted_host, remove_tree  # noqa: E402

REQUIRED_TOOLS = ("systemd-nspawn", "debootstrap", "nsenter", "umoci", "skopeo", "tar")


def _require_root_and_tools() -> None:
    from conftest import require_tools  # tests/conftest.py (this one is e2e.conftest)
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests boot systemd-nspawn machines and need root")
    require_tools(*REQUIRED_TOOLS)
    if not images.BUSYBOX.exists():
        pytest.skip(f"{images.BUSYBOX} (busybox-static) is missing")


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def session_dir():
    """Scratch space of the whole e2e session on a disk filesystem (not /tmp).

    While it exists, SIGTERM (a CI timeout, `timeout`, kill) interrupts pytest like Ctrl-C, so
    fixtures still power their hosts off: a SIGTERM'd pytest would orphan a running host."""
    _require_root_and_tools()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    path = pathlib.Path(tempfile.mkdtemp(prefix="dekube-e2e-", dir="/var/tmp"))
    try:
        yield path
        remove_tree(path)
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def host_rootfs():
    _require_root_and_tools()
    return hostimage.ensure_host_rootfs()


@pytest.fixture(scope="session")
def image_layout():
    _require_root_and_tools()
    return images.ensure_image_layout()


@pytest.fixture(scope="session")
def systemd_host(host_rootfs, image_layout, session_dir):
    with booted_host(host_rootfs, image_layout, session_dir) as host:
        yield host


@pytest.fixture
def fresh_host(host_rootfs, image_layout, session_dir):
    with booted_host(host_rootfs, image_layout, session_dir) as host:
        yield host
