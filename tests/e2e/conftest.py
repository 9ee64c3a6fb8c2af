"""Fixtures of the end-to-end suite: a booted systemd test host with a local registry.

- `host_rootfs` (session): the Debian rootfs, cached unpacked beside its tarball; read-only.
- `systemd_host` (session): one booted host shared by tests that only read or clean up after
  themselves.
- `fresh_host` (function): a host of its own for a test that installs a project; it boots in
  about a second because every host is a tmpfs overlay over the same read-only rootfs.
Both hosts run the test registry (docker.io redirected to it) with every image of `images.py`.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import hostimage  # noqa: E402
import images  # noqa: E402
import deploy  # noqa: E402
import registry  # noqa: E402
from machine import BootedHost  # noqa: E402

REQUIRED_TOOLS = ("systemd-nspawn", "debootstrap", "nsenter", "umoci", "skopeo", "tar")

_host_numbers = itertools.count(1)


def _require_root_and_tools() -> None:
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests boot systemd-nspawn machines and need root")
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if missing:  # same rule as tests/conftest.py require_tools (not importable: both are "conftest")
        pytest.skip(f"missing tools: {', '.join(missing)}")
    if not images.BUSYBOX.exists():
        pytest.skip(f"{images.BUSYBOX} (busybox-static) is missing")


@pytest.fixture(scope="session")
def session_dir():
    """Scratch space of the whole e2e session on a disk filesystem (not /tmp)."""
    _require_root_and_tools()
    path = pathlib.Path(tempfile.mkdtemp(prefix="dekube-e2e-", dir="/var/tmp"))
    yield path
    _remove_tree(path)


@pytest.fixture(scope="session")
def host_rootfs():
    _require_root_and_tools()
    return hostimage.ensure_host_rootfs()


@pytest.fixture(scope="session")
def image_layout():
    _require_root_and_tools()
    return images.ensure_image_layout()


# The host's root is an overlayfs, which the kernel refuses as the upper layer of another
# overlay; machine roots are overlays under this directory, so it comes from a real disk.
STATE_DIR_IN_HOST = "/var/lib/dekube-nspawn"


@contextlib.contextmanager
def booted_host(rootfs: pathlib.Path, layout: pathlib.Path, scratch: pathlib.Path):
    number = next(_host_numbers)
    state = scratch / f"host-{number}-state"
    state.mkdir()
    host = BootedHost(rootfs, f"dk-e2e-{os.getpid()}-{number}", scratch / f"host-{number}.console",
                      binds={STATE_DIR_IN_HOST: str(state)}, read_only_binds=deploy.CONVERTER_PATHS)
    try:
        host.boot()
        registry.start_registry(host, layout)
        yield host
    finally:
        host.shutdown()
        _remove_tree(state)


@pytest.fixture(scope="session")
def systemd_host(host_rootfs, image_layout, session_dir):
    with booted_host(host_rootfs, image_layout, session_dir) as host:
        yield host


@pytest.fixture
def fresh_host(host_rootfs, image_layout, session_dir):
    with booted_host(host_rootfs, image_layout, session_dir) as host:
        yield host


def _remove_tree(path: pathlib.Path) -> None:
    """Refuse to delete through a mount point: something still mounted there is a leak to report."""
    mounts = [line.split()[4] for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines()]
    leaked = [m for m in mounts if m == str(path) or m.startswith(str(path) + "/")]
    if leaked:
        raise RuntimeError(f"mounts left under {path}: {leaked}")
    # --one-file-system: never follow into anything mounted after the check above.
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)
