"""A booted test host with the registry running, and the removal of its scratch state."""
from __future__ import annotations

import contextlib
import itertools
import os
import pathlib
import subprocess

import deploy
import registry
from machine import BootedHost

# The host's root is an overlayfs, which the kernel refuses as the upper layer of another
# overlay; machine roots are overlays under this directory, so it comes from a real disk.
STATE_DIR_IN_HOST = "/var/lib/dekube-nspawn"

_host_numbers = itertools.count(1)


@contextlib.contextmanager
def booted_host(rootfs: pathlib.Path, layout: pathlib.Path, scratch: pathlib.Path):
    """Boot `rootfs` (volatile), start the registry with the images of `layout`, yield the host,
    power it off; `scratch` receives its console log and its /var/lib/dekube-nspawn."""
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
        host.shutdown()   # raises (and keeps `state`) when the host does not stop
        remove_tree(state)


def remove_tree(path: pathlib.Path) -> None:
    """Refuse to delete through a mount point: something still mounted there is a leak to report."""
    mounts = [line.split()[4] for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines()]
    leaked = [m for m in mounts if m == str(path) or m.startswith(str(path) + "/")]
    if leaked:
        raise RuntimeError(f"mounts left under {path}: {leaked}")
    # --one-file-system: never follow into anything mounted after the check above.
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)
